"""The Verilog twin of the streaming mMAC Dense (``templates/nnet_mmac_dense_stream.h``, docs/mmac_core.md).

The HLS layer is two processes in DATAFLOW joined by a FIFO of two term groups; the twin is the same: a groups
stage that cuts the input words (``words`` values each) into term groups through a register window, the FIFO
(``mrfpga_fifo``), and a steps stage that walks (group, round, term slot) with the weight-term units, each unit
keeping one accumulator per round (``mrfpga_mmac_unit`` with ``ROUNDS``). Valid/ready on both sides.

``schedule`` is the timing model the twin is held to, cycle for cycle: when each frame's first word is taken and
when its output is, for frames streamed one at a time or back to back.
"""

import time
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np

from mrfpga.hls.package_data import package_dir

from . import dataflow, plain, tools
from .measure import unit_samples
from .spec import (
    FLAT_LAYERS,
    STREAM_DATA_TERM_STAGES,
    STREAM_DENSE_DRAIN_CYCLES,
    STREAM_GROUP_FIFO_DEPTH,
    STREAM_MAX_POOL_STAGES,
    STREAM_REQUANT_STAGES,
    STREAM_SCALE_SHIFT_STAGES,
    STREAM_WINDOW_FIFO_DEPTH,
    MaxPoolCore,
    StreamConvCore,
    bits_for,
    check_chain,
    check_codes,
    stream_chunks,
    stream_dense_schedule,
    stream_group_ends,
    to_signed,
)
from .tools import (
    SYNTH_OPTIONS,
    hierarchy_cells,
    mean_stand_ins,
    rounded_resources,
    run_logged,
    verilator_build,
    yosys_version,
)
from .verilog import (
    PRIMITIVES,
    TOP,
    _case_rows,
    _resolution_table,
    _rom_text,
    data_term_table,
    data_term_value_verilog,
    mmac_dense_verilog,
    module_name,
    module_ports,
    unit_module_head,
    unit_parameters,
    unit_rom,
)

STREAM_PRIMITIVES = (*PRIMITIVES, "mrfpga_fifo.v")
STREAM_TWIN_LAYERS = ("DataTerm", "SwitchableScaleShift", "MMACDense", "MMACConv2D")
ELEMENTWISE_STAGES = {
    "data_term": STREAM_DATA_TERM_STAGES,
    "scale_shift": STREAM_SCALE_SHIFT_STAGES,
    "plain_quant": STREAM_REQUANT_STAGES,
}
STREAM_POOLS = ("Pooling2D",)
TESTBENCH = package_dir("templates") / "rtl" / "twin_stream_tb.cpp"


