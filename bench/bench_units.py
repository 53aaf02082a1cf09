"""Measures the figures of the mMAC's cost model (``hls/layers/unit_costs.py``) with Yosys on the Verilog twin.

Every design is the twin's own Verilog (``mrfpga.hls.twin.verilog.layer_verilog``) of cores built from random
8-bit NAF weights in groups of 16 (``dense_core``, weight-term units, budgets k = 8..20 of the reference
resolutions; ``DataTermCore``, 8-bit codes, 4 lanes), synthesized by the twins' one command
(``tools.SYNTH_OPTIONS`` through ``tools.synthesize_sources``): each layer and each unit is a module of its own,
so a unit and a layer without its units are read apart. It prints, measured beside the cost model's figure:

(a) one weight-term unit (the mean of a layer's 3 units): at accumulators of 16, 24 and 32 bits, at 9-bit
    unsigned and 16-bit signed values, its term ROM in block RAM (1,024 bits or more) or distributed in LUTs
    (200, 400 and 800 bits);
(b) the layer without its units (the group select shared by the units, each unit's next bias, the output
    registers, the control) at 1, 2 and 4 groups;
(c) a data-term layer: a lane (its grid, dropped bits, NAF and top-a terms; from layers of one pack) and the
    selection of a pack's inputs at 8 and 16 packs;
(d) the demo-shaped MLP (data terms, then mMAC Dense 64 -> 64 -> 32 -> 10) at reuse 4 and 2, per layer and in
    total, with its cycles at the lowest and highest resolution (``measure.synthesize``);
(e) with ``--parts products``: hls4ml-style constant-weight products (16 8-bit inputs times constant 4/6/8-bit weights,
    summed), LUT per product with DSPs disabled and the DSP48E1 when allowed (``hls4ml_layers``' constants).

(a) to (c) are one Yosys run, (d) one a reuse factor, (e) two. Run from the repository root (about 11 minutes
on 2 busy cores, half of it (a) to (c); ``--every-unit`` synthesizes every unit of (d) instead of 4 a layer,
a few minutes more):

    .venv/bin/python bench/bench_units.py [--parts units layers data_terms demo products] [--every-unit]
"""

import argparse
import dataclasses
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from mrfpga.hls.layers import unit_costs as costs
from mrfpga.hls.package_data import package_dir
from mrfpga.hls.twin import measure, tools, verilog
from mrfpga.hls.twin.spec import DataTermCore, dense_core, layer_cycles

WEIGHT_BITS = 8  # exponents 0..8: 4 bits; index in a group of 16: 4 bits; an entry of 10 bits
GROUP = 16
# The reference resolutions (a, k): docs/algorithms.md#resolutions-and-the-term-pair-budget
WEIGHT_BUDGETS = (8, 10, 12, 14, 14, 16, 18, 20)
DATA_BUDGETS = (2, 2, 2, 2, 3, 3, 3, 3)
DATA_BITS = 9  # an 8-bit data-term code plus the NAF carry bit
KEYS = ("LUT", "FF", "CARRY4", "BRAM_18K")
TOP = "bench_top"


def dense(name, *, n_in=GROUP, n_out, reuse, data_bits=DATA_BITS, data_signed=False, acc_width=None, seed=0):
    """A weight-term mMAC Dense of random 8-bit NAF weights; ``acc_width`` set to study one, whatever the bound."""
    rng = np.random.default_rng(seed)
    core = dense_core(
        name,
        rng.integers(0, 1 << WEIGHT_BITS, (n_in, n_out)),
        rng.choice([-1, 1], (n_in, n_out)),
        rng.integers(-1000, 1000, n_out),
        group_size=GROUP,
        reuse=reuse,
        weight_bits=WEIGHT_BITS,
        weight_budgets=WEIGHT_BUDGETS,
        mode="weight_term",
        data_bits=data_bits,
        data_budgets=[1] * len(WEIGHT_BUDGETS),
        data_signed=data_signed,
        data_frac=4,
    )
    return dataclasses.replace(core, acc_width=acc_width) if acc_width else core


