"""The plain streaming design: the baseline a streaming multi-resolution design is compared with, in LUT x
interval, in the same twin flow (``stream.py``: the same FIFOs, handshakes, Verilator testbench and Yosys run).

It is hls4ml's io_stream design of the run's architecture in plain QKeras (``scheme: qkeras``, 8-bit weights and
activations), as its Resource strategy builds it:

- the input's and each ReLU's requantization (``quantized_relu``, hls4ml's ``Activation`` with an ``AP_RND_CONV,
  AP_SAT`` result): a word a cycle through two register stages (``StreamRequant``);
- each convolution: the walk over the padded image with line buffers and a window (``stream.stream_conv_verilog``,
  the same as the multi-resolution design's; hls4ml's ZeroPadding2D node before it is that walk's padding), and
  per window the folded Dense of plain.py: ``ceil(products / R)`` lanes, each a b x b multiplier in LUTs with its
  weight ROM and accumulator;
- the switchable BN of one resolution and hls4ml's max pooling: the multi-resolution design's own layers;
- the Dense: hls4ml's ``nnet::dense`` on a stream reads the whole input, computes, then writes its output
  (``PlainStreamDense``). The input is kept in a memory, and every lane multiplies the same input in a step: its
  reuse factors are whole outputs per lane (``R = k * n_in``, ``k`` dividing ``n_out``).

``plain_stream_layers`` reads the layers from hls4ml's conversion of the plain model; ``fold_for_interval`` folds
each layer as slowly as an interval allows (the matched design of a resolution); ``synthesize`` sizes it with
Yosys, the lanes' multipliers in LUTs (at 8 bits HLS builds them in fabric) and the BN's on DSP48E1 as in the
multi-resolution design.
"""

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

from . import dataflow, plain, stream, tools
from .spec import STREAM_REQUANT_STAGES, StreamConvCore, bits_for, stream_conv_cycles
from .tools import (
    hierarchy_cells,
    rounded_resources,
    start_synthesis,
    synthesize_sources,
    with_widemux_fallback,
    yosys_version,
)
from .verilog import ROM_BLOCK_BITS, module_name


@dataclass(frozen=True)
class StreamRequant(plain.PlainQuant):
    """A requantizing stage on a stream: a word a cycle through ``STREAM_REQUANT_STAGES`` register stages."""

    @property
    def stream_module(self):
        return module_name(self)

    def stream_verilog(self, words, res_bits):
        iw, ow, stages = self.in_width, self.width, STREAM_REQUANT_STAGES
        values = "".join(
            f"  mrfpga_plain_requant #(.IW({iw}), .IN_SIGNED({int(self.in_signed)}), .SHIFT({self.shift}), "
            f".OW({ow}), .OUT_SIGNED({int(self.signed)}), .RELU({int(self.relu)})) value_{i} ("
            f".x(x_q[{i * iw} +: {iw}]), .q(q[{i * ow} +: {ow}]));\n"
            for i in range(words)
        )
        return (
            f"""
// {self.name}: {self.n_in} values requantized in words of {words}, {iw}-bit -> {ow}-bit{", ReLU" if self.relu else ""}.
{stream._stream_header(self.stream_module, res_bits, words * iw, words * ow)}  reg [{words * iw - 1}:0] x_q;
  reg [{words * ow - 1}:0] y;
  wire [{words * ow - 1}:0] q;
  reg [{stages - 1}:0] full;  // which stages hold a word
  wire advance = !full[{stages - 1}] || out_ready;
  assign in_ready = advance;
  assign out_data = y;
  always @* out_valid = full[{stages - 1}];
  always @(posedge clk) begin
    if (rst) full <= 0;
    else if (advance) full <= {{full[{stages - 2}:0], in_valid}};
    if (advance) begin x_q <= in_data; y <= q; end
  end
{values}endmodule
""",
            {},
        )