@dataclass(frozen=True)
class GroupWindow:
    """Where the groups stage finds each group in its register window (dense_stream_geometry)."""

    words: int
    group_size: int
    n_in: int
    n_groups: int

    @property
    def n_words(self):
        return self.n_in // self.words

    @property
    def window_words(self):
        return (self.group_size - 1 + self.words - 1) // self.words + 1

    @property
    def window_values(self):
        return self.window_words * self.words

    @property
    def period(self):
        return self.words // gcd(self.words, self.group_size)

    @property
    def n_phases(self):
        return min(self.period, self.n_groups)

    def position(self, k):
        g, p = self.group_size, self.words
        return k * g + self.window_values - ((k * g + g - 1) // p + 1) * p

    @property
    def last_position(self):
        return (self.n_groups - 1) * self.group_size + self.window_values - self.n_words * self.words


def group_window(spec, words):
    if spec.n_in % words:
        raise ValueError(f"layer {spec.name}: {spec.n_in} inputs are not whole words of {words}")
    if any(b != g * spec.group_size for g, b in enumerate(spec.group_bases)):
        raise ValueError(f"layer {spec.name}: the streaming Dense takes groups of consecutive inputs")
    return GroupWindow(words, spec.group_size, spec.n_in, spec.n_groups)


def steps_per_group(spec, r):
    """Steps the streaming Dense spends on each group at resolution ``r``: every round's term slots, at least one
    (a resolution without term slots still takes each group)."""
    r = min(r, spec.n_resolutions - 1)
    return max(1, spec.reuse * spec.group_terms[r] * (spec.data_budgets[r] if spec.mode == "term_pair" else 1))


def schedule(spec, words, r, frames, back_to_back):
    """The twin's timing at resolution ``r``: ``[(first, out)]`` per frame (``spec.stream_dense_schedule``)."""
    return stream_dense_schedule(stream_group_ends(spec.n_in, spec.group_size, words), steps_per_group(spec, r),
                                 frames, back_to_back)  # fmt: skip


def stream_dense_verilog(spec, words, res_bits):
    """The streaming mMAC Dense (weight-term units): its unit modules, then the layer. Returns ``(verilog, {ROM
    file name: contents})``."""
    if spec.mode != "weight_term":
        raise ValueError(f"layer {spec.name}: the twin models the weight-term unit, not {spec.mode!r}")
    window = group_window(spec, words)
    name = module_name(spec)
    n_out, ab, db, G = spec.n_out, spec.acc_width, spec.data_bits, spec.group_size
    n_groups, reuse, units, max_terms = spec.n_groups, spec.reuse, spec.n_units, spec.max_terms
    P, WV = words, window.window_values
    jb, gb, tb = bits_for(reuse - 1), bits_for(n_groups - 1), bits_for(max_terms - 1)
    hb, pb = bits_for(spec.n_in), bits_for(max(window.period - 1, 0))
    rom_of = unit_rom(spec, res_bits)
    ab_addr, entry_bits, table = rom_of.addr_bits, rom_of.entry_bits, rom_of.table
    floor_bits, slot_bits = rom_of.floor_bits, rom_of.slot_bits
    mask, fifo_depth = (1 << ab) - 1, STREAM_GROUP_FIFO_DEPTH
    # The units' ROMs in the order the groups arrive: rows [group][round][slot].
    by_group = spec.table.reshape(reuse, n_groups, max_terms, units).transpose(1, 0, 2, 3).reshape(-1, units)
    roms, modules, instances = {}, [], []
    for u in range(units):
        rom = f"{name}_u{u}.mem"
        roms[rom] = _rom_text(by_group[:, u], entry_bits)
        biases = [int(spec.bias[o]) & mask if o < n_out else 0 for o in range(u, reuse * units, units)]
        init = "{" + ", ".join(f"{ab}'d{b}" for b in reversed(biases)) + "}"
        head = unit_module_head(f"{name}_u{u}", spec, rom_of)
        modules.append(
            head
            + f"""  input wire step, input wire accumulate, input wire accumulate_hi, input wire restart,
  input wire [{jb - 1}:0] round_c, input wire [{jb - 1}:0] round_d,
  output wire [{reuse * ab - 1}:0] acc_all
);
  mrfpga_mmac_unit {unit_parameters(spec, rom, rom_of, f", .ROUNDS({reuse}), .ROUND_BITS({jb})")} unit (
    .clk(clk), .read(read), .addr(addr), .group_values(group_values), .floor_q(floor_q), .lane_on(1'b1), \
.step(step),
    .accumulate(accumulate), .restart(restart), .accumulate_hi(accumulate_hi), .restart_hi(restart),
    .round_c(round_c), .round_d(round_d), .init({init}), .acc_next(), .acc_all(acc_all));
endmodule
"""
        )
        instances.append(
            f"  wire [{reuse * ab - 1}:0] acc_{u};\n"
            f"  {name}_u{u} unit_{u} (.clk(clk), .read(issue), .addr(addr), .group_values(group_q), "
            f".floor_q(floor_q), .step(step_b), .accumulate(step_c), .accumulate_hi(step_d), .restart(begin_frame), "
            f".round_c(round_c), .round_d(round_d), .acc_all(acc_{u}));\n"
        )
    outputs = ", ".join(f"acc_{o % units}[{(o // units) * ab} +: {ab}]" for o in reversed(range(n_out)))
    # Each group value: the window slice of its phase (the last group's own), as dense_groups takes it.
    lanes = []
    for i in range(G):
        rows = [
            (f"{pb}'d{k}", f"group_in[{i * db} +: {db}] = ext[{window.position(k) + i}];")
            for k in range(window.n_phases)
        ]
        last = f"group_in[{i * db} +: {db}] = ext[{window.last_position + i}];"
        lanes.append(
            f"    if (last_group) begin {last} end\n    else begin\n{_case_rows('phase', rows, last)}\n    end"
        )
    shift = f"{{in_data, window[{WV * db - 1}:{P * db}]}}" if WV > P else "in_data"
    layer = f"""
// {spec.name}: streaming mMAC Dense, {spec.n_in} -> {n_out} in words of {P}, {n_groups} groups of {G}, {units}
// weight-term units of {reuse} round(s). Groups stage -> FIFO of {STREAM_GROUP_FIFO_DEPTH} groups -> steps stage.
{_stream_header(name, res_bits, P * db, n_out * ab)}{table}
  // Groups stage: one iteration a cycle, a word read when the next group needs one, a group written when
  // complete; held while the word is missing or the FIFO full.
  reg [{WV * db - 1}:0] window;
  reg [{hb - 1}:0] have;
  reg [{gb - 1}:0] gi;
  reg [{pb - 1}:0] phase;
  reg gap;
  reg [{hb - 1}:0] group_end;
  wire need = have < group_end;
  wire [{hb}:0] have_next = need ? have + {hb + 1}'d{P} : {{1'b0, have}};
  wire complete = have_next >= group_end;
  wire [{hb}:0] next_end = group_end + {hb + 1}'d{G};
  wire fifo_in_ready;
  wire last_group = gi == {gb}'d{n_groups - 1};
  assign in_ready = !gap && need && (!complete || fifo_in_ready);
  wire iterate = !gap && (!need || in_valid) && (!complete || fifo_in_ready);
  wire [{WV * db - 1}:0] window_next = need ? {shift} : window;
  wire [{db - 1}:0] ext [0:{WV + G - 2}];
  genvar e;
  generate
    for (e = 0; e < {WV + G - 1}; e = e + 1) begin : extended
      if (e < {WV}) begin : held
        assign ext[e] = window_next[e * {db} +: {db}];
      end else begin : tail
        assign ext[e] = {db}'d0;
      end
    end
  endgenerate
  reg [{G * db - 1}:0] group_in;
  always @* begin
{chr(10).join(lanes)}
  end
  always @(posedge clk) begin
    if (rst) begin
      have <= 0; gi <= 0; phase <= 0; gap <= 1'b0; group_end <= {hb}'d{min(G, spec.n_in)};
    end else if (gap) begin
      gap <= 1'b0;
    end else if (iterate) begin
      if (need) window <= window_next;
      have <= have_next[{hb - 1}:0];
      if (complete) begin
        if (last_group) begin
          have <= 0; gi <= 0; phase <= 0; gap <= 1'b1; group_end <= {hb}'d{min(G, spec.n_in)};
        end else begin
          gi <= gi + 1'b1;
          phase <= phase == {pb}'d{window.period - 1} ? {pb}'d0 : phase + 1'b1;
          group_end <= next_end > {hb + 1}'d{spec.n_in} ? {hb}'d{spec.n_in} : next_end[{hb - 1}:0];
        end
      end
    end
  end

  wire group_valid, take_group;
  wire [{G * db - 1}:0] group_out;
  mrfpga_fifo #(.WIDTH({G * db}), .DEPTH({fifo_depth}), .COUNT_BITS({bits_for(fifo_depth)})) groups (
    .clk(clk), .rst(rst), .in_valid(!gap && iterate && complete), .in_ready(fifo_in_ready), .in_data(group_in),
    .out_valid(group_valid), .out_ready(take_group), .out_data(group_out));

  // Steps stage: (group, round, slot) one step a cycle, a group read at its first step; the output shown
  // {STREAM_DENSE_DRAIN_CYCLES} cycles after the last step, the next frame started the cycle after it was taken.
  reg running, live_q;
  reg [{slot_bits - 1}:0] slots_q;
  reg [{floor_bits - 1}:0] floor_q;
  reg [{gb - 1}:0] g;
  reg [{jb - 1}:0] j, round_b, round_c, round_d;
  reg [{tb - 1}:0] t;
  reg [{G * db - 1}:0] group_q;
  reg step_b, step_c, step_d, last_b, last_c, last_d;
  wire live_now = running ? live_q : slots != 0;
  wire [{slot_bits - 1}:0] slots_now = running ? slots_q : slots;
  wire group_first = j == 0 && t == 0;
  wire free = running || !out_valid;  // a new frame the cycle after the output was taken
  wire issue = free && (!group_first || group_valid) && (running || !(last_b || last_c || last_d));
  wire begin_frame = issue && !running;
  assign take_group = issue && group_first;
  wire slot_last = !live_now || t == slots_now - 1'b1;
  wire round_last = !live_now || j == {jb}'d{reuse - 1};
  wire frame_last = slot_last && round_last && g == {gb}'d{n_groups - 1};
  // Row (g * R + j) * max_terms + t: a row base that moves on by max_terms each round, not a product.
  reg [{ab_addr - 1}:0] row_base;
  wire [{ab_addr - 1}:0] addr = row_base + t;
  always @(posedge clk) begin
    if (rst) begin
      running <= 1'b0; out_valid <= 1'b0; g <= 0; j <= 0; t <= 0; row_base <= 0;
      step_b <= 1'b0; step_c <= 1'b0; step_d <= 1'b0; last_b <= 1'b0; last_c <= 1'b0; last_d <= 1'b0;
    end else begin
      step_b <= issue && live_now; last_b <= issue && frame_last; round_b <= j;
      step_c <= step_b; last_c <= last_b; round_c <= round_b;
      step_d <= step_c; last_d <= last_c; round_d <= round_c;
      if (out_valid && out_ready) out_valid <= 1'b0;
      if (last_d) out_valid <= 1'b1;
      if (begin_frame) begin slots_q <= slots; floor_q <= floor; live_q <= slots != 0; end
      if (issue) begin
        if (group_first) group_q <= group_out;
        running <= !frame_last;
        if (!slot_last) t <= t + 1'b1;
        else begin
          t <= 0;
          row_base <= frame_last ? {ab_addr}'d0 : row_base + {ab_addr}'d{max_terms};
          if (!round_last) j <= j + 1'b1;
          else begin j <= 0; g <= frame_last ? {gb}'d0 : g + 1'b1; end
        end
      end
    end
  end

{"".join(instances)}
  assign out_data = {{{outputs}}};
endmodule
"""
    return "".join(modules) + layer, roms


def stream_data_term_verilog(spec, words, res_bits):
    """A DataTerm layer on stream words of ``words`` values: a data-term unit per value of a word, a word a cycle
    through four register stages (the word; each value on its grid; its digits; its kept digits), the whole
    pipeline held while its last stage's word waits for room downstream. With fewer lanes than values
    (``spec.lanes``), ``stream_data_term_lanes_verilog``."""
    if spec.lanes < words:
        return stream_data_term_lanes_verilog(spec, words, res_bits)
    iw, ow, name = spec.in_width, spec.out_width, module_name(spec)
    lanes = "".join(
        f"  {name}_value lane_{i} (.clk(clk), .step(advance), .step_digits(advance), .step_terms(advance), "
        f".x(x_q[{i * iw} +: {iw}]), .budget_sel(budget_q), .keep_mask(keep_mask_q), "
        f".code(out_data[{i * ow} +: {ow}]));\n"
        for i in range(words)
    )
    header = _stream_header(name, res_bits, words * iw, words * ow) + data_term_table(spec, res_bits)
    layer = f"""
// {spec.name}: data terms of {spec.n_in} values in words of {words}, {STREAM_DATA_TERM_STAGES} stages.
{header}  reg [{spec.bits + 1}:0] budget_q;
  reg [{spec.bits - 1}:0] keep_mask_q;
  reg [{words * iw - 1}:0] x_q;
  reg [{STREAM_DATA_TERM_STAGES - 1}:0] full;  // which stages hold a word
  wire advance = !full[{STREAM_DATA_TERM_STAGES - 1}] || out_ready;
  assign in_ready = advance;
  always @* out_valid = full[{STREAM_DATA_TERM_STAGES - 1}];
  always @(posedge clk) begin
    budget_q <= budget_sel;
    keep_mask_q <= keep_mask;
    if (rst) full <= 0;
    else if (advance) full <= {{full[{STREAM_DATA_TERM_STAGES - 2}:0], in_valid}};
    if (advance) x_q <= in_data;
  end
{lanes}endmodule
"""
    return data_term_value_verilog(spec) + layer


def stream_data_term_lanes_verilog(spec, words, res_bits):
    """A DataTerm layer on stream words of ``words`` values through ``spec.lanes`` data-term units, ``chunks``
    cycles a word (nnet::apply_to_packs_in_lanes): the word held while its chunks go through the units (each
    lane's value selected by the chunk), each chunk's codes into the output word's register, the word out once its
    last chunk is in; five stages, the whole pipeline held while the output word waits for room downstream."""
    iw, ow, name, lanes = spec.in_width, spec.out_width, module_name(spec), spec.lanes
    chunks = stream_chunks(words, lanes)
    cb = bits_for(chunks - 1)
    lane_lines, writes = [], []
    for lane in range(lanes):
        rows = [(f"{cb}'d{c}", f"x_{lane} = x_q[{(c * lanes + lane) * iw} +: {iw}];") for c in range(chunks)
                if c * lanes + lane < words]  # fmt: skip
        default = rows.pop()[1]
        lane_lines.append(
            f"  reg [{iw - 1}:0] x_{lane};\n  wire [{ow - 1}:0] code_{lane};\n"
            f"  always @* begin\n{_case_rows('chunk', rows, default)}\n  end\n"
            f"  {name}_value lane_{lane} (.clk(clk), .step(advance), .step_digits(advance), .step_terms(advance), "
            f".x(x_{lane}), .budget_sel(budget_q), .keep_mask(keep_mask_q), .code(code_{lane}));\n"
        )
    for c in range(chunks):
        slots = "".join(
            f" y[{v * ow} +: {ow}] <= code_{v - c * lanes};" for v in range(c * lanes, min(words, (c + 1) * lanes))
        )
        writes.append(f"        if (tag_2 == {cb}'d{c}) begin{slots} end\n")
    header = _stream_header(name, res_bits, words * iw, words * ow) + data_term_table(spec, res_bits)
    layer = f"""
// {spec.name}: data terms of {spec.n_in} values in words of {words} through {lanes} units, {chunks} cycles a word.
{header}  reg [{spec.bits + 1}:0] budget_q;
  reg [{spec.bits - 1}:0] keep_mask_q;
  reg [{words * iw - 1}:0] x_q;
  reg [{words * ow - 1}:0] y;
  reg held, y_full;  // a word in x_q; the output word complete
  reg [{cb - 1}:0] chunk, tag_0, tag_1, tag_2;  // the chunk in x_q, then in the units' three stages
  reg [2:0] tag_valid, tag_last;
  wire advance = !y_full || out_ready;
  wire take = !held || chunk == {cb}'d{chunks - 1};
  assign in_ready = advance && take;
  assign out_data = y;
  always @* out_valid = y_full;
  always @(posedge clk) begin
    budget_q <= budget_sel;
    keep_mask_q <= keep_mask;
    if (rst) begin
      held <= 1'b0; y_full <= 1'b0; chunk <= 0; tag_valid <= 0; tag_last <= 0;
    end else if (advance) begin
      if (take) begin held <= in_valid; chunk <= 0; end
      else chunk <= chunk + 1'b1;
      tag_valid <= {{tag_valid[1:0], held}};
      tag_last <= {{tag_last[1:0], held && chunk == {cb}'d{chunks - 1}}};
      y_full <= tag_valid[2] && tag_last[2];
    end
    if (advance) begin
      if (take) x_q <= in_data;
      tag_0 <= chunk; tag_1 <= tag_0; tag_2 <= tag_1;
      if (tag_valid[2]) begin
{"".join(writes)}      end
    end
  end
{"".join(lane_lines)}endmodule
"""
    return data_term_value_verilog(spec) + layer


def stream_scale_shift_verilog(spec, words, res_bits):
    """A switchable BN on stream words of ``words`` values (whole pixels): a multiplier and an adder per value of a
    word (channel ``i % n_chan``), a word a cycle through three register stages (the word, the products, the
    sums: a DSP48E1's input, multiplier and output registers), held while the last stage's word waits."""
    iw, aw, sw, tw, name = spec.in_width, spec.acc_width, spec.scale_width, spec.shift_width, module_name(spec)
    stages = STREAM_SCALE_SHIFT_STAGES
    columns = {}
    for c in range(spec.n_chan):
        columns[f"scale_{c}"] = (sw, [row[c] & ((1 << sw) - 1) for row in spec.scales])
        columns[f"shift_{c}"] = (tw, [row[c] & ((1 << tw) - 1) for row in spec.shifts])
    table, _ = _resolution_table(columns, res_bits)
    held = "".join(
        f"  reg signed [{sw - 1}:0] scale_q_{c};\n  reg signed [{tw - 1}:0] shift_q_{c};\n" for c in range(spec.n_chan)
    )
    latch = "".join(f"    scale_q_{c} <= scale_{c}; shift_q_{c} <= shift_{c};\n" for c in range(spec.n_chan))
    xw = iw if spec.in_signed else iw + 1
    lanes = []
    for i in range(words):
        c = i % spec.n_chan
        x = f"x_q[{i * iw} +: {iw}]" if spec.in_signed else f"{{1'b0, x_q[{i * iw} +: {iw}]}}"
        lanes.append(
            f"  wire signed [{xw - 1}:0] x_{i} = {x};\n"
            f"  reg signed [{xw + sw - 1}:0] product_{i};\n"
            f"  reg signed [{aw - 1}:0] y_{i};\n"
            f"  always @(posedge clk) if (advance) begin\n"
            f"    product_{i} <= x_{i} * scale_q_{c};\n"
            f"    y_{i} <= (product_{i} <<< {spec.scale_up}) + (shift_q_{c} <<< {spec.shift_up});\n"
            f"  end\n  assign out_data[{i * aw} +: {aw}] = y_{i};\n"
        )
    return f"""
// {spec.name}: switchable BN of {spec.n_in} values ({spec.n_chan} channels) in words of {words}, {stages} stages.
{_stream_header(name, res_bits, words * iw, words * aw)}{table}{held}  reg [{words * iw - 1}:0] x_q;
  reg [{stages - 1}:0] full;  // which stages hold a word
  wire advance = !full[{stages - 1}] || out_ready;
  assign in_ready = advance;
  always @* out_valid = full[{stages - 1}];
  always @(posedge clk) begin
{latch}    if (rst) full <= 0;
    else if (advance) full <= {{full[{stages - 2}:0], in_valid}};
    if (advance) x_q <= in_data;
  end
{"".join(lanes)}endmodule
"""


def stream_max_pool_verilog(spec, res_bits):
    """hls4ml's streaming max pooling (line buffer): a pixel a cycle; ``pool_rows - 1`` rows of pixels in shift
    registers and the window's earlier columns in registers; where a pixel completes a window, the window's
    largest codes, channel by channel, registered as the output word. Two stages: the pixel, the output."""
    name, c, b = module_name(spec), spec.n_chan, spec.bits
    word = c * b
    rows, cols, pr, pc = spec.rows, spec.cols, spec.pool_rows, spec.pool_cols
    yb, xb = bits_for(rows - 1), bits_for(cols - 1)
    # The window's columns: column pc - 1 is the pixel now (row pr - 1) above the pixels its line buffers hold
    # (row pr - 1 - k from line k - 1); columns before it are registered as the pixels pass.
    lines = "".join(
        f"  reg [{word - 1}:0] line_{k} [0:{cols - 1}];  // the pixels {k + 1} row(s) up\n" for k in range(pr - 1)
    )
    above = ["x_q"] + [f"line_{k}[0]" for k in range(pr - 1)]  # rows pr - 1, pr - 2, ... of the column now
    column_regs = "".join(f"  reg [{word - 1}:0] column_{j}_{k};\n" for j in range(pc - 1) for k in range(pr))
    window = [f"column_{j}_{k}" for j in range(pc - 1) for k in range(pr)] + above
    greater = "$signed(a) > $signed(b)" if spec.signed else "a > b"
    maxes = []
    for ch in range(c):
        values = [f"{v}[{ch * b} +: {b}]" for v in window]
        expr = values[0]
        for v in values[1:]:
            expr = f"larger({expr}, {v})"
        maxes.append(f"      y[{ch * b} +: {b}] <= {expr};\n")
    shifts = "".join(
        f"      line_{k}[{cols - 1}] <= {above[k]};\n"
        f"      for (i = 0; i < {cols - 1}; i = i + 1) line_{k}[i] <= line_{k}[i + 1];\n"
        for k in range(pr - 1)
    )
    columns = "".join(
        f"      column_{j}_{k} <= {f'column_{j + 1}_{k}' if j + 1 < pc - 1 else above[k]};\n"
        for j in range(pc - 1)
        for k in range(pr)
    )
    return f"""
// {spec.name}: max pooling {pr}x{pc} of a {rows}x{cols}x{c} image, a pixel a cycle, two stages.
{_stream_header(name, res_bits, word, word)}  function [{b - 1}:0] larger(input [{b - 1}:0] a, input [{b - 1}:0] b);
    larger = {greater} ? a : b;
  endfunction
{lines}{column_regs}  reg [{word - 1}:0] x_q, y;
  reg x_full;
  reg [{yb - 1}:0] py;
  reg [{xb - 1}:0] px;
  reg [{bits_for(pr - 1) - 1}:0] sy;
  reg [{bits_for(pc - 1) - 1}:0] sx;
  wire emit = sx == {pc - 1} && sy == {pr - 1};
  wire advance = !out_valid || out_ready;
  assign in_ready = advance;
  assign out_data = y;
  integer i;
  always @(posedge clk) begin
    if (rst) begin
      x_full <= 1'b0; out_valid <= 1'b0; px <= 0; py <= 0; sx <= 0; sy <= 0;
    end else if (advance) begin
      out_valid <= x_full && emit;
      x_full <= in_valid;
      if (x_full) begin
{"".join(maxes)}{shifts}{columns}        if (px == {cols - 1}) begin
          px <= 0; sx <= 0;
          py <= py == {rows - 1} ? 0 : py + 1'b1;
          sy <= py == {rows - 1} || sy == {pr - 1} ? 0 : sy + 1'b1;
        end else begin
          px <= px + 1'b1;
          sx <= sx == {pc - 1} ? 0 : sx + 1'b1;
        end
      end
    end
    if (advance) x_q <= in_data;
  end
endmodule
"""


def stream_conv_verilog(spec, res_bits):
    """The streaming mMAC convolution: the walk over the padded image (a position a cycle, a pixel read inside
    the image; ``filt_rows - 1`` padded rows in line buffers; the window's registers shift a column left and
    take the new one), each output pixel's patch into a FIFO of two windows, and the io_parallel core
    (``mmac_dense_verilog``) over one window at a time, its pixel out the cycle it is done. Returns ``(verilog,
    {ROM file name: contents})``."""
    core, name = spec.core, conv_module_name(spec)
    if core.kind == "plain_dense":  # the plain design's folded multipliers (plain.py): one resolution
        core_verilog, roms = plain.dense_verilog(core), plain.lane_roms(core)
        # it latches its operands in the cycle it starts: the window straight from the FIFO
        core_module, resolution, operands = plain.module_name(core), "", "window_out"
    else:
        core_verilog, roms = mmac_dense_verilog(core, res_bits)
        core_module, resolution, operands = module_name(core), " .resolution(resolution),", "patch_q"
    db, c, fr, fc = core.data_bits, spec.n_chan, spec.filt_rows, spec.filt_cols
    word, patch, fifo_depth = c * db, fr * fc * c, STREAM_WINDOW_FIFO_DEPTH
    prows, pcols = spec.padded_rows, spec.padded_cols
    rb, cb = bits_for(prows), bits_for(pcols)
    orb, ocb = bits_for(spec.out_rows), bits_for(spec.out_cols)
    lines = "".join(f"  reg [{word - 1}:0] line_{r} [0:{pcols - 1}];\n" for r in range(fr - 1))
    column = [f"line_{r}[pw]" for r in range(fr - 1)] + ["pixel"]  # rows ph - fr + 1 .. ph of column pw
    window = "".join(f"  reg [{word - 1}:0] win_{r}_{k};\n" for r in range(fr) for k in range(fc))
    shifted = [f"win_{r}_{k + 1}" if k + 1 < fc else column[r] for r in range(fr) for k in range(fc)]
    updates = "".join(f"      win_{r}_{k} <= {shifted[r * fc + k]};\n" for r in range(fr) for k in range(fc))
    updates += "".join(f"      line_{r}[pw] <= {column[r + 1]};\n" for r in range(fr - 1))
    patch_bits = "{" + ", ".join(reversed(shifted)) + "}"  # (filter row, filter column, channel), flattened
    in_image = (
        f"ph >= {spec.pad_top} && ph < {spec.pad_top + spec.rows} && pw >= {spec.pad_left} && "
        f"pw < {spec.pad_left + spec.cols}"
    )
    layer = f"""
// {spec.name}: streaming mMAC convolution of a {spec.rows}x{spec.cols}x{c} image ({prows}x{pcols} padded), filter
// {fr}x{fc}, stride {spec.stride_rows}x{spec.stride_cols}, {spec.out_rows}x{spec.out_cols} output pixels of
// {core.n_out} filters.
{_stream_header(name, res_bits, word, core.n_out * core.acc_width)}  // The walk: a padded position a cycle.
{lines}{window}  reg [{rb - 1}:0] ph, next_row;
  reg [{cb - 1}:0] pw, next_col;
  reg [{orb - 1}:0] oh;
  reg [{ocb - 1}:0] ow;
  reg gap;
  wire in_image = {in_image};
  wire row_outputs = ph == next_row && oh < {spec.out_rows};
  wire emit = row_outputs && pw == next_col && ow < {spec.out_cols};
  wire window_ready;
  wire step = !gap && (!in_image || in_valid) && (!emit || window_ready);
  assign in_ready = !gap && in_image && (!emit || window_ready);
  wire [{word - 1}:0] pixel = in_image ? in_data : {word}'d0;
  always @(posedge clk) begin
    if (rst) begin
      ph <= 0; pw <= 0; next_row <= {fr - 1}; next_col <= {fc - 1}; oh <= 0; ow <= 0; gap <= 1'b0;
    end else if (gap) begin
      gap <= 1'b0;
    end else if (step) begin
{updates}      if (emit) begin next_col <= next_col + {spec.stride_cols}; ow <= ow + 1'b1; end
      if (pw == {pcols - 1}) begin
        pw <= 0; next_col <= {fc - 1}; ow <= 0;
        if (row_outputs) begin next_row <= next_row + {spec.stride_rows}; oh <= oh + 1'b1; end
        if (ph == {prows - 1}) begin ph <= 0; next_row <= {fr - 1}; oh <= 0; gap <= 1'b1; end
        else ph <= ph + 1'b1;
      end else pw <= pw + 1'b1;
    end
  end
  wire window_valid, take_window;
  wire [{patch * db - 1}:0] window_out;
  mrfpga_fifo #(.WIDTH({patch * db}), .DEPTH({fifo_depth}), .COUNT_BITS({bits_for(fifo_depth)})) windows (
    .clk(clk), .rst(rst), .in_valid(step && emit), .in_ready(window_ready), .in_data({patch_bits}),
    .out_valid(window_valid), .out_ready(take_window), .out_data(window_out));

  // The pixels: the core over one window at a time; its pixel out the cycle it is done, held until taken.
  reg busy, held;
  reg [{patch * db - 1}:0] patch_q;
  wire core_done;
  wire running = busy && !core_done;
  always @* out_valid = core_done || held;
  assign take_window = !running && (!out_valid || out_ready) && window_valid;
  {core_module} core (.clk(clk), .rst(rst), .start(take_window),{resolution}
    .in_data({operands}), .done(core_done), .out_data(out_data));
  always @(posedge clk) begin
    if (rst) begin
      busy <= 1'b0; held <= 1'b0;
    end else begin
      held <= out_valid && !out_ready;
      if (core_done) busy <= 1'b0;
      if (take_window) begin busy <= 1'b1; patch_q <= window_out; end
    end
  end
endmodule
"""
    return core_verilog + layer, roms


def _stream_header(name, res_bits, in_bits, out_bits):
    """A streaming layer's ports: the resolution, valid/ready in and out."""
    return f"""(* keep_hierarchy *)
module {name} (
  input wire clk,
  input wire rst,
  input wire [{res_bits - 1}:0] resolution,
  input wire in_valid,
  output wire in_ready,
  input wire [{in_bits - 1}:0] in_data,
  output reg out_valid,
  input wire out_ready,
  output wire [{out_bits - 1}:0] out_data
);
"""


@dataclass(frozen=True)
class StreamLayer:
    """A layer of the streaming twin: its core description and the values of its input words."""

    spec: object
    words: int

    def __post_init__(self):
        if self.spec.n_in % self.words:
            raise ValueError(f"layer {self.spec.name}: {self.spec.n_in} inputs are not whole words of {self.words}")

    @property
    def in_words(self):
        return self.spec.n_in // self.words

    @property
    def module(self):
        if hasattr(self.spec, "stream_module"):
            return self.spec.stream_module
        return conv_module_name(self.spec) if self.spec.kind == "conv_stream" else module_name(self.spec)

    @property
    def plain(self):
        """A layer of the plain design (plain.py, plain_stream.py): its primitives are the plain twin's."""
        return getattr(self.spec, "core", self.spec).kind.startswith("plain")

    @property
    def elementwise(self):
        return self.spec.kind in ELEMENTWISE_STAGES

    @property
    def out_values(self):
        """Values of an output word: a word in, a word out for the elementwise layers, a pixel for pooling; the
        Dense's outputs in one word."""
        if self.spec.kind == "max_pool":
            return self.spec.n_chan
        if self.spec.kind in ("conv_stream", "plain_dense_stream"):
            return self.spec.core.n_out
        return self.words if self.elementwise else self.spec.n_out

    @property
    def out_words(self):
        return self.spec.n_outputs // self.out_values

    def verilog(self, res_bits):
        if hasattr(self.spec, "stream_verilog"):  # the plain design's own layers (plain_stream.py)
            return self.spec.stream_verilog(self.words, res_bits)
        if self.spec.kind == "data_term":
            return stream_data_term_verilog(self.spec, self.words, res_bits), {}
        if self.spec.kind == "scale_shift":
            return stream_scale_shift_verilog(self.spec, self.words, res_bits), {}
        if self.spec.kind == "max_pool":
            return stream_max_pool_verilog(self.spec, res_bits), {}
        if self.spec.kind == "conv_stream":
            return stream_conv_verilog(self.spec, res_bits)
        return stream_dense_verilog(self.spec, self.words, res_bits)

    def process(self, r, source, sink):
        """The layer in the cycle-level model (``dataflow``) at resolution ``r``."""
        if hasattr(self.spec, "stream_process"):
            return self.spec.stream_process(self.in_words, source, sink)
        if self.spec.kind == "data_term" and self.spec.lanes < self.words:
            return dataflow.ChunkedPipeline(stream_chunks(self.words, self.spec.lanes), source, sink)
        if self.elementwise:
            return dataflow.Pipeline(ELEMENTWISE_STAGES[self.spec.kind], source, sink)
        if self.spec.kind == "max_pool":
            return dataflow.Pipeline(STREAM_MAX_POOL_STAGES, source, sink, self.in_words, self.spec.emits)
        if self.spec.kind == "conv_stream":
            return dataflow.StreamConv(self.spec.positions(), self.spec.core.cycles(r), source, sink)
        ends = stream_group_ends(self.spec.n_in, self.spec.group_size, self.words)
        return dataflow.StreamDense(ends, self.spec.n_groups, steps_per_group(self.spec, r), source, sink)


def check_stream_chain(layers):
    check_chain([layer.spec for layer in layers])
    for before, after in zip(layers, layers[1:], strict=False):
        if before.out_values != after.words:
            raise ValueError(
                f"layer {before.spec.name} writes words of {before.out_values} values, "
                f"{after.spec.name} reads words of {after.words}"
            )


def timing(layers, fifo_depths, r, frames, back_to_back):
    """The chain's ``[(first, out)]`` per frame at resolution ``r`` from the cycle-level model."""
    makers = [lambda source, sink, layer=layer: layer.process(r, source, sink) for layer in layers]
    return dataflow.run(makers, layers[0].in_words, layers[-1].out_words, frames, back_to_back, fifo_depths)


def interval(layers, fifo_depths, r=0, frames=3):
    """The design's interval at resolution ``r``, back to back, by the dataflow model: its last two frames' outputs
    apart (the first frames fill the FIFOs)."""
    frames_timing = timing(layers, fifo_depths, r, frames, True)
    return frames_timing[-1][1] - frames_timing[-2][1]


def stream_top_verilog(layers, fifo_depths, res_bits):
    """The twin's top: the layers joined by FIFOs of ``fifo_depths`` (as the HLS project's streams), the first
    layer's input and the last one's output on the testbench's ports."""
    first, last = layers[0], layers[-1]
    ports = [
        "input wire clk",
        "input wire rst",
        f"input wire [{res_bits - 1}:0] resolution",
        "input wire in_valid",
        "output wire in_ready",
        f"input wire [{first.words * first.spec.in_width - 1}:0] in_data",
        "output wire out_valid",
        "input wire out_ready",
        f"output wire [{last.out_values * last.spec.out_width - 1}:0] out_data",
    ]
    lines = [
        f"\n// The chain {' -> '.join(layer.spec.name for layer in layers)}, joined by FIFOs of {list(fifo_depths)}.",
        *module_ports(TOP, ports),
        "  wire valid_0 = in_valid, ready_out = out_ready;",
        f"  wire [{first.words * first.spec.in_width - 1}:0] data_0 = in_data;",
    ]
    for n, layer in enumerate(layers):
        width = layer.out_values * layer.spec.out_width
        into = f"ready_{n}" if n else "in_ready"
        if n + 1 < len(layers):
            depth = fifo_depths[n]
            lines += [
                f"  wire valid_w{n}, ready_w{n}, valid_{n + 1}, ready_{n + 1};",
                f"  wire [{width - 1}:0] data_w{n}, data_{n + 1};",
                f"  {layer.module} layer_{n} (.clk(clk), .rst(rst), .resolution(resolution), "
                f".in_valid(valid_{n}), .in_ready({into}), .in_data(data_{n}), .out_valid(valid_w{n}), "
                f".out_ready(ready_w{n}), .out_data(data_w{n}));",
                f"  mrfpga_fifo #(.WIDTH({width}), .DEPTH({depth}), .COUNT_BITS({bits_for(depth)})) fifo_{n} ("
                f".clk(clk), .rst(rst), .in_valid(valid_w{n}), .in_ready(ready_w{n}), .in_data(data_w{n}), "
                f".out_valid(valid_{n + 1}), .out_ready(ready_{n + 1}), .out_data(data_{n + 1}));",
            ]
        else:
            lines.append(
                f"  {layer.module} layer_{n} (.clk(clk), .rst(rst), .resolution(resolution), "
                f".in_valid(valid_{n}), .in_ready({into}), .in_data(data_{n}), .out_valid(out_valid), "
                ".out_ready(ready_out), .out_data(out_data));"
            )
    return "\n".join([*lines, "endmodule", ""])


def write_stream_verilog(layers, fifo_depths, out_dir):
    """Write ``out_dir/mrfpga_top.v`` (primitives, the layers, the top) and its ROM files; return the path."""
    check_stream_chain(layers)
    if len(fifo_depths) != len(layers) - 1:
        raise ValueError(f"{len(layers)} layers take {len(layers) - 1} FIFO depths, not {len(fifo_depths)}")
    res_bits = bits_for(max(layer.spec.n_resolutions for layer in layers) - 1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = (
        "// Generated by mrfpga (docs/mmac_core.md): the Verilog twin of a streaming design.\n`default_nettype none\n"
    )
    primitives = list(STREAM_PRIMITIVES)
    if any(layer.plain for layer in layers):
        primitives += [name for name in plain.PRIMITIVES if name not in primitives]
    text += "".join((package_dir("templates") / "rtl" / name).read_text() for name in primitives)
    for layer in layers:
        verilog, roms = layer.verilog(res_bits)
        text += verilog
        tools.write_files(roms, out_dir)
    text += stream_top_verilog(layers, fifo_depths, res_bits) + "`default_nettype wire\n"
    path = out_dir / f"{TOP}.v"
    path.write_text(text)
    return path


def build_stream_twin(layers, fifo_depths, out_dir):
    """Write the streaming twin and build its Verilator testbench; return the executable."""
    return verilator_build([write_stream_verilog(layers, fifo_depths, out_dir)], TOP, TESTBENCH, Path(out_dir))


def run_stream_twin(layers, fifo_depths, codes_in, resolutions, out_dir, back_to_back=False, binary=None):
    """The chain in Verilator on ``codes_in`` (frames, n_in) at each of ``resolutions``: per resolution
    ``(outputs (frames, n_outputs), [(first, out)] per frame)``, the cycles ``timing`` gives. ``binary``: the
    testbench ``build_stream_twin`` built for ``out_dir`` (built here when None)."""
    first, last = layers[0], layers[-1]
    codes_in = check_codes(first.spec, codes_in, "streaming layer")
    out_dir = Path(out_dir)
    binary = binary or build_stream_twin(layers, fifo_depths, out_dir)
    raw_in = codes_in & ((1 << first.spec.in_width) - 1)
    frames, n_out = len(codes_in), last.spec.n_outputs
    header = (
        f"{frames} {first.in_words} {first.words} {first.spec.in_width} {last.out_words} {last.out_values} "
        f"{last.spec.out_width} {len(resolutions)} {int(back_to_back)}"
    )
    with open(out_dir / "twin_in.txt", "w") as f:
        f.write(header + "\n" + " ".join(map(str, resolutions)) + "\n")
        np.savetxt(f, raw_in, fmt="%d")
    run_logged([str(binary.resolve()), "twin_in.txt", "twin_out.txt"], out_dir, out_dir / "twin_run.log",
               "Verilator twin", 3600)  # fmt: skip
    rows = np.loadtxt(out_dir / "twin_out.txt", dtype=np.uint64, ndmin=2)
    if rows.shape != (len(resolutions) * frames, 4 + n_out):
        raise RuntimeError(f"twin output of shape {rows.shape}: the testbench stopped early (see twin_run.log)")
    results = []
    for n in range(len(resolutions)):
        block = rows[n * frames : (n + 1) * frames].astype(np.int64)
        raw = block[:, 4:]
        outputs = to_signed(raw, last.spec.out_width) if last.spec.out_signed else raw
        results.append((outputs, [(int(a), int(b)) for a, b in block[:, 2:4]]))
    return results


def stream_twin_layers(hls_model):
    """``(layers, fifo_depths)`` of an io_stream model the streaming twin covers (a chain of data-term, switchable
    BN and weight-term mMAC Dense layers), the FIFO depths as the project's streams have them; else None."""
    from mrfpga.hls.layers.streaming import pack_size  # the layers import the twin's spec: not at module level

    if hls_model.config.get_config_value("IOType") != "io_stream":
        return None
    nodes = [n for n in hls_model.get_layers() if n.class_name not in FLAT_LAYERS]
    if not nodes or any(n.class_name not in (*STREAM_TWIN_LAYERS, *STREAM_POOLS) for n in nodes):
        return None
    if any(n.class_name in STREAM_POOLS and max_pool_core(n) is None for n in nodes):
        return None
    layers = [StreamLayer(stream_core(n), pack_size(n.get_input_variable())) for n in nodes]
    cores = [getattr(layer.spec, "core", layer.spec) for layer in layers]
    if any(core.kind == "mmac_dense" and core.mode != "weight_term" for core in cores):
        return None
    return layers, [fifo_depth(node) for node in nodes[:-1]]


def fifo_depth(node):
    """The depth of the stream a node writes, as the project declares it (``#pragma HLS STREAM``; else 1)."""
    pragma = getattr(node.get_output_variable(), "pragma", None)
    return int(pragma[1]) if isinstance(pragma, tuple) and pragma[0] == "stream" else 1


def conv_module_name(spec):
    return f"{module_name(spec)}_stream"  # the io_parallel core inside it has the layer's own name


def stream_core(node):
    """The description the streaming twin takes of a node (``stream_twin_layers``)."""
    if node.class_name in STREAM_POOLS:
        return max_pool_core(node)
    if node.class_name != "MMACConv2D":
        return node.core_spec()
    attr = node.get_attr
    return StreamConvCore(
        core=node.core_spec(),
        rows=attr("in_height"),
        cols=attr("in_width"),
        n_chan=attr("n_chan"),
        filt_rows=attr("filt_height"),
        filt_cols=attr("filt_width"),
        stride_rows=attr("stride_height"),
        stride_cols=attr("stride_width"),
        pad_top=attr("pad_top"),
        pad_left=attr("pad_left"),
        out_rows=attr("out_height"),
        out_cols=attr("out_width"),
    )


def max_pool_core(node):
    """hls4ml's Pooling2D node as a ``MaxPoolCore`` when the twin covers it (max, the pool as large as its stride,
    no padding), else None."""
    attr = node.get_attr
    if "max" not in str(attr("pool_op", "")).lower():
        return None
    if (attr("stride_height"), attr("stride_width")) != (attr("pool_height"), attr("pool_width")):
        return None
    if any(attr(f"pad_{side}", 0) for side in ("top", "bottom", "left", "right")):
        return None
    precision = node.get_input_variable().type.precision
    return MaxPoolCore(
        name=node.name,
        rows=attr("in_height"),
        cols=attr("in_width"),
        n_chan=attr("n_filt"),
        pool_rows=attr("pool_height"),
        pool_cols=attr("pool_width"),
        bits=precision.width,
        signed=bool(precision.signed),
    )


# The streaming twin in Yosys: the BN's multipliers are DSP48E1s, as HLS maps them (the mMAC units multiply
# nothing); everything else as the io_parallel twin and the plain baseline are synthesized.
STREAM_SYNTH_OPTIONS = SYNTH_OPTIONS.replace("-nodsp ", "")


def synthesize(layers, fifo_depths, out_dir, units_per_layer=4, progress=None):
    """Size the whole streaming design with Yosys (``STREAM_SYNTH_OPTIONS``): ``{"tool", "method", "seconds",
    "total", "layers": {name: {...}}}``. Each mMAC core's units differ only in their ROM contents: with
    ``units_per_layer`` set, that many of each core are synthesized and every other unit counts as the mean of
    its core's sampled units (``measure.sampled_units``)."""
    return start_synthesis(layers, fifo_depths, out_dir, units_per_layer).result(progress)


@dataclass
class StreamSynthesis:
    """``synthesize`` going on in the background (Yosys is one process): ``result`` waits for its figures,
    ``stop`` ends it."""

    synthesis: object
    layers: list
    groups: dict
    method: str
    started: float

    def result(self, progress=None):
        stat, _ = self.synthesis.result()
        seconds = time.monotonic() - self.started
        cells = hierarchy_cells(stat, TOP, mean_stand_ins(stat, self.groups))
        if progress:
            progress(f"rtl: Yosys synthesized the streaming design in {seconds:.0f} s ({self.method})")
        return {
            "tool": f"{yosys_version()} synth_xilinx xc7 {STREAM_SYNTH_OPTIONS}",
            "method": self.method,
            "seconds": round(seconds, 1),
            "total": rounded_resources(cells[TOP]),
            "layers": {layer.spec.name: rounded_resources(cells[layer.module]) for layer in self.layers},
        }

    def stop(self):
        self.synthesis.stop()


def start_synthesis(layers, fifo_depths, out_dir, units_per_layer=4):
    """``synthesize`` started in the background: a ``StreamSynthesis``."""
    out_dir = Path(out_dir)
    verilog = write_stream_verilog(layers, fifo_depths, out_dir / "yosys")
    cores = [getattr(layer.spec, "core", layer.spec) for layer in layers]
    cores = [core for core in cores if core.kind == "mmac_dense"]
    boxes, groups, method = unit_samples(cores, units_per_layer, "whole streaming design")
    synthesis = tools.start_synthesis([verilog], TOP, out_dir / "yosys", STREAM_SYNTH_OPTIONS, boxes, depth=False)
    return StreamSynthesis(synthesis, layers, groups, method, time.monotonic())