def data_terms(name, n_in, *, lanes=4, in_width=16, in_signed=True):
    """A data-term layer: values of ``in_width`` bits (8 fraction bits) onto 8-bit codes (4 fraction bits)."""
    return DataTermCore(
        name=name, n_in=n_in, bits=8, frac=4, encoding="naf", budgets=DATA_BUDGETS, floors=[0] * len(DATA_BUDGETS),
        round_half_even=False, in_width=in_width, in_frac=8, in_signed=in_signed, lanes=lanes,
    )  # fmt: skip


def rom_bits(spec):
    return spec.reuse * spec.n_groups * spec.max_terms * (spec.index_bits + spec.exponent_bits + 2)


def in_block_ram(spec):
    return rom_bits(spec) >= verilog.ROM_BLOCK_BITS


# ---------------------------------------------------------------- one Yosys run over layers side by side


def bench_top(specs, rb):
    """A top with every layer side by side on its own slice of the inputs, every output kept."""
    ins, outs = [], []
    lines = []
    for n, spec in enumerate(specs):
        iw, ow = spec.n_in * spec.in_width, spec.n_outputs * spec.out_width
        lines.append(
            f"  {verilog.module_name(spec)} layer_{n} (.clk(clk), .rst(rst), .start(start), .resolution(resolution), "
            f".in_data(in_data[{sum(ins)} +: {iw}]), .done(done[{n}]), .out_data(out_data[{sum(outs)} +: {ow}]));"
        )
        ins.append(iw)
        outs.append(ow)
    head = (
        f"\nmodule {TOP} (input wire clk, input wire rst, input wire start, input wire [{rb - 1}:0] resolution,\n"
        f"  input wire [{sum(ins) - 1}:0] in_data, output wire [{len(specs) - 1}:0] done,\n"
        f"  output wire [{sum(outs) - 1}:0] out_data);\n"
    )
    return head + "\n".join(lines) + "\nendmodule\n"


