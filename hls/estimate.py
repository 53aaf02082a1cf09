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
one DSP48E1 per value; row-wise layers from their nonzero weights.

The per-layer formulas live with their family (``data_terms``, ``scale_shift``, ``mmac``, ``rowwise``,
``hls4ml_layers``); this module sums them over a model.
"""

from . import hls4ml_layers
from .registry import FAMILY_OF, LAYERS


def layer_cycles(node, resolution):
    """A kit layer's cycles from its family's cost model (plus its stream words in io_stream), or an hls4ml
    layer's."""
    family = FAMILY_OF.get(node.class_name)
    if family is None:
        return hls4ml_layers.cycles(node)
    return family.cycles(node, resolution) + _stream_packs(node)


def counted_cycles(hls_model, resolution):
    """The cycles C simulation counts: the kit's layers only (hls4ml's own layers do not count theirs)."""
    return sum(layer_cycles(node, resolution) for node in hls_model.get_layers() if node.class_name in LAYERS)


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


def layer_resources(node):
    res = {"LUT": 0, "FF": 0, "BRAM_18K": 0, "DSP48E1": 0}
    res.update(FAMILY_OF.get(node.class_name, hls4ml_layers).resources(node))
    return res


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
