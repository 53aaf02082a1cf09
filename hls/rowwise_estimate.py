"""Cycle and resource estimates of the row-wise layers (formulas in ``estimate.py`` and docs/estimates.md).

Weights are constants: at ``reuse_factor`` 1 they fold into the logic
(a PoT shift is wiring, a zero weight disappears), so only nonzero weights
cost anything.
"""

import math

ROWWISE_LAYERS = ("RowwiseDense", "RowwiseConv2D")
LUTROM_BITS = 64
FIXED_CORES = ("fixed4", "fixed8")


def _pixels(node):
    return node.get_attr("out_height") * node.get_attr("out_width") if node.class_name == "RowwiseConv2D" else 1


def rowwise_cycles(node):
    """``pixels * (reuse_factor + ceil(log2(fan-in)) + 1)``: products, adder tree, shift and bias."""
    fan_in = node.get_attr("patch_size")
    tree = math.ceil(math.log2(fan_in)) if fan_in > 1 else 0
    return _pixels(node) * (node.get_attr("reuse_factor") + tree + 1)


def rowwise_resources(node):
    reuse = node.get_attr("reuse_factor")
    acc, n_out = node.get_attr("acc_width"), node.get_attr("n_out")
    multipliers = sum(node.get_attr(f"{core}_nonzero") for core in FIXED_CORES)
    # One adder per nonzero weight, as wide as its core's accumulator (one LUT a bit), plus the bias adders.
    adder_bits = sum(node.get_attr(f"{c}_nonzero") * node.get_attr(f"{c}_acc_width") for c in ("pot", *FIXED_CORES))
    lut = adder_bits + n_out * acc
    if reuse > 1:  # weights are read, not folded: LUT ROM
        lut += sum(-(-w.data_length * w.type.precision.width // LUTROM_BITS) for w in node.get_weights())
    return {"LUT": lut, "FF": n_out * acc, "BRAM_18K": 0, "DSP48E1": -(-multipliers // reuse)}
