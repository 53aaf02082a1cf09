"""Cycle and resource estimates of a converted model, layer by layer (docs/estimates.md explains them).

Cycles follow the schedule the generated C++ has (docs/mmac_core.md for the mMAC): C simulation counts the
same figure per sample for the kit's layers (``counted_cycles``), and the tests hold the two together.

- ``data_terms``, ``switchable_scale_shift``: 1 cycle.
- ``mmac_dense`` at resolution r: ``rounds * K_r * a_r + 3`` (term-pair unit) or ``rounds * K_r + 3``
  (weight-term unit), K_r = min(k_r, the most terms any group holds at or above the exponent floor);
  ``mmac_conv2d``: that per output pixel.
- io_stream (``streaming``): pack-by-pack layers ``packs + 1``; the convolution adds its line buffer's walk
  (its interval is the larger of the walk and the pixels); the mMAC Dense cuts its input words into term
  groups and accumulates group by group (two overlapping processes, like the convolution); the row-wise
  layers add one cycle per input and output stream word.
- Row-wise layers: ``pixels * (reuse_factor + ceil(log2(fan_in)) + 1)``.
- hls4ml's own layers (Latency strategy): a Dense ``reuse + 2``, a Conv ``pixels * reuse + 2``, a batch
  norm ``reuse + 1``, an activation or pooling layer 1.
- A sample's latency is at most the sum over the layers; the interval between samples (DATAFLOW) is the
  slowest layer's interval.

Resources: the mMAC and data-term layers from unit costs measured with Yosys on their Verilog twin
(``rtl_costs``); hls4ml's multipliers (``multiplier_limit`` of them) a DSP48E1 when both operands are wider
than ``DSP_MIN_WIDTH`` bits, else a constant product in LUTs as measured with Yosys; a folded switchable BN
one DSP48E1 per value (io_stream: per channel); io_stream FIFOs and line buffers from their sizes;
row-wise layers from their nonzero weights.

The per-layer formulas live with their family (``data_terms``, ``scale_shift``, ``mmac``, ``rowwise``,
``hls4ml_layers``); this module sums them over a model.
"""

from mrfpga.hls.layers import hls4ml_layers
from mrfpga.hls.layers.registry import FAMILY_OF, LAYERS
from mrfpga.hls.layers.streaming import fifo_resources, is_stream, pack_size
from mrfpga.hls.project.boards import RESOURCE_KEYS

# io_stream layers that read their whole input tensor, run the io_parallel core and write the whole output
# (the others, the mMAC Dense among them, work stream word by stream word, and their families count their own
# stream cycles).
WHOLE_TENSOR_LAYERS = ("RowwiseDense", "RowwiseConv2D")


def layer_cycles(node, resolution):
    """A kit layer's cycles from its family's cost model (plus its stream words in io_stream for the layers
    that read whole tensors), or an hls4ml layer's."""
    family = FAMILY_OF.get(node.class_name)
    if family is None:
        return hls4ml_layers.cycles(node)
    return family.cycles(node, resolution) + (_stream_packs(node) if node.class_name in WHOLE_TENSOR_LAYERS else 0)


def layer_interval(node, resolution):
    """Cycles between two frames entering the layer: its cycles, unless its own processes overlap (the
    streaming convolution)."""
    family = FAMILY_OF.get(node.class_name)
    if family is None or not hasattr(family, "interval"):
        return layer_cycles(node, resolution)
    return family.interval(node, resolution) + (_stream_packs(node) if node.class_name in WHOLE_TENSOR_LAYERS else 0)


def counted_cycles(hls_model, resolution):
    """The cycles C simulation counts: the kit's layers only (hls4ml's own layers do not count theirs)."""
    return sum(layer_cycles(node, resolution) for node in hls_model.get_layers() if node.class_name in LAYERS)


def _stream_packs(node):
    if not is_stream(node):
        return 0
    return sum(var.size() // pack_size(var) for var in (node.get_input_variable(), node.get_output_variable()))


def layer_resources(node):
    res = dict.fromkeys(RESOURCE_KEYS, 0)
    res.update(FAMILY_OF.get(node.class_name, hls4ml_layers).resources(node))
    return res


def design_resources(hls_model, skip=()):
    """The estimated resources of every layer but those named in ``skip``, and of the FIFOs between the layers
    (io_stream)."""
    total = dict.fromkeys(RESOURCE_KEYS, 0)
    for node in hls_model.get_layers():
        if node.name not in skip:
            for key, value in layer_resources(node).items():
                total[key] += value
    for key, value in fifo_resources(hls_model).items():
        total[key] += value
    return total


def estimate(hls_model, n_resolutions, board):
    """``cycles`` per resolution: the sum over the layers (a frame's latency when no layer overlaps another);
    ``interval`` per resolution: the slowest layer's interval (in DATAFLOW, io_stream, a new frame enters
    every that many cycles); ``layers``: each layer's cycles and interval per resolution."""
    layers = list(hls_model.get_layers())
    per_layer = {
        n.name: {
            "class": n.class_name,
            "cycles": [layer_cycles(n, r) for r in range(n_resolutions)],
            "interval": [layer_interval(n, r) for r in range(n_resolutions)],
        }
        for n in layers
        if n.name not in hls_model.inputs
    }
    cycles = [sum(layer["cycles"][r] for layer in per_layer.values()) for r in range(n_resolutions)]
    interval = [max((layer["interval"][r] for layer in per_layer.values()), default=0) for r in range(n_resolutions)]
    total = design_resources(hls_model)
    utilization = {k: total[k] / board.resources[k] for k in total}
    warnings = [
        f"estimated {k} {total[k]} exceeds the {board.name} total {board.resources[k]}"
        for k in total
        if total[k] > board.resources[k]
    ]
    return {
        "cycles": cycles,
        "interval": interval,
        "layers": per_layer,
        "resources": total,
        "utilization": utilization,
        "warnings": warnings,
    }