@dataclass(frozen=True)
class PlainStreamDense:
    """hls4ml's io_stream Dense of a plain model: the input's words into a memory, the folded Dense ``core`` over
    them (every lane multiplying the same input, read from the memory in its step), the output word; one after
    the other (``dataflow.Sequential``)."""

    kind: ClassVar[str] = "plain_dense_stream"
    n_resolutions: ClassVar[int] = 1
    core: plain.PlainDense

    name = property(lambda self: self.core.name)
    n_in = property(lambda self: self.core.n_in)
    in_width = property(lambda self: self.core.in_width)
    in_signed = property(lambda self: self.core.in_signed)
    n_outputs = property(lambda self: self.core.n_out)
    out_width = property(lambda self: self.core.acc_width)
    out_signed = True

    def __post_init__(self):
        if self.core.steps % self.core.n_in:
            raise ValueError(
                f"plain layer {self.name}: reuse {self.core.reuse} folds {self.core.steps} steps a lane; a streaming "
                f"Dense takes whole outputs a lane ({self.core.n_in} x k steps, k dividing {self.core.n_out})"
            )

    @property
    def stream_module(self):
        return f"{plain.module_name(self.core)}_stream"

    def cycles(self, r=0):
        return self.core.cycles()

    def golden(self, codes):
        return self.core.golden(codes)

    def stream_process(self, in_words, source, sink):
        return dataflow.Sequential(in_words, self.core.cycles(), source, sink)

    def stream_verilog(self, words, res_bits):
        core, iw = self.core, self.in_width
        in_words, word, steps = self.n_in // words, words * iw, core.steps
        block = in_words * word >= ROM_BLOCK_BITS
        style = '(* ram_style = "block" *) ' if block else ""
        rb, sb, tb = bits_for(in_words - 1), bits_for(words - 1), bits_for(steps - 1)
        header = stream._stream_header(self.stream_module, res_bits, word, core.n_out * core.acc_width)
        layer = f"""
// {self.name}: hls4ml's streaming Dense: {in_words} words of {words} into memory, then the folded Dense
// ({core.lanes} lanes, {steps} steps, every lane the same input), then the output word.
{header}  {style}reg [{word - 1}:0] inputs [0:{in_words - 1}];
  reg [{bits_for(in_words) - 1}:0] count;
  reg busy, held, reading;
  reg [{rb - 1}:0] row;
  reg [{sb - 1}:0] sel, sel_q;
  reg [{tb - 1}:0] step;
  reg [{word - 1}:0] row_q;
  wire core_done;
  always @* out_valid = core_done || held;
  wire idle = !busy && !held;
  wire full = count == {in_words};
  assign in_ready = idle && !full;
  wire start = idle && full;
  always @(posedge clk) if (in_valid && in_ready) inputs[count] <= in_data;
  // Step c's input, (c mod {self.n_in}), out of the memory the cycle the lanes' weights are out of their ROMs.
  always @(posedge clk) if (reading) begin row_q <= inputs[row]; sel_q <= sel; end
  always @(posedge clk) begin
    if (rst) begin
      count <= 0; busy <= 1'b0; held <= 1'b0; reading <= 1'b0;
    end else begin
      held <= out_valid && !out_ready;
      if (core_done) busy <= 1'b0;
      if (start) begin
        busy <= 1'b1; count <= 0; reading <= 1'b1; row <= 0; sel <= 0; step <= 0;
      end else if (in_valid && in_ready) count <= count + 1'b1;
      if (reading) begin
        step <= step + 1'b1;
        if (step == {steps - 1}) reading <= 1'b0;
        if (sel == {words - 1}) begin sel <= 0; row <= row == {in_words - 1} ? 0 : row + 1'b1; end
        else sel <= sel + 1'b1;
      end
    end
  end
  {plain.module_name(core)} core (.clk(clk), .rst(rst), .start(start), .in_data(row_q[sel_q * {iw} +: {iw}]),
    .done(core_done), .out_data(out_data));
endmodule
"""
        return plain.dense_verilog(core, shared_operand=True) + layer, plain.lane_roms(core)


# -- from hls4ml's model ----------------------------------------------------------------------------------