def synthesize_layers(specs, out_dir):
    """{module: resources, submodules counted in} of one Yosys run over independent layers."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rb = verilog.resolution_bits(specs)
    text = "`default_nettype none\n"
    text += "".join((package_dir("templates") / "rtl" / name).read_text() for name in verilog.PRIMITIVES)
    for spec in specs:
        source, roms = verilog.layer_verilog(spec, rb)
        text += source
        for rom, contents in roms.items():
            (out_dir / rom).write_text(contents)
    path = out_dir / f"{TOP}.v"
    path.write_text(text + bench_top(specs, rb) + "`default_nettype wire\n")
    stat, _ = tools.synthesize_sources([path], TOP, out_dir, tools.SYNTH_OPTIONS, depth=False)
    return {name: tools.resources_of_cells(cells) for name, cells in tools.hierarchy_cells(stat, TOP).items()}


def units_of(figures, spec):
    return [figures[f"{verilog.module_name(spec)}_u{u}"] for u in range(spec.n_units)]


def mean_unit(figures, spec):
    units = units_of(figures, spec)
    return {key: float(np.mean([unit[key] for unit in units])) for key in KEYS}


def without_units(figures, spec):
    layer = figures[verilog.module_name(spec)]
    return {key: layer[key] - sum(unit[key] for unit in units_of(figures, spec)) for key in KEYS}


def ratio(estimate, measured):
    return f"{estimate / measured:.2f}" if measured else "-"


# ---------------------------------------------------------------- the cost model's parts


def unit_estimate(spec):
    block = in_block_ram(spec)
    entry_bits = spec.index_bits + spec.exponent_bits + 2
    return {
        "LUT": costs.mmac_unit_lut(spec.acc_width, spec.data_bits, spec.group_size, 0 if block else rom_bits(spec)),
        # The accumulator and the registered product (and a distributed ROM's output register), as
        # mmac_dense_resources counts them.
        "FF": 2 * spec.acc_width + entry_bits * (not block) + costs.UNIT_FF_STAGE,
        "BRAM_18K": math.ceil(rom_bits(spec) / 18432) if block else 0,
    }


def overhead_estimate(spec):
    """The layer's estimate less its units': the group select, next biases, output registers and control."""
    whole, unit = costs.mmac_dense_resources(spec), unit_estimate(spec)
    return {key: whole[key] - spec.n_units * unit[key] for key in ("LUT", "FF")}


# ---------------------------------------------------------------- (a) to (c)


UNIT_CASES = {  # name: (accumulator bits, value bits, signed values, reuse: ROM bits = reuse * 20 terms * 10)
    "acc16": (16, DATA_BITS, False, 8),
    "acc24": (24, DATA_BITS, False, 8),
    "acc32": (32, DATA_BITS, False, 8),
    "data16": (24, 16, True, 8),
    "data16_acc32": (32, 16, True, 8),
    "rom200": (24, DATA_BITS, False, 1),
    "rom400": (24, DATA_BITS, False, 2),
    "rom800": (24, DATA_BITS, False, 4),
}
GROUP_COUNTS = (1, 2, 4)
TERM_CASES = {  # name: (values, lanes)
    "terms_1x2": (2, 2),
    "terms_1x4": (4, 4),
    "terms_8x4": (32, 4),
    "terms_16x4": (64, 4),
}


def part_specs(parts):
    specs = {}
    if "units" in parts:
        for name, (acc, bits, signed, reuse) in UNIT_CASES.items():
            specs[name] = dense(
                f"unit_{name}", n_out=3 * reuse, reuse=reuse, data_bits=bits, data_signed=signed, acc_width=acc
            )
    if "layers" in parts:
        for groups in GROUP_COUNTS:
            specs[f"groups{groups}"] = dense(
                f"layer_{groups}g", n_in=GROUP * groups, n_out=8, reuse=4, acc_width=24, seed=groups
            )
    if "data_terms" in parts:
        for name, (n, lanes) in TERM_CASES.items():
            specs[name] = data_terms(name, n, lanes=lanes)
    return specs


def print_units(figures, specs):
    print("\n(a) one weight-term unit, mean of 3 (16:1 operand select, groups of 16; estimate: mmac_unit_lut)")
    head = f"  {'case':<13}{'acc':>4}{'data':>6}{'ROM bits':>9}{'where':>7}"
    head += f"{'LUT':>8}{'est.':>7}{'est./LUT':>9}{'FF':>6}{'est.':>5}{'CARRY4':>7}{'BRAM':>5}{'est.':>5}"
    print(head)
    for name in UNIT_CASES:
        spec = specs[name]
        unit, est = mean_unit(figures, spec), unit_estimate(spec)
        data = f"{spec.data_bits}{'s' if spec.data_signed else 'u'}"
        where = "block" if in_block_ram(spec) else "LUT"
        print(
            f"  {name:<13}{spec.acc_width:>4}{data:>6}{rom_bits(spec):>9}{where:>7}{unit['LUT']:>8.1f}"
            f"{est['LUT']:>7.0f}{ratio(est['LUT'], unit['LUT']):>9}{unit['FF']:>6.1f}{est['FF']:>5}"
            f"{unit['CARRY4']:>7.1f}{unit['BRAM_18K']:>5.1f}{est['BRAM_18K']:>5}"
        )
    acc = [mean_unit(figures, specs[f"acc{w}"]) for w in (16, 24, 32)]
    print(
        f"  per accumulator bit (16 -> 32): {(acc[2]['LUT'] - acc[0]['LUT']) / 16:.2f} LUT, "
        f"{(acc[2]['FF'] - acc[0]['FF']) / 16:.2f} FF (the model: 3 LUT, 2 FF)"
    )
    wide = mean_unit(figures, specs["data16"])
    print(
        f"  9 -> 16 value bits: {wide['LUT'] - acc[1]['LUT']:+.1f} LUT "
        f"(the model: the 16:1 select, {costs.mux_lut(GROUP, 16) - costs.mux_lut(GROUP, DATA_BITS):+d})"
    )
    distributed = [(rom_bits(specs[n]), mean_unit(figures, specs[n])["LUT"]) for n in ("rom200", "rom400", "rom800")]
    (slope, base) = np.polyfit([b for b, _ in distributed], [lut for _, lut in distributed], 1)
    print(
        f"  distributed ROM: {slope:.4f} LUT per bit (+{base:.1f}; the model: {costs.LUT_PER_ROM_BIT} per bit "
        f"+ {costs.UNIT_LUT:.0f}); the same unit with its ROM in block RAM: {acc[1]['LUT']:.1f} LUT"
    )


def print_layers(figures, specs):
    print("\n(b) the layer without its units: 8 outputs of 24 bits, reuse 4 (2 units), 9-bit values")
    print(f"  {'groups':>6}{'LUT':>7}{'est.':>7}{'est./LUT':>9}{'FF':>6}{'est.':>6}{'CARRY4':>7}")
    for groups in GROUP_COUNTS:
        spec = specs[f"groups{groups}"]
        rest, est = without_units(figures, spec), overhead_estimate(spec)
        print(
            f"  {groups:>6}{rest['LUT']:>7}{est['LUT']:>7.0f}{ratio(est['LUT'], rest['LUT']):>9}{rest['FF']:>6}"
            f"{est['FF']:>6.0f}{rest['CARRY4']:>7}"
        )
    print(
        f"  (the model: a {GROUP * DATA_BITS}-bit n_groups:1 select, ceil(n_groups / 4) LUT a bit; "
        f"each unit's next bias, acc / 4 LUT; control {costs.LAYER_CONTROL_LUT:.0f})"
    )


def print_data_terms(figures, specs):
    print("\n(c) data-term layers: 8-bit codes from 16-bit signed values, 4 lanes (estimate: data_term_resources)")
    print(
        f"  {'values':>6}{'lanes':>6}{'packs':>6}{'LUT':>7}{'est.':>7}{'est./LUT':>9}{'FF':>6}{'est.':>6}{'CARRY4':>7}"
    )
    rows = {}
    for name in TERM_CASES:
        spec = specs[name]
        fig, est = figures[verilog.module_name(spec)], costs.data_term_resources(spec)
        rows[name] = fig
        print(
            f"  {spec.n_in:>6}{spec.lanes:>6}{spec.n_packs:>6}{fig['LUT']:>7}{est['LUT']:>7}"
            f"{ratio(est['LUT'], fig['LUT']):>9}{fig['FF']:>6}{est['FF']:>6}{fig['CARRY4']:>7}"
        )
    lane = (rows["terms_1x4"]["LUT"] - rows["terms_1x2"]["LUT"]) / 2
    print(f"  a lane (one pack, 4 lanes against 2): {lane:.1f} LUT (the model: {costs.DATA_TERM_LANE_LUT:.0f})")
    for name in ("terms_8x4", "terms_16x4"):
        spec = specs[name]
        rest = rows[name]["LUT"] - spec.lanes * lane
        bits = spec.lanes * spec.in_width
        model = costs.mux_lut(spec.n_packs, bits) + costs.DATA_TERM_CONTROL_LUT
        print(
            f"  {spec.n_packs:>2} packs: the layer less its lanes (pack selection, output writes, control) {rest:.0f} "
            f"LUT, {rest / bits:.2f} a lane input bit (the model: {model:.0f}, {model / bits:.2f})"
        )


# ---------------------------------------------------------------- (d) the demo-shaped MLP


def demo_specs(reuse):
    """Data terms, then mMAC Dense 64 -> 64 -> 32 -> 10: each data-term layer reads the layer before it."""
    specs, n_in, in_width = [], 64, 16
    for n, n_out in enumerate((64, 32, 10)):
        specs.append(data_terms(f"terms_{n}", n_in, in_width=in_width))
        specs.append(dense(f"dense_{n}", n_in=n_in, n_out=n_out, reuse=reuse, seed=n))
        n_in, in_width = n_out, specs[-1].acc_width
    return specs


def layer_estimate(spec):
    if spec.kind == "mmac_dense":
        return costs.mmac_dense_resources(spec)
    return costs.data_term_resources(spec)


def print_demo(reuse, out_dir, every_unit):
    specs = demo_specs(reuse)
    start = time.monotonic()
    units_per_layer = None if every_unit else 4
    sized = measure.synthesize(specs, out_dir, units_per_layer=units_per_layer)
    print(f"\n(d) the demo-shaped MLP at reuse {reuse}: {sized['method']}; Yosys {time.monotonic() - start:.0f} s")
    # The synthesized units of each Dense, read from the run's statistics.
    stat = json.loads((Path(out_dir) / "yosys" / f"{verilog.TOP}_stat.json").read_text())
    cells = tools.hierarchy_cells(stat, verilog.TOP)
    print(
        f"  {'layer':<9}{'units':>6}{'LUT':>7}{'est.':>7}{'est./LUT':>9}{'FF':>7}{'est.':>7}"
        f"{'CARRY4':>7}{'BRAM':>5}{'est.':>5}{'DSP':>4}{'cycles':>12}   a unit: LUT, FF (est.)"
    )
    total = {"LUT": 0, "FF": 0, "BRAM_18K": 0}
    for spec in specs:
        fig, est = sized["layers"][spec.name], layer_estimate(spec)
        total = {key: total[key] + est[key] for key in total}
        units = spec.n_units if spec.kind == "mmac_dense" else f"{spec.lanes}L"
        cycles = f"{layer_cycles(spec, 0)}..{layer_cycles(spec, len(WEIGHT_BUDGETS) - 1)}"
        unit = ""
        if spec.kind == "mmac_dense":
            kept = measure.sampled_units(spec, units_per_layer)
            sampled = [tools.resources_of_cells(cells[f"{verilog.module_name(spec)}_u{u}"]) for u in kept]
            mean = {key: float(np.mean([u[key] for u in sampled])) for key in ("LUT", "FF")}
            guess = unit_estimate(spec)
            unit = f"   {mean['LUT']:.1f} ({guess['LUT']:.0f}), {mean['FF']:.1f} ({guess['FF']})"
        print(
            f"  {spec.name:<9}{units:>6}{fig['LUT']:>7}{est['LUT']:>7}{ratio(est['LUT'], fig['LUT']):>9}{fig['FF']:>7}"
            f"{est['FF']:>7}{fig['CARRY4']:>7}{fig['BRAM_18K']:>5}{est['BRAM_18K']:>5}{fig['DSP48E1']:>4}{cycles:>12}"
            f"{unit}"
        )
    fig = sized["total"]
    cycles = [sum(layer_cycles(spec, r) for spec in specs) for r in (0, len(WEIGHT_BUDGETS) - 1)]
    print(
        f"  {'total':<9}{'':>6}{fig['LUT']:>7}{total['LUT']:>7}{ratio(total['LUT'], fig['LUT']):>9}{fig['FF']:>7}"
        f"{total['FF']:>7}{fig['CARRY4']:>7}{fig['BRAM_18K']:>5}{total['BRAM_18K']:>5}{fig['DSP48E1']:>4}"
        f"{f'{cycles[0]}..{cycles[1]}':>12}"
    )
    depth = sized["depth"]
    print(
        f"  longest combinational path: {depth['logic_levels']} logic levels "
        f"({depth['lut_levels']} LUT, {depth['CARRY4']} CARRY4, {depth['MUXF7']} MUXF7, {depth['MUXF8']} MUXF8)"
    )


# ---------------------------------------------------------------- (e) hls4ml's constant-weight products


def products_verilog(weight_bits, n=16, seed=0):
    """hls4ml's io_parallel Dense at reuse 1 in miniature: 8-bit inputs times constant weights, summed."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(-(1 << (weight_bits - 1)), 1 << (weight_bits - 1), n)
    weights[weights == 0] = 1
    terms = " + ".join(f"$signed(x[{8 * i + 7}:{8 * i}]) * {int(w)}" for i, w in enumerate(weights))
    width = 8 + weight_bits + 4
    return f"""
(* keep_hierarchy *)
module products_w{weight_bits} (input wire clk, input wire [{8 * n - 1}:0] x, output reg signed [{width - 1}:0] y);
  always @(posedge clk) y <= {terms};
endmodule
"""


