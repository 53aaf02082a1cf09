"""io_stream: what the streaming C++ (templates/nnet_*_stream.h, docs/mmac_core.md) spends, and the FIFOs between
layers.

- Pack-by-pack layers (data terms, switchable BN): a loop pipelined at II = 1 over the input's stream words,
  ``packs + 1`` cycles (its one registered stage); their logic is one pack wide.
- The convolution: two DATAFLOW processes, ``conv_windows`` (one cycle per padded input position, + 1) and
  ``conv_pixels`` (``mmac_dense`` per output pixel). C simulation counts both (the sum); they overlap, so
  the layer's interval is the larger of the two.
- FIFOs between the layers of a chain hold one image row of stream words (``fifo_depth``), not hls4ml's
  whole frame.
"""

import math

PACK_LOOP_FILL_CYCLES = 1  # nnet::pack_loop_fill_cycles
WINDOW_FIFO_DEPTH = 2  # conv2d_stream_geometry::window_fifo_depth
MIN_FIFO_DEPTH = 2
# A FIFO or line-buffer row as LUT RAM / shift registers below this many bits, else block RAM (BRAM_18K).
BRAM_MIN_BITS = 1024
BRAM_WIDTH_BITS = 36  # an 18 Kib block RAM as 512 x 36
BRAM_DEPTH = 512
SRL_DEPTH = 32  # one SRLC32E (one LUT) holds 32 entries of one bit


def is_stream(node):
    return node.model.config.get_config_value("IOType") == "io_stream"


def pack_size(var):
    """Values per stream word: hls4ml packs the last dimension of the tensor that fills the stream (through a
    reshape, the one before it)."""
    kind = var.type
    if not hasattr(kind, "n_elem"):
        return var.shape[-1]
    return kind.n_elem // kind.n_pack if kind.unpack else kind.n_elem * kind.n_pack


def packs(var):
    return var.size() // pack_size(var)


def pack_loop_cycles(node, stages=PACK_LOOP_FILL_CYCLES):
    """Cycles of a layer that works pack by pack: one input word per cycle, plus the pipeline's stages."""
    return packs(node.get_input_variable()) + stages


def conv_geometry(node):
    """(padded_height, padded_width) the streaming convolution walks: conv2d_stream_geometry."""
    g = {
        key: node.get_attr(key)
        for key in (
            "in_height", "in_width", "out_height", "out_width", "filt_height", "filt_width",
            "stride_height", "stride_width", "pad_top", "pad_left",
        )
    }  # fmt: skip
    height = max(g["pad_top"] + g["in_height"], (g["out_height"] - 1) * g["stride_height"] + g["filt_height"])
    width = max(g["pad_left"] + g["in_width"], (g["out_width"] - 1) * g["stride_width"] + g["filt_width"])
    return height, width


# The aspect ratios of an 18 Kib block RAM (depth, width): a ROM takes the one that needs the fewest blocks.
BRAM_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


def bram_blocks(words, word_bits):
    """BRAM_18K blocks of a ROM of ``words`` x ``word_bits``, in its best aspect ratio."""
    return min(math.ceil(word_bits / width) * math.ceil(words / depth) for depth, width in BRAM_SHAPES)


def memory_resources(words, word_bits, shift_register=False):
    """A RAM of ``words`` x ``word_bits``: block RAM from BRAM_MIN_BITS on, else LUT RAM; a FIFO of at most
    SRL_DEPTH words: shift registers (one LUT per bit per 32 entries), else block RAM."""
    if shift_register and words <= SRL_DEPTH:
        return {"LUT": word_bits}
    if words * word_bits >= BRAM_MIN_BITS or shift_register:
        per_width = math.ceil(word_bits / BRAM_WIDTH_BITS)
        return {"BRAM_18K": per_width * math.ceil(words / BRAM_DEPTH)}
    return {"LUT": math.ceil(words / 64) * word_bits * 2}  # RAM64X1D: one read and one write port


def line_buffer_resources(node):
    """The convolution's line buffers (filt_height - 1 RAMs of padded_width words of n_chan values) and its
    window registers."""
    _, width = conv_geometry(node)
    bits = node.get_input_variable().type.precision.width
    word = node.get_attr("n_chan") * bits
    rows = max(node.get_attr("filt_height") - 1, 0)
    res = {"LUT": 0, "FF": 0, "BRAM_18K": 0}
    for _ in range(rows):
        for key, value in memory_resources(width, word).items():
            res[key] += value
    patch = node.get_attr("filt_height") * node.get_attr("filt_width") * node.get_attr("n_chan")
    res["FF"] += patch * bits * (1 + WINDOW_FIFO_DEPTH)  # the window and the windows FIFO's registers
    return res


def fifo_depth(var, default):
    """One image row of stream words (a producer can run a row ahead of a line-buffered consumer), at least
    MIN_FIFO_DEPTH, at most hls4ml's default (the whole tensor); vectors keep hls4ml's depth."""
    if len(var.shape) < 3:
        return default
    return min(default, max(MIN_FIFO_DEPTH, var.shape[-2]))


def is_chain(hls_model, side_inputs=()):
    """Every layer reads at most one tensor (besides ``side_inputs``) and every tensor has one reader: then
    small FIFOs cannot deadlock (a fork that joins again would need the delay of its longer branch)."""
    readers = {}
    inputs = set(hls_model.inputs)
    for node in hls_model.get_layers():
        if node.name in inputs:
            continue
        data_inputs = [name for name in node.inputs if name not in side_inputs]
        if len(data_inputs) > 1:
            return False
        for name in data_inputs:
            readers[name] = readers.get(name, 0) + 1
    return all(count <= 1 for count in readers.values())


def size_fifos(hls_model, side_inputs=()):
    """Set each inter-layer FIFO of an io_stream chain to ``fifo_depth``; other graphs keep hls4ml's depths
    (the whole tensor). Returns {variable name: depth} of the FIFOs set."""
    if hls_model.config.get_config_value("IOType") != "io_stream" or not is_chain(hls_model, side_inputs):
        return {}
    inputs = set(hls_model.inputs)
    depths = {}
    for node in hls_model.get_layers():
        if node.name in inputs:
            continue
        for var in node.variables.values():
            pragma = getattr(var, "pragma", None)
            if isinstance(pragma, tuple) and pragma[0] == "stream":
                var.pragma = ("stream", fifo_depth(var, pragma[1]))
                depths[var.name] = var.pragma[1]
    return depths


def fifo_resources(hls_model):
    """The inter-layer FIFOs, from their depths and word widths (shift registers or block RAM)."""
    res = {"LUT": 0, "BRAM_18K": 0}
    outputs, inputs = set(hls_model.outputs), set(hls_model.inputs)
    for node in hls_model.get_layers():
        if node.name in inputs:
            continue
        for name, var in node.variables.items():
            pragma = getattr(var, "pragma", None)
            if name in outputs or not (isinstance(pragma, tuple) and pragma[0] == "stream"):
                continue
            word = pack_size(var) * var.type.precision.width
            for key, value in memory_resources(pragma[1], word, shift_register=True).items():
                res[key] += value
    return res
