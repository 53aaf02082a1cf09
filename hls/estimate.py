"""Cycle and resource estimates of a converted model, layer by layer (docs/estimates.md explains them).

Cycles follow the schedule the generated C++ has (docs/mmac_core.md for the mMAC): C simulation counts the
same figure per sample for the kit's layers (``counted_cycles``), and the tests hold the two together.

- ``data_terms``, ``switchable_scale_shift``: 1 cycle.
- ``mmac_dense`` at resolution r: ``rounds * K_r * a_r + 3`` (term-pair unit) or ``rounds * K_r + 3``
  (weight-term unit), K_r = min(k_r, the most terms any group holds at or above the exponent floor);
  ``mmac_conv2d``: that per output pixel.
- io_stream adds, per kit layer, one cycle per input and output stream word.
- Row-wise layers: ``pixels * (reuse_factor + ceil(log2(fan_in)) + 1)``.
- hls4ml's own layers (Latency strategy): a Dense ``reuse + 2``, a Conv ``pixels * reuse + 2``, a batch
  norm ``reuse + 1``, an activation or pooling layer 1.
- A sample's latency is the sum over the layers (DATAFLOW: each layer starts when the one before is done).

Resources: the mMAC and data-term layers from unit costs measured with Yosys on their Verilog twin
(``rtl_costs``); hls4ml's multipliers (``multiplier_limit`` of them) a DSP48E1 when both operands are wider
than ``DSP_MIN_WIDTH`` bits, else a constant product in LUTs as measured with Yosys; a folded switchable BN
one DSP48E1 per value; row-wise layers from their nonzero weights (``rowwise_estimate``).
"""

from .registry import LAYERS
from .rowwise_estimate import ROWWISE_LAYERS, rowwise_cycles, rowwise_resources
from .rtl_costs import data_term_resources, mmac_dense_resources

MMAC_FIXED_CYCLES = 3  # nnet::mmac_fixed_cycles: load, the last accumulation, the output sum
# hls4ml's own layers.
DSP_MIN_WIDTH = 10
# hls4ml's multiply-accumulate by a constant (docs/estimates.md, "hls4ml's constant-weight products").
CONSTANT_PRODUCT_LUT_PER_BIT = 7.43
CONSTANT_PRODUCT_LUT_OFFSET = -4.2
CONSTANT_PRODUCT_FF = 1.25  # the output register, shared by the products of a sum
PIPELINE_EXTRA = 2
MULTIPLYING = ("Dense", "Conv1D", "Conv2D", "DepthwiseConv2D", "BatchNormalization")
ELEMENTWISE = ("Activation", "ReLU", "LeakyReLU", "HardActivation", "ParametrizedActivation", "Pooling1D", "Pooling2D")


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
    if kind == "DataTerm":
        res.update(data_term_resources(node.core_spec()))
    elif kind == "SignedDataTerm":
        width = node.get_attr("bits") + 2
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
            res["LUT"] = round(count * constant_product_lut(operands[0]))
            res["FF"] = round(count * CONSTANT_PRODUCT_FF)
    elif kind in ELEMENTWISE:
        out = node.get_output_variable()
        res["LUT"] = out.size() * out.type.precision.width
    return res


def mmac_resources(node):
    """From the layer's core description with the unit costs measured on the Verilog twin (rtl_costs)."""
    return mmac_dense_resources(node.core_spec())


def constant_product_lut(weight_bits):
    """LUT of one hls4ml multiply-accumulate by a constant weight, its share of the adder tree included:
    measured with Yosys at 4, 6 and 8 weight bits (25.5, 38.5, 55.2), fitted affinely."""
    return CONSTANT_PRODUCT_LUT_PER_BIT * weight_bits + CONSTANT_PRODUCT_LUT_OFFSET


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