def plain_stream_layers(hls_model, reuse=None):
    """``(layers, fifo_depths)``: the streaming twin (``stream.StreamLayer``) of hls4ml's io_stream conversion of a
    plain QKeras model: Activation, ZeroPadding2D + Conv2D, the switchable BN of one resolution, max pooling and
    Dense nodes, the FIFOs as the project's streams. ``reuse``: ``{layer: reuse factor}`` (default: the nodes')."""
    from mrfpga.hls.layers.common import RESOLUTION_PORT  # the layers import the twin's spec: not at module level
    from mrfpga.hls.layers.streaming import pack_size

    graph = getattr(hls_model, "hls4ml_model", hls_model)
    if graph.config.get_config_value("IOType") != "io_stream":
        raise ValueError("the plain streaming twin covers io_stream models")
    reuse = reuse or {}
    layers, depths, current, padding = [], [], None, None
    for node in graph.get_layers():
        kind, attr = node.class_name, node.get_attr
        if kind == "Input":
            if current is None and node.name != RESOLUTION_PORT:
                current = (
                    int(node.get_output_variable().size()),
                    *plain._fixed(node.get_output_variable().type.precision, node.name),
                )
            continue
        if kind == "Reshape":
            continue
        if current is None:
            raise ValueError(f"{node.name}: no input port before it")
        words = pack_size(node.get_input_variable())
        asked = reuse.get(node.name, int(attr("reuse_factor", 1) or 1))
        if kind == "ZeroPadding2D":
            padding = node
            continue
        if kind == "Activation":
            spec = plain.quant_of_node(node, current, StreamRequant)
            current = (spec.n_outputs, spec.width, spec.frac, spec.signed)
        elif kind == "Conv2D":
            spec = _conv(node, current, asked, padding)
            words = spec.n_chan
            current = (spec.n_outputs, spec.core.acc_width, spec.core.acc_frac, True)
            padding = None
        elif kind == "SwitchableScaleShift":
            spec = node.core_spec()
            if spec.n_resolutions != 1 or spec.in_width != current[1]:
                raise ValueError(f"{node.name}: a BN of {spec.n_resolutions} resolutions on {spec.in_width} bits")
            current = (spec.n_outputs, spec.acc_width, _frac(node), True)
        elif kind == "Pooling2D":
            spec = stream.max_pool_core(node)
            if spec is None:
                raise ValueError(f"{node.name}: the twin covers max pooling as large as its stride, unpadded")
            current = (spec.n_outputs, *current[1:])
        elif kind == "Dense":
            core = plain.dense_of_node(node, current, 1)
            whole = whole_output_reuse(core)
            spec = PlainStreamDense(core.with_reuse(min([r for r in whole if r >= asked] or [whole[-1]])))
            current = (spec.n_outputs, spec.out_width, spec.core.acc_frac, True)
        else:
            raise ValueError(f"{node.name}: {kind} (the plain streaming twin covers Activation, Conv2D, BN, pooling "
                             "and Dense)")  # fmt: skip
        layers.append(stream.StreamLayer(spec, words))
        depths.append(stream.fifo_depth(node))
    stream.check_stream_chain(layers)
    return layers, depths[:-1]


def _frac(node):
    precision = node.get_output_variable().type.precision
    return precision.width - precision.integer


def _conv(node, current, reuse, padding):
    """A Conv2D node (after hls4ml's ZeroPadding2D node ``padding``, or None) as a streaming convolution whose
    core is the plain folded Dense of its patch, its sum the node's result type."""
    attr = node.get_attr
    result = node.get_output_variable().type.precision
    rows, cols, pad_top, pad_left = attr("in_height"), attr("in_width"), attr("pad_top", 0), attr("pad_left", 0)
    if padding is not None:
        rows, cols = padding.get_attr("in_height"), padding.get_attr("in_width")
        pad_top, pad_left = padding.get_attr("pad_top"), padding.get_attr("pad_left")
    core = plain.dense_of_node(node, current, reuse, acc_width=result.width)  # checked to hold every sum
    if core.acc_frac != result.width - result.integer:
        raise ValueError(f"{node.name}: result {result} is not on the sums' grid ({core.acc_frac} fraction bits)")
    return StreamConvCore(
        core=core, rows=rows, cols=cols, n_chan=attr("n_chan"), filt_rows=attr("filt_height"),
        filt_cols=attr("filt_width"), stride_rows=attr("stride_height"), stride_cols=attr("stride_width"),
        pad_top=pad_top, pad_left=pad_left, out_rows=attr("out_height"), out_cols=attr("out_width"),
    )  # fmt: skip


# -- folding -------------------------------------------------------------------------------------------------


def whole_output_reuse(core):
    """The reuse factors at which each lane of ``core`` computes whole outputs: ``k * n_in``, ``k`` dividing
    ``n_out``."""
    return [k * core.n_in for k in range(1, core.n_out + 1) if core.n_out % k == 0]


def reuse_factors(spec):
    """The reuse factors a folded layer takes: hls4ml's valid ones for a convolution's patch, whole outputs per
    lane for the streaming Dense."""
    core = spec.core
    if spec.kind == "plain_dense_stream":
        return whole_output_reuse(core)
    return list(plain._valid_reuse_factors(core.n_in, core.n_out))


def layer_interval(spec, in_words):
    """A folded layer's interval alone, its input offered every cycle (the dataflow model's)."""
    if spec.kind == "plain_dense_stream":
        return in_words + spec.core.cycles() + 1
    return stream_conv_cycles(spec.positions(), spec.core.cycles())[1]


def with_layer_reuse(layer, reuse):
    return stream.StreamLayer(replace(layer.spec, core=layer.spec.core.with_reuse(reuse)), layer.words)


