"""The Verilog twin of the kit's data-term and mMAC Dense layers (docs/mmac_core.md).

``write_verilog`` turns a list of core descriptions (``core_spec()`` of the hls4ml layers, see
``mrfpga.hls.twin.spec``) into synthesizable Verilog-2005: one module per layer, one module per mMAC unit
(its own term ROM), and a top that chains the layers by their start/done handshake. ``mrfpga.hls.twin.measure``
simulates it in Verilator and sizes it with Yosys.
"""

import re
from pathlib import Path

import numpy as np

from mrfpga.hls.layers.common import bits_for

from .spec import (
    check_chain,
    in_width,
    n_inputs,
    n_outputs,
    n_resolutions,
    out_width,
)

TOP = "mrfpga_top"


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
