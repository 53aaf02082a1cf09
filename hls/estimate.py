"""Cycle and resource estimates derived from the generated design's loop structure.

Formulas (docs/estimates.md explains them):

- ``data_terms``: fully unrolled and pipelined: 1 cycle.
- ``mmac_dense`` at resolution r (a data terms, k weight terms per group):
  ``reuse_factor`` rounds; in each, ``n_units = ceil(n_out * n_groups / reuse)``
  term-serial units each walk one group's term pairs at II=1, at most
  ``min(k, T) * a`` of them, where T is the most terms any group of the
  layer holds at or above the resolution's exponent floor (the loops stop at
  a group's last term, or its first below the floor: onion precisions), then
  an adder tree over the groups and the bias:
  ``cycles = 1 + reuse_factor * min(k, T) * a + ceil(log2(n_groups + 1))``.
- ``mmac_conv2d``: ``out_height * out_width`` output pixels one after another,
  each an ``mmac_dense`` over its patch: ``pixels * cycles(mmac_dense)``.
- io_stream adds, per kit layer, one cycle per input and output stream pack
  (the layers read their whole input, then write their whole output).
- Per inference: the sum over layers (hls4ml's io_parallel top function runs
  them one after another).
- hls4ml's own layers (the fixed-point baseline, or fixed kernels in a kit
  model), a simple model of the Latency strategy: ``ceil(n / reuse) - zeros //
  reuse`` multipliers per Dense/Conv (hls4ml's ``multiplier_limit``), each a
  DSP48E1 when both operands are wider than ``DSP_MIN_WIDTH`` bits, else a LUT
  multiply-accumulate at SPEC section 5's bit-parallel MAC figure (127 LUT /
  98 FF); a Dense takes ``reuse + 2`` cycles, a Conv2D ``pixels * reuse + 2``
  (its partitions one after another), a batch norm one multiplier per value
  and ``reuse + 1`` cycles, an activation or pooling layer 1 cycle and one
  LUT per output bit.
- Resources: a term-serial MAC unit takes ``TERM_MAC_LUT`` LUTs and
  ``TERM_MAC_FF`` flip-flops (SPEC section 5: 30 LUTs / 32 FFs); adders take
  one LUT per bit; term tables live in LUT ROM (64 bits a LUT) when
  ``reuse_factor`` is 1, else in BRAM18 (18 Kib, dual-ported, one port per
  unit). No multiplier in the mMAC: 0 DSP48E1. A folded switchable BN
  multiplies every value by its scale: one DSP48E1 per value.
- Row-wise layers (``rowwise_dense``/``rowwise_conv2d``, SPEC section 4),
  pipelined at II = ``reuse_factor``: ``cycles = pixels * (reuse_factor +
  ceil(log2(fan_in)) + 1)`` (products, the adder tree over the fan-in, the
  row shift and the bias; pixels = 1 for Dense), + io_stream packs. Weights
  are constants, so only nonzero ones cost: a PoT weight is a shift (wiring)
  and one adder in LUTs, a Fixed-W4/W8 weight one DSP48E1 multiplier
  (``ceil(nonzero fixed weights / reuse_factor)`` DSP48E1); adders take one
  LUT per accumulator bit of their core, plus one bias adder (LUTs) and one
  output register (FFs) per row and output bit; at ``reuse_factor`` > 1 the
  three weight tables are read from LUT ROM (64 bits a LUT).
"""

import math

from .registry import LAYERS
from .rowwise_estimate import ROWWISE_LAYERS, rowwise_cycles, rowwise_resources

MMAC_FIXED_CYCLES = 3  # nnet::mmac_fixed_cycles: load, the last accumulation, the output sum
TERM_MAC_LUT = 30
TERM_MAC_FF = 32
LUTROM_BITS = 64
BRAM18_BITS = 18 * 1024
# hls4ml's own layers.
DSP_MIN_WIDTH = 10
MAC_LUT = 127
MAC_FF = 98
PIPELINE_EXTRA = 2
MULTIPLYING = ("Dense", "Conv1D", "Conv2D", "DepthwiseConv2D", "BatchNormalization")
ELEMENTWISE = ("Activation", "ReLU", "LeakyReLU", "HardActivation", "ParametrizedActivation", "Pooling1D", "Pooling2D")


def _log2_ceil(n):
    return math.ceil(math.log2(n)) if n > 1 else 0


def layer_cycles(node, resolution):
    kind = node.class_name
    if kind in ("DataTerm", "SignedDataTerm", "SwitchableScaleShift"):
        return 1 + _stream_packs(node)
    if kind in ("MMACDense", "MMACConv2D"):
        return (mmac_steps(node, resolution) + MMAC_FIXED_CYCLES) * _pixels(node) + _stream_packs(node)
    if kind in ROWWISE_LAYERS:
        return rowwise_cycles(node) + _stream_packs(node)
    return hls4ml_layer_cycles(node)


def mmac_steps(node, resolution):
    """Lock-step iterations of one mmac_dense call (docs/mmac_core.md): rounds * K * a, or rounds * K for the
    weight-term unit. A layer with fewer resolutions than the model (one PoT kernel) uses its last for the
    others, as its C++ budget tables do."""
    slots = node.get_attr("group_terms")
    r = min(resolution, len(slots) - 1)
    a = node.get_attr("data_budgets")[r] if node.get_attr("unit") == "term_pair" else 1
    return node.get_attr("rounds") * slots[r] * a