def costs_product_lut(bits):
    from mrfpga.hls.layers import hls4ml_layers

    return hls4ml_layers.CONSTANT_PRODUCT_LUT_PER_BIT * bits + hls4ml_layers.CONSTANT_PRODUCT_LUT_OFFSET


def print_products(out_dir):
    bits = (4, 6, 8)
    top = "".join(
        f"  wire [{8 + b + 3}:0] y{b};\n  products_w{b} p{b} (.clk(clk), .x(x[{128 * n} +: 128]), .y(y{b}));\n"
        for n, b in enumerate(bits)
    )
    outputs = ", ".join(f"y{b}" for b in bits)
    source = Path(out_dir) / "products.v"
    source.write_text(
        "".join(products_verilog(b) for b in bits)
        + f"module products (input wire clk, input wire [{128 * len(bits) - 1}:0] x, output wire [63:0] y);\n"
        + top
        + f"  assign y = {{{outputs}}};\nendmodule\n"
    )
    figures = {}
    for dsp, options in ((False, "-nodsp"), (True, "")):
        stat, _ = tools.synthesize_sources([source], "products", Path(out_dir) / f"dsp{int(dsp)}", options, depth=False)
        cells = tools.hierarchy_cells(stat, "products")
        figures[dsp] = {b: tools.resources_of_cells(cells[f"products_w{b}"]) for b in bits}
    print("\n(e) constant-weight products (16 x 8-bit inputs, summed, registered)")
    for b in bits:
        plain, dsp = figures[False][b], figures[True][b]
        model = costs_product_lut(b)
        print(
            f"  {b}-bit weights: -nodsp LUT {plain['LUT']:4d} ({plain['LUT'] / 16:5.1f} a product; the model "
            f"{model:.1f}), FF {plain['FF']}, CARRY4 {plain['CARRY4']};  with DSPs: DSP48E1 {dsp['DSP48E1']}, "
            f"LUT {dsp['LUT']}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ("units", "layers", "data_terms", "demo", "products")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=parts,
        default=list(parts[:-1]),
        help="what to measure (default: all but products)",
    )
    parser.add_argument("--reuse", type=int, nargs="+", default=[4, 2], help="the demo-shaped MLP's reuse factors")
    parser.add_argument("--every-unit", action="store_true", help="(d) synthesizes every unit, not 4 a layer")
    args = parser.parse_args()
    print(f"tool: {tools.yosys_version()} synth_xilinx -family xc7 -noiopad {tools.SYNTH_OPTIONS}")
    print(f"cost model: hls/layers/unit_costs.py ({costs.TOOL})")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        specs = part_specs(args.parts)
        if specs:
            start = time.monotonic()
            figures = synthesize_layers(list(specs.values()), Path(work) / "parts")
            print(f"Yosys: {len(specs)} layers side by side in {time.monotonic() - start:.0f} s")
            if "units" in args.parts:
                print_units(figures, specs)
            if "layers" in args.parts:
                print_layers(figures, specs)
            if "data_terms" in args.parts:
                print_data_terms(figures, specs)
        if "demo" in args.parts:
            for reuse in args.reuse:
                print_demo(reuse, Path(work) / f"demo_r{reuse}", args.every_unit)
        if "products" in args.parts:
            print_products(work)
    print(f"\nall measurements: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
