"""The Verilog twin of the kit's data-term and mMAC Dense layers (docs/mmac_core.md).

``write_verilog`` turns a list of core descriptions (``mrfpga.hls.twin.spec``) into synthesizable Verilog-2005:
one module per layer, a thin module per mMAC unit instancing the fixed primitive ``mrfpga_mmac_unit``
(``templates/rtl``) with its own term ROM, whose contents are a ``$readmemh`` file beside the Verilog, and a top
that chains the layers by their start/done handshake. ``mrfpga.hls.twin.measure`` simulates it in Verilator and
sizes it with Yosys.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mrfpga.hls.package_data import package_dir

from .spec import accumulator_low_bits, bits_for, check_chain, lane_steps

PRIMITIVES = ("mrfpga_rom.v", "mrfpga_mmac_unit.v")
# A unit's term ROM from this size on goes into block RAM (one 18 Kib block holds 1,024 x 18 bits).
ROM_BLOCK_BITS = 1024

TOP = "mrfpga_top"


def module_name(spec):
    return "mrfpga_" + re.sub(r"\W", "_", spec.name)


def _case_rows(selector, rows, default):
    """A combinational case statement: ``rows`` is [(label, assignments)], ``default`` the assignments otherwise."""
    lines = [f"    case ({selector})"]
    lines += [f"      {label}: begin {body} end" for label, body in rows]
    lines += [f"      default: begin {default} end", "    endcase"]
    return "\n".join(lines)


def _resolution_table(spec_values, res_bits):
    """Per-resolution constants as a case on the resolution input (past the last: the last)."""
    names = list(spec_values)
    n_res = len(next(iter(spec_values.values()))[1])

    def body(r):
        return " ".join(f"{name} = {width}'d{values[r]};" for name, (width, values) in spec_values.items())

    rows = [(f"{res_bits}'d{r}", body(r)) for r in range(n_res - 1)]
    regs = "\n".join(f"  reg [{width - 1}:0] {name};" for name, (width, _) in spec_values.items())
    return f"{regs}\n  always @* begin\n{_case_rows('resolution', rows, body(n_res - 1))}\n  end\n", names


def _signed_digits(code, width, encoding, pos, neg):
    """Verilog statements: +/- digit masks ``pos``/``neg`` ([width:0]) of ``code`` (a [width+1:0] variable)."""
    if encoding == "naf":
        return (
            f"      half = {code} >> 1; x3 = {code} + half; carry = half ^ x3;\n"
            f"      {pos} = x3 & carry; {neg} = half & carry;\n"
        )
    if encoding == "hese":
        # A run of two or more ones, bits m..n, becomes 2^(n+1) - 2^m; a lone one stays.
        return (
            f"      run_start = {code} & ~({code} << 1); above_run = ~{code} & ({code} << 1);\n"
            f"      {neg} = run_start & ({code} >> 1);\n"
            f"      {pos} = (run_start & ~({code} >> 1)) | (above_run & ({code} << 2));\n"
        )
    return f"      {pos} = {code}; {neg} = 0;\n"


def _grid_verilog(spec):
    """The value on its grid (``ap_ufixed<bits, bits - frac, AP_RND or AP_RND_CONV, AP_SAT>``) from the
    registered input ``x``: the window of ``bits`` bits at the grid's position plus the rounding bit, a
    ``bits``-wide increment; saturated when the input is negative, has bits above the window, or the increment
    carries out. No adder spans the input's width: the path is the increment's."""
    iw, bits, shift = spec.in_width, spec.bits, spec.in_frac - spec.frac
    width = max(iw, bits + max(shift, 0)) + 2
    extend = f"{{{{{width - iw}{{x[{iw - 1}]}}}}, x}}" if spec.in_signed else f"{{{width - iw}'d0, x}}"
    if shift > 0:
        window = f"v[{shift + bits - 1}:{shift}]"
        if not spec.round_half_even:
            round_bit = f"v[{shift - 1}]"
        elif shift == 1:
            round_bit = "v[0] & v[1]"  # a tie rounds to the even code
        else:
            round_bit = f"v[{shift - 1}] & ((|v[{shift - 2}:0]) | v[{shift}])"
    elif shift == 0:
        window, round_bit = f"v[{bits - 1}:0]", "1'b0"
    else:  # the input has fewer fraction bits than the grid: shifted up, exact
        kept = bits + shift
        window = f"{{v[{kept - 1}:0], {-shift}'d0}}" if kept > 0 else f"{bits}'d0"
        round_bit = "1'b0"
    above = max(shift + bits, 0)  # the input's bits above the window
    return f"""  wire [{width - 1}:0] v = {extend};
  wire negative = v[{width - 1}];
  wire above = |v[{width - 2}:{above}];
  wire [{bits}:0] rounded = {{1'b0, {window}}} + {{{bits}'d0, {round_bit}}};
  always @* begin
    if (negative) on_grid = 0;
    else if (above || rounded[{bits}]) on_grid = {{{bits}{{1'b1}}}};
    else on_grid = rounded[{bits - 1}:0];
  end
"""


def data_term_table(spec, res_bits):
    """The resolution's budget (one-hot over "terms already kept", 0..bits+1: a digit stays while that count is
    below it) and the mask of the bits it keeps (an AND in each lane, not a shift), as a case on ``resolution``."""
    positions = spec.bits + 1
    budget_sel = [1 << b if b <= positions else 0 for b in spec.budgets]
    table, _ = _resolution_table(
        {
            "budget_sel": (positions + 1, budget_sel),
            "keep_mask": (spec.bits, [((1 << spec.bits) - 1) ^ ((1 << f) - 1) for f in spec.floors]),
        },
        res_bits,
    )
    return table


def data_term_value_verilog(spec):
    """The module of one value of a DataTerm layer: from its registered input, four registered stages (on its
    grid with the dropped low bits; its signed digits; the top budget digits), then the code."""
    iw, bits, name = spec.in_width, spec.bits, module_name(spec)
    ow, positions = bits + 1, bits + 1
    return f"""
// One value of {spec.name}: ap_ufixed<{bits}, {bits - spec.frac}, \
{"AP_RND_CONV" if spec.round_half_even else "AP_RND"}, AP_SAT> grid, dropped low bits, top {spec.encoding} terms.
module {name}_value (
  input wire clk,
  input wire step,
  input wire step_digits,
  input wire step_terms,
  input wire [{iw - 1}:0] x,
  input wire [{positions}:0] budget_sel,
  input wire [{bits - 1}:0] keep_mask,
  output reg [{ow - 1}:0] code
);
  /*verilator no_inline_module*/
  reg [{bits - 1}:0] on_grid, on_grid_q;
  reg [{bits + 1}:0] wide, half, x3, carry, run_start, above_run;
  reg [{bits}:0] all_pos, all_neg, digits_pos, digits_neg, pos, neg, pos_q, neg_q;
  reg [{positions}:0] kept;  // thermometer: bit n set once n terms are kept
  integer p;
{_grid_verilog(spec)}  always @(posedge clk) if (step) on_grid_q <= on_grid & keep_mask;
  always @* begin
    wide = {{2'b00, on_grid_q}};
{_signed_digits("wide", bits, spec.encoding, "all_pos", "all_neg")}  end
  // The digits registered: the top-a selection after them is a stage of its own.
  always @(posedge clk) if (step_digits) begin digits_pos <= all_pos; digits_neg <= all_neg; end
  always @* begin
    pos = 0; neg = 0; kept = 1;
    for (p = {bits}; p >= 0; p = p - 1)
      if (digits_pos[p] || digits_neg[p]) begin
        if ((kept & budget_sel) == 0) begin pos[p] = digits_pos[p]; neg[p] = digits_neg[p]; end
        kept = {{kept[{positions - 1}:0], 1'b1}};
      end
  end
  // The kept digits registered: the subtraction that makes the code is a stage of its own.
  always @(posedge clk) if (step_terms) begin pos_q <= pos; neg_q <= neg; end
  always @* code = pos_q - neg_q;
endmodule
"""


def data_term_verilog(spec, res_bits):
    """One DataTerm layer, ``lanes`` values a cycle in five stages: each lane's value selected from the input,
    registered; on its grid with the dropped low bits, registered; its signed digits, registered; the top budget
    digits, registered; the code."""
    n, iw, bits = spec.n_in, spec.in_width, spec.bits
    ow, positions = bits + 1, bits + 1
    table, name = data_term_table(spec, res_bits), module_name(spec)
    lanes, n_packs = spec.lanes, spec.n_packs
    pb = bits_for(n_packs - 1)
    lane_inputs = []
    for lane in range(lanes):
        rows = [
            (f"{pb}'d{p}", f"x_{lane} = in_data[{(p * lanes + lane) * iw} +: {iw}];")
            for p in range(n_packs)
            if p * lanes + lane < n
        ]
        default = rows.pop()[1] if rows else f"x_{lane} = 0;"
        lane_inputs.append(
            f"  reg [{iw - 1}:0] x_{lane}, x_{lane}_q;\n  wire [{ow - 1}:0] code_{lane};\n"
            f"  always @* begin\n{_case_rows('pack', rows, default)}\n  end\n"
            f"  always @(posedge clk) if (busy) x_{lane}_q <= x_{lane};\n"
            f"  {name}_value lane_{lane} (.clk(clk), .step(busy_b), .step_digits(busy_c), .step_terms(busy_d), "
            f".x(x_{lane}_q), .budget_sel(budget_q), .keep_mask(keep_mask_q), .code(code_{lane}));\n"
        )
    writes = "".join(
        f"      if (pack_e == {pb}'d{v // lanes}) out_data[{v * ow} +: {ow}] <= code_{v % lanes};\n" for v in range(n)
    )
    layer = f"""
// Data terms of {spec.name}: {n} values, {lanes} a cycle, in five stages (the lane's value selected, on its
// grid, its digits, the kept digits, its code). Cycles: 1 (the resolution latched) + {n_packs} packs + 4 (the
// last pack's later stages).
{_layer_header(name, res_bits, n * iw, n * ow)}{table}  reg [{positions}:0] budget_q;
  reg [{bits - 1}:0] keep_mask_q;
  reg busy, busy_b, busy_c, busy_d, busy_e, last_b, last_c, last_d, last_e;
  reg [{pb - 1}:0] pack, pack_b, pack_c, pack_d, pack_e;
{"".join(lane_inputs)}  always @(posedge clk) begin
    done <= 1'b0;
    busy_b <= busy;
    busy_c <= busy_b;
    busy_d <= busy_c;
    busy_e <= busy_d;
    pack_b <= pack;
    pack_c <= pack_b;
    pack_d <= pack_c;
    pack_e <= pack_d;
    last_b <= busy && pack == {pb}'d{n_packs - 1};
    last_c <= last_b;
    last_d <= last_c;
    last_e <= last_d;
    if (busy_e) begin
{writes}      if (last_e) done <= 1'b1;
    end
    if (rst) begin busy <= 1'b0; busy_b <= 1'b0; busy_c <= 1'b0; busy_d <= 1'b0; busy_e <= 1'b0; end
    else if (start) begin
      busy <= 1'b1; pack <= 0; budget_q <= budget_sel; keep_mask_q <= keep_mask;
    end else if (busy) begin
      pack <= pack + 1'b1;
      if (pack == {pb}'d{n_packs - 1}) busy <= 1'b0;
    end
  end
endmodule
"""
    return data_term_value_verilog(spec) + layer


def _layer_header(name, res_bits, in_bits, out_bits):
    """A layer module's ports: the handshake, the resolution, the input and output buses."""
    return f"""(* keep_hierarchy *)
module {name} (
  input wire clk,
  input wire rst,
  input wire start,
  input wire [{res_bits - 1}:0] resolution,
  input wire [{in_bits - 1}:0] in_data,
  output reg done,
  output reg [{out_bits - 1}:0] out_data
);
"""


def _rom_text(column, entry_bits, lanes=1):
    """A ROM's contents for ``$readmemh``: one hex word a line, each of ``lanes`` consecutive entries (the first in
    the low bits)."""
    rows = np.asarray(column, np.int64).reshape(-1, lanes)
    digits = -(-entry_bits * lanes // 4)
    words = [sum(int(v) << (lane * entry_bits) for lane, v in enumerate(row)) for row in rows]
    return "".join(f"{w:0{digits}x}\n" for w in words)


@dataclass(frozen=True)
class UnitRom:
    """What a layer's weight-term units share: their ROMs' shape and the resolution's table of term slots and
    exponent floor (``slots``, ``floor``, a case on ``resolution``)."""

    depth: int
    addr_bits: int
    entry_bits: int
    floor_bits: int
    slot_bits: int
    block: int
    table: str
    lanes: int = 1
    step_bits: int = 0  # lanes > 1: the width of ``steps``, the resolution's rows per group


def unit_rom(spec, res_bits):
    lanes = spec.lanes
    depth = spec.reuse * spec.n_groups * spec.max_steps
    entry_bits = spec.index_bits + spec.exponent_bits + 2
    floor_bits, slot_bits = bits_for(max(spec.weight_floors)), bits_for(max(spec.group_terms))
    values = {"slots": (slot_bits, spec.group_terms), "floor": (floor_bits, spec.weight_floors)}
    step_bits = 0
    if lanes > 1:
        steps = [spec.slot_steps(r) for r in range(spec.n_resolutions)]
        step_bits = bits_for(max(steps))
        values["steps"] = (step_bits, steps)
    table, _ = _resolution_table(values, res_bits)
    block = int(depth * entry_bits * lanes >= ROM_BLOCK_BITS)
    return UnitRom(depth, bits_for(depth - 1), entry_bits, floor_bits, slot_bits, block, table, lanes, step_bits)


def unit_module_head(name, spec, rom_of):
    """The first ports of a layer's unit module ``name`` (the ROM's read, the group's values, the floor)."""
    return (
        f"\n(* keep_hierarchy *)\nmodule {name} (\n"
        f"  input wire clk, input wire read, input wire [{rom_of.addr_bits - 1}:0] addr,\n"
        f"  input wire [{spec.group_size * spec.data_bits - 1}:0] group_values, "
        f"input wire [{rom_of.floor_bits - 1}:0] floor_q,\n"
        + (f"  input wire [{rom_of.lanes - 1}:0] lane_on,\n" if rom_of.lanes > 1 else "")
    )


def unit_parameters(spec, rom, rom_of, extra=""):
    """The parameters of a layer's ``mrfpga_mmac_unit`` instance with ROM file ``rom`` (``extra``: more of them)."""
    return (
        f'#(.ROM_FILE("{rom}"), .DEPTH({rom_of.depth}), .ADDR_BITS({rom_of.addr_bits}), '
        f".INDEX_BITS({spec.index_bits}),\n    .EXP_BITS({spec.exponent_bits}), .GROUP({spec.group_size}), "
        f".DATA_BITS({spec.data_bits}), .DATA_SIGNED({int(spec.data_signed)}),\n    .ACC_WIDTH({spec.acc_width}), "
        f".ACC_SHIFT({spec.acc_shift}), .FLOOR_BITS({rom_of.floor_bits}), .MAX_EXP({spec.max_exponent}),\n"
        f"    .ROM_BLOCK({rom_of.block}){extra}{f', .LANES({rom_of.lanes})' if rom_of.lanes > 1 else ''})"
    )


def mmac_dense_verilog(spec, res_bits):
    """One mMAC Dense layer (weight-term units owning whole outputs): its unit modules, then the layer.

    Returns ``(verilog, {ROM file name: contents})``."""
    if spec.mode != "weight_term":
        raise ValueError(f"layer {spec.name}: the twin models the weight-term unit, not {spec.mode!r}")
    name = module_name(spec)
    n_in, n_out, ab, db = spec.n_in, spec.n_out, spec.acc_width, spec.data_bits
    group, n_groups, reuse, units, max_terms = spec.group_size, spec.n_groups, spec.reuse, spec.n_units, spec.max_terms
    rom_of = unit_rom(spec, res_bits)
    lanes = rom_of.lanes
    row_steps = spec.max_steps  # ROM rows per group
    jb, gb, tb = bits_for(reuse - 1), bits_for(n_groups - 1), bits_for(row_steps - 1)
    ab_addr, entry_bits, table = rom_of.addr_bits, rom_of.entry_bits, rom_of.table
    floor_bits, slot_bits = rom_of.floor_bits, rom_of.slot_bits
    lo_bits = accumulator_low_bits(ab)
    mask = (1 << ab) - 1
    roms, modules, instances = {}, [], []
    lane_port = ".lane_on(lane_on), " if lanes > 1 else ".lane_on(1'b1), "
    lane_input = ".lane_on(lane_b), " if lanes > 1 else ""
    # A unit's ROM word is a step's lanes: rows [round][group][step][lane], `lanes` rows to a word.
    rom_rows = lane_steps(spec.table, reuse * n_groups, max_terms, lanes).reshape(-1, units)
    for u in range(units):
        rom = f"{name}_u{u}.mem"
        roms[rom] = _rom_text(rom_rows[:, u], entry_bits, lanes)
        head = unit_module_head(f"{name}_u{u}", spec, rom_of)
        modules.append(
            head
            + f"""  input wire step, input wire accumulate, input wire restart, \
input wire accumulate_hi, input wire restart_hi,
  input wire [{ab - 1}:0] init, output wire [{ab - 1}:0] acc_next
);
  mrfpga_mmac_unit {unit_parameters(spec, rom, rom_of)} unit (
    .clk(clk), .read(read), .addr(addr), .group_values(group_values), .floor_q(floor_q), \
{lane_port}.step(step),
    .accumulate(accumulate), .restart(restart), .accumulate_hi(accumulate_hi), .restart_hi(restart_hi),
    .round_c(1'b0), .round_d(1'b0), .init(init), .acc_next(acc_next), .acc_all());
endmodule
"""
        )
        # The bias of the round that starts: round 0 at the load, round j + 1 at the end of round j (the low
        # half when stage C ends it, the high half when stage D does).
        served = [o for o in range(u, reuse * units, units)]
        bias = [int(spec.bias[o]) & mask if o < n_out else 0 for o in served]
        if reuse == 1:
            init = f"{ab}'d{bias[0]}"
        else:
            init = f"init_{u}"
            halves = []
            for top, bottom, stage in ((lo_bits - 1, 0, "round_c"), (ab - 1, lo_bits, "round_d")):
                width = top - bottom + 1
                part = [(b >> bottom) & ((1 << width) - 1) for b in bias]
                rows = [(f"{jb}'d{j}", f"init_{u}[{top}:{bottom}] = {width}'d{part[j + 1]};") for j in range(reuse - 1)]
                halves.append(
                    f"    if (load) init_{u}[{top}:{bottom}] = {width}'d{part[0]};\n    else begin\n"
                    f"{_case_rows(stage, rows, f'init_{u}[{top}:{bottom}] = 0;')}\n    end\n"
                )
            instances.append(f"  reg [{ab - 1}:0] init_{u};\n  always @* begin\n{''.join(halves)}  end\n")
        instances.append(
            f"  wire [{ab - 1}:0] acc_{u};\n"
            f"  {name}_u{u} unit_{u} (.clk(clk), .read(issue), .addr(addr), .group_values(group_q), "
            f".floor_q(floor_q), {lane_input}.step(step_b), .accumulate(step_c), .restart(load | round_end_c), "
            f".accumulate_hi(step_d), .restart_hi(load | round_end_d), .init({init}), .acc_next(acc_{u}));\n"
        )
    # The group's values: a shared selection over the groups, registered with the ROM read (stage A).
    value_cases = []
    for lane in range(group):
        rows = [
            (f"{gb}'d{g}", f"group_a[{lane * db} +: {db}] = in_data[{(base + lane) * db} +: {db}];")
            for g, base in enumerate(spec.group_bases)
            if lane < spec.group_size_of(g)
        ]
        value_cases.append(_case_rows("g", rows, f"group_a[{lane * db} +: {db}] = {db}'d0;"))
    writes = "".join(
        f"      if (round_end_c && round_c == {jb}'d{o // units}) "
        f"out_data[{o * ab} +: {lo_bits}] <= acc_{o % units}[{lo_bits - 1}:0];\n"
        f"      if (round_end_d && round_d == {jb}'d{o // units}) "
        f"out_data[{o * ab + lo_bits} +: {ab - lo_bits}] <= acc_{o % units}[{ab - 1}:{lo_bits}];\n"
        for o in range(n_out)
    )
    if lanes > 1:
        # The steps walk rows of `lanes` slots; lane l of step t holds slot t * lanes + l, on while within the
        # resolution's slots (registered with the ROM read, for stage B).
        sb = rom_of.step_bits
        on = " ".join(f"assign lane_on[{lane}] = t * {slot_bits + tb}'d{lanes} + {slot_bits + tb}'d{lane} < slots_q;"
                      for lane in range(lanes))  # fmt: skip
        lane_control = (
            f"  reg [{sb - 1}:0] steps_q;\n  wire slot_last = t == steps_q - 1'b1;\n"
            f"  wire [{lanes - 1}:0] lane_on;\n  reg [{lanes - 1}:0] lane_b;\n  {on}"
        )
        steps_load, lane_register = " steps_q <= steps;", "\n      if (issuing) lane_b <= lane_on;"
    else:
        lane_control, steps_load, lane_register = "  wire slot_last = t == slots_q - 1'b1;", "", ""
    empty_outputs = "".join(
        f"      out_data[{o * ab} +: {ab}] <= {ab}'d{int(spec.bias[o]) & mask};\n" for o in range(n_out)
    )
    layer = f"""
// {spec.name}: mMAC Dense, {n_in} -> {n_out}, {n_groups} groups of {group}, {units} weight-term units, each
// owning {reuse} output(s) one round after another. Cycles: 1 (load) + rounds * groups * slots + 3 (the last
// step's product and its two accumulation stages, low half then high half).
{_layer_header(name, res_bits, n_in * db, n_out * ab)}{table}  reg [{slot_bits - 1}:0] slots_q;
  reg [{floor_bits - 1}:0] floor_q;
  reg issuing, step_b, round_end_b, last_b, step_c, round_end_c, last_c, step_d, round_end_d, last_d;
  reg flush, flush_b, flush_c;
  reg [{jb - 1}:0] j, round_b, round_c, round_d;
  reg [{gb - 1}:0] g;
  reg [{tb - 1}:0] t;
  reg [{group * db - 1}:0] group_a, group_q;
  wire load = start;
  wire issue = issuing;
  wire [{ab_addr - 1}:0] addr = j * {ab_addr}'d{n_groups * row_steps} + g * {ab_addr}'d{row_steps} + t;
{lane_control}
  wire group_last = g == {gb}'d{n_groups - 1};
  wire round_last = j == {jb}'d{reuse - 1};
  always @* begin
{chr(10).join(value_cases)}
  end
  always @(posedge clk) begin
    done <= 1'b0;
    flush <= 1'b0;
    flush_b <= flush;
    flush_c <= flush_b;
    if (rst) begin
      issuing <= 1'b0; step_b <= 1'b0; round_end_b <= 1'b0; step_c <= 1'b0; round_end_c <= 1'b0;
      step_d <= 1'b0; round_end_d <= 1'b0;
    end else begin
      step_b <= issuing;
      round_end_b <= issuing && slot_last && group_last;
      last_b <= issuing && slot_last && group_last && round_last;
      round_b <= j;
      step_c <= step_b;
      round_end_c <= round_end_b;
      last_c <= last_b;
      round_c <= round_b;
      step_d <= step_c;
      round_end_d <= round_end_c;
      last_d <= last_c;
      round_d <= round_c;
      if (issuing) group_q <= group_a;{lane_register}
      if (load) begin
        slots_q <= slots; floor_q <= floor;{steps_load}
        j <= 0; g <= 0; t <= 0;
        issuing <= slots != 0;
        flush <= slots == 0;
      end else if (issuing) begin
        if (!slot_last) t <= t + 1'b1;
        else begin
          t <= 0;
          if (!group_last) g <= g + 1'b1;
          else begin g <= 0; j <= j + 1'b1; if (round_last) issuing <= 1'b0; end
        end
      end
      if (step_d && last_d) done <= 1'b1;
      if (flush_c) done <= 1'b1;
    end
  end

{"".join(instances)}
  always @(posedge clk) begin
    if (flush_c) begin
{empty_outputs}    end else begin
{writes}    end
  end
endmodule
"""
    return "".join(modules) + layer, roms


def resolution_bits(specs):
    return bits_for(max(spec.n_resolutions for spec in specs) - 1)


def module_ports(name, ports):
    """A top's ``module name (`` line, its ports one a line (no comma after the last; a port's ``  // note``
    stays after its comma) and the closing ``);``."""
    lines = [f"module {name} ("]
    for n, port in enumerate(ports):
        declaration, _, note = port.partition("  // ")
        lines.append(f"  {declaration}{',' if n + 1 < len(ports) else ''}" + (f"  // {note}" if note else ""))
    return [*lines, ");"]


def chain_ports(specs, resolution):
    """The ports of a top that chains ``specs`` (``chain_lines``): ``resolution``, the resolution input's
    declaration."""
    first, last = specs[0], specs[-1]
    return [
        "input wire clk",
        "input wire rst",
        "input wire start",
        resolution,
        f"input wire [{first.n_in * first.in_width - 1}:0] in_data",
        "output wire done",
        f"output wire [{last.n_outputs * last.out_width - 1}:0] out_data",
    ]


def top_verilog(specs):
    """The chain: each layer starts on the previous one's done; the resolution is latched at the top's start."""
    rb = resolution_bits(specs)
    lines = [
        f"\n// The chain {' -> '.join(spec.name for spec in specs)}; cycles are the sum of the layers'.",
        *module_ports(TOP, chain_ports(specs, f"input wire [{rb - 1}:0] resolution")),
        f"  reg [{rb - 1}:0] resolution_q;",
        "  always @(posedge clk) if (start) resolution_q <= resolution;",
        f"  wire [{rb - 1}:0] resolution_now = start ? resolution : resolution_q;",
    ]
    return "\n".join(lines + chain_lines(specs, module_name, "resolution_now"))


def chain_lines(specs, name_of, resolution=None):
    """The body of a top that chains ``specs``: each layer (module ``name_of(spec)``) starts on the previous one's
    done and reads its data; ``resolution``: the signal each layer's resolution port takes (None: no port)."""
    first = specs[0]
    lines = ["  wire start_0 = start;", f"  wire [{first.n_in * first.in_width - 1}:0] data_0 = in_data;"]
    port = f".resolution({resolution}), " if resolution else ""
    for n, spec in enumerate(specs):
        lines.append(f"  wire start_{n + 1};")
        lines.append(f"  wire [{spec.n_outputs * spec.out_width - 1}:0] data_{n + 1};")
        lines.append(
            f"  {name_of(spec)} layer_{n} (.clk(clk), .rst(rst), .start(start_{n}), {port}.in_data(data_{n}), "
            f".done(start_{n + 1}), .out_data(data_{n + 1}));"
        )
    return lines + [f"  assign done = start_{len(specs)};", f"  assign out_data = data_{len(specs)};", "endmodule", ""]


def layer_verilog(spec, res_bits):
    """``(verilog, {ROM file name: contents})`` of one layer."""
    if spec.kind == "data_term":
        return data_term_verilog(spec, res_bits), {}
    return mmac_dense_verilog(spec, res_bits)


def write_verilog(specs, out_dir):
    """Write ``out_dir/mrfpga_top.v`` (the primitives, every layer and the chain) and the units' ROM files beside
    it; return the Verilog's path."""
    check_chain(specs)
    names = [module_name(spec) for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"layer names collide as Verilog modules: {names}")
    rb = resolution_bits(specs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = "// Generated by mrfpga (docs/mmac_core.md): the Verilog twin of the HLS layers.\n`default_nettype none\n"
    text += "".join((package_dir("templates") / "rtl" / name).read_text() for name in PRIMITIVES)
    for spec in specs:
        verilog, roms = layer_verilog(spec, rb)
        text += verilog
        for rom, contents in roms.items():
            (out_dir / rom).write_text(contents)
    text += top_verilog(specs) + "`default_nettype wire\n"
    path = out_dir / f"{TOP}.v"
    path.write_text(text)
    return path