def counted_cycles(hls_model, resolution):
    """The cycles C simulation counts: the kit's layers only (hls4ml's own layers do not count theirs)."""
    return sum(layer_cycles(node, resolution) for node in hls_model.get_layers() if node.class_name in LAYERS)


def multipliers(node):
    """(multipliers, (weight bits, input bits)) of one of hls4ml's multiplying layers."""
    kind, reuse = node.class_name, node.get_attr("reuse_factor", 1)
    name = "scale" if kind == "BatchNormalization" else "weight" if "weight" in node.weights else "depthwise"
    weights = node.get_weights(name)
    n = node.get_attr("n_in") if kind == "BatchNormalization" else weights.data_length  # BN: one per value
    count = -(-n // reuse) - weights.nzeros // reuse  # hls4ml's multiplier_limit
    return count, (weights.type.precision.width, node.get_input_variable().type.precision.width)


def hls4ml_layer_cycles(node):
    kind, reuse = node.class_name, node.get_attr("reuse_factor", 1)
    if kind == "Dense":
        return reuse + PIPELINE_EXTRA
    if kind in ("Conv1D", "Conv2D", "DepthwiseConv2D"):
        pixels = node.get_output_variable().size() // node.get_output_variable().shape[-1]
        return pixels * reuse + PIPELINE_EXTRA
    if kind == "BatchNormalization":
        return reuse + 1
    return 1 if kind in ELEMENTWISE else 0


def _stream_packs(node):
    if node.model.config.get_config_value("IOType") != "io_stream":
        return 0
    return sum(var.size() // _pack_size(var) for var in (node.get_input_variable(), node.get_output_variable()))


def _pack_size(var):
    """Values per stream word: hls4ml packs the last dimension of the tensor that fills the stream (through a
    reshape, the one before it)."""
    kind = var.type
    if not hasattr(kind, "n_elem"):
        return var.shape[-1]
    return kind.n_elem // kind.n_pack if kind.unpack else kind.n_elem * kind.n_pack


def _pixels(node):
    return node.get_attr("out_height") * node.get_attr("out_width") if node.class_name == "MMACConv2D" else 1


def layer_resources(node):
    kind = node.class_name
    res = {"LUT": 0, "FF": 0, "BRAM_18K": 0, "DSP48E1": 0}
    if kind in ("DataTerm", "SignedDataTerm"):
        width = node.get_attr("bits") + (2 if kind == "SignedDataTerm" else 1)
        res["LUT"] = node.get_attr("n_in") * width * 2
        res["FF"] = node.get_attr("n_in") * width
    elif kind == "SwitchableScaleShift":
        # One multiplier per value (operands of 16 bits and more: a DSP48E1 each), then an adder.
        res["DSP48E1"] = node.get_attr("n_in")
        res["LUT"] = node.get_attr("n_in") * node.get_attr("acc_width")
        res["FF"] = node.get_attr("n_in") * node.get_attr("acc_width")
    elif kind in ("MMACDense", "MMACConv2D"):
        res.update(mmac_resources(node))
    elif kind in ROWWISE_LAYERS:
        res.update(rowwise_resources(node))
    elif kind in MULTIPLYING:
        count, operands = multipliers(node)
        if min(operands) > DSP_MIN_WIDTH:
            res["DSP48E1"] = count
        else:
            res["LUT"], res["FF"] = count * MAC_LUT, count * MAC_FF
    elif kind in ELEMENTWISE:
        out = node.get_output_variable()
        res["LUT"] = out.size() * out.type.precision.width
    return res


def mmac_resources(node):
    """Lock-step units, each with its own term ROM (LUT ROM: every unit reads its own entry each cycle), the
    partial sums of every group, the output adders and registers, and the data-term extraction."""
    n_out, n_groups, units = node.get_attr("n_out"), node.get_attr("n_groups"), node.get_attr("n_units")
    acc = node.get_attr("acc_width")
    terms = node.get_weights("terms")
    rom_luts_per_unit = -(-terms.data_length // units * terms.type.precision.width // LUTROM_BITS)
    lut = units * (TERM_MAC_LUT + rom_luts_per_unit) + n_out * n_groups * acc
    if node.get_attr("unit") == "term_pair":
        lut += node.get_attr("patch_size") * node.get_attr("data_bits")
    ff = units * TERM_MAC_FF + n_out * n_groups * acc + n_out * acc
    return {"LUT": lut, "FF": ff, "BRAM_18K": 0, "DSP48E1": 0}


def estimate(hls_model, n_resolutions, board):
    layers = list(hls_model.get_layers())
    cycles = [sum(layer_cycles(n, r) for n in layers) for r in range(n_resolutions)]
    total = {"LUT": 0, "FF": 0, "BRAM_18K": 0, "DSP48E1": 0}
    for node in layers:
        for key, value in layer_resources(node).items():
            total[key] += value
    utilization = {k: total[k] / board.resources[k] for k in total}
    warnings = [
        f"estimated {k} {total[k]} exceeds the {board.name} total {board.resources[k]}"
        for k in total
        if total[k] > board.resources[k]
    ]
    return {"cycles": cycles, "resources": total, "utilization": utilization, "warnings": warnings}