def fold_for_interval(layers, target):
    """Each folded layer at the largest reuse factor (fewest lanes) whose interval alone is at most ``target``
    cycles, or its fastest if none is: the plain design matched to a resolution of ``target`` cycles a frame."""
    folded = []
    for layer in layers:
        if layer.spec.kind not in ("conv_stream", "plain_dense_stream"):
            folded.append(layer)
            continue
        options = sorted(reuse_factors(layer.spec))
        fits = [r for r in options if layer_interval(with_layer_reuse(layer, r).spec, layer.in_words) <= target]
        folded.append(with_layer_reuse(layer, max(fits) if fits else options[0]))
    return folded


def layer_reuse(layers):
    return {layer.spec.name: layer.spec.core.reuse for layer in layers if hasattr(layer.spec, "core")}


# -- Yosys ---------------------------------------------------------------------------------------------------


def lane_cores(layers):
    """The plain folded cores of ``layers`` (convolutions' and the Dense's)."""
    return [layer.spec.core for layer in layers if getattr(layer.spec, "core", None) is not None
            and layer.spec.core.kind == "plain_dense"]  # fmt: skip


def lanes_top(cores, out_dir):
    """``out_dir/mrfpga_lanes.v``: a top instancing every lane of ``cores`` once, its ports the top's (the lanes'
    own Yosys run)."""
    ports, instances = [], []
    for core in cores:
        ab = bits_for(core.steps - 1)
        for p in range(core.lanes):
            name, k = plain.lane_name(core, p), len(core.lane_segments(p))
            ports += [f"  input wire [{ab - 1}:0] {name}_addr,", f"  input wire {name}_acc_en,",
                      f"  input wire [{core.in_width - 1}:0] {name}_x,",
                      f"  output wire [{k * core.lane_width - 1}:0] {name}_sums,"]  # fmt: skip
            instances.append(f"  {name} {name}_i (.clk(clk), .addr({name}_addr), .acc_en({name}_acc_en), "
                             f".x({name}_x), .sums({name}_sums));")  # fmt: skip
    path = Path(out_dir) / "mrfpga_lanes.v"
    path.write_text("module mrfpga_lanes (\n" + "\n".join(ports) + "\n  input wire clk\n);\n"
                    + "\n".join(instances) + "\nendmodule\n")  # fmt: skip
    return path


def synthesize(layers, fifo_depths, out_dir, progress=None):
    """Size the plain streaming design with Yosys: ``{"tool", "method", "seconds", "total", "layers"}``. The lanes
    (multiplier, accumulator, weight ROM) are synthesized as the plain twin's are (``tools.SYNTH_OPTIONS``: the
    multipliers in LUTs), everything else as the multi-resolution streaming design (``stream.STREAM_SYNTH_OPTIONS``:
    the BN's multipliers on DSP48E1): two Yosys runs, the lanes counted into their layers."""
    out_dir = Path(out_dir)
    verilog = stream.write_stream_verilog(layers, fifo_depths, out_dir / "yosys")
    cores = lane_cores(layers)
    lanes = {plain.lane_name(core, p) for core in cores for p in range(core.lanes)}
    start = time.monotonic()
    top = lanes_top(cores, out_dir / "yosys")
    main = start_synthesis([verilog], stream.TOP, out_dir / "yosys", stream.STREAM_SYNTH_OPTIONS, lanes, False)
    beside = start_synthesis([verilog, top], "mrfpga_lanes", out_dir / "lanes", tools.SYNTH_OPTIONS, depth=False)

    def lanes_with(options):  # once more, without -widemux, if the run started beside the main one failed
        return synthesize_sources([verilog, top], "mrfpga_lanes", out_dir / "lanes", options, depth=False)[0]

    try:  # side by side: Yosys is one process
        stat, _ = main.result()
        lane_stat, lane_options, fallback = with_widemux_fallback(lanes_with, first=lambda: beside.result()[0])
    finally:
        main.stop()
        beside.stop()
    seconds = time.monotonic() - start
    for name, body in lane_stat["modules"].items():
        if name.lstrip("\\") in lanes:
            stat["modules"][name] = body
    cells = hierarchy_cells(stat, stream.TOP)
    if progress:
        progress(f"rtl: Yosys synthesized the plain streaming design in {seconds:.0f} s")
    return {
        "tool": f"{yosys_version()} synth_xilinx xc7 {stream.STREAM_SYNTH_OPTIONS}; the lanes {lane_options}",
        "method": "whole plain streaming design, every lane synthesized"
        + (f"; the lanes: {fallback}" if fallback else ""),
        "seconds": round(seconds, 1),
        "total": rounded_resources(cells[stream.TOP]),
        "layers": {layer.spec.name: rounded_resources(cells[layer.module]) for layer in layers},
    }
