"""Measures the mMAC's unit costs with Yosys ``synth_xilinx -family xc7`` (figures of ``hls/layers/unit_costs.py``).

Every design here is the twin's own Verilog (``mrfpga.hls.twin.verilog``) built from term tables of random 8-bit
weights (``dense_spec``, NAF terms, fixed seeds), synthesized with its hierarchy kept so each unit and each
layer shell (a layer without its units) is read on its own. It prints:

(a) one term-pair unit and one weight-term unit, each realistic (a ROM of 4 rounds x 20 terms = 80 entries of
    10 bits, 16:1 operand selection, a 24-bit accumulator, predicates; the mean of 3 units with different
    weights), and LUT x cycles per round at the 8 reference resolutions (term pair a*k cycles, weight term k);
(b) least-squares fits: unit LUT against ROM bits and accumulator bits, layer-shell LUT against inputs and
    output-adder bits, data-term layer LUT per input;
(c) hls4ml-style constant-weight products: 16 8-bit inputs times constant weights of 4/6/8 bits, summed,
    LUT per product with DSPs disabled (and DSP48E1 per product when allowed);
(d) with ``--demo``: the demo-shaped MLP (64 -> 64 -> 32 -> 10, groups of 16, reuse 4, 8 resolutions) in
    both unit designs, 4 units a layer synthesized, and the time Yosys took.

Run from the repository root (about 10 minutes on 2 busy cores; ``--demo`` adds a few):

    .venv/bin/python bench/bench_units.py [--demo]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from mrfpga.hls.layers import unit_costs as rtl_costs
from mrfpga.hls.twin import measure, tools, verilog
from mrfpga.hls.twin.spec import dense_spec

# (a, k), the reference resolutions: docs/algorithms.md#resolutions-and-the-term-pair-budget
REFERENCE = [(2, 8), (2, 10), (2, 12), (2, 14), (3, 14), (3, 16), (3, 18), (3, 20)]
WEIGHT_BITS = 8  # exponents 0..8: 4 bits; index in a group of 16: 4 bits; entry 10 bits
DATA_BITS = 9  # an 8-bit data-term code plus the NAF carry bit


def layer(name, mode, *, n_in=16, n_out=12, reuse=4, acc_width=24, seed=0, group_size=16):
    rng = np.random.default_rng(seed)
    magnitudes = rng.integers(0, 1 << WEIGHT_BITS, (n_in, n_out))
    signs = rng.choice([-1, 1], (n_in, n_out))
    spec = dense_spec(
        name,
        magnitudes,
        signs,
        rng.integers(-1000, 1000, n_out),
        group_size=group_size,
        reuse=reuse,
        weight_bits=WEIGHT_BITS,
        weight_budgets=[k for _, k in REFERENCE],
        data_budgets=[a for a, _ in REFERENCE] if mode == "term_pair" else [1] * len(REFERENCE),
        mode=mode,
        data_bits=DATA_BITS,
    )
    spec["acc_width"] = acc_width  # the accumulator studied, whatever these weights' bound
    return spec


def synthesize_specs(specs, out_dir, units_per_layer=None):
    """{module: {primitive: count}} (own cells only, and with submodules) of one Yosys run over ``specs``."""
    source = Path(out_dir) / "bench.v"
    rb = verilog.resolution_bits(specs)
    source.write_text("`default_nettype none\n" + "".join(verilog.layer_verilog(spec, rb) for spec in specs))
    figures = {}
    for spec in specs:  # one Yosys run per layer: a layer is its own top
        top = verilog.module_name(spec)
        stat = tools.synthesize_verilog(source, top, Path(out_dir) / top)
        own = {name.lstrip("\\"): body["num_cells_by_type"] for name, body in stat["modules"].items()}
        for name, cells in tools.hierarchy_cells(stat, top).items():
            figures[name] = {
                "with_units": tools.resources_of_cells(cells),
                "own": tools.resources_of_cells({c.lstrip("\\"): n for c, n in own[name].items()}),
            }
    return figures


def unit_figures(figures, spec):
    units = [figures[f"{verilog.module_name(spec)}_u{u}"]["with_units"] for u in range(spec["n_units"])]
    return {key: float(np.mean([unit[key] for unit in units])) for key in ("LUT", "FF", "CARRY4")}


def shell_figures(figures, spec):
    """A layer without its units: data-term extraction of the inputs, control, output adders and registers.

    The per-input module (``<layer>_input``) and the layer's own cells are read directly as well.
    """
    layer = figures[verilog.module_name(spec)]["with_units"]
    units = [figures[f"{verilog.module_name(spec)}_u{u}"]["with_units"] for u in range(spec["n_units"])]
    return {key: layer[key] - sum(unit[key] for unit in units) for key in ("LUT", "FF", "CARRY4")}


def fit(rows, columns):
    """Least squares: figures ~ columns @ coefficients (with an intercept): (coefficients, intercept)."""
    x = np.column_stack([np.asarray(columns, float), np.ones(len(rows))])
    solution, *_ = np.linalg.lstsq(x, np.asarray(rows, float), rcond=None)
    return solution[:-1], solution[-1]


def products_verilog(weight_bits, n=16, seed=0):
    """hls4ml's io_parallel Dense at reuse 1 in miniature: 8-bit inputs times constant weights, summed."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(-(1 << (weight_bits - 1)), 1 << (weight_bits - 1), n)
    weights[weights == 0] = 1
    terms = " + ".join(f"$signed(x[{8 * i + 7}:{8 * i}]) * {int(w)}" for i, w in enumerate(weights))
    width = 8 + weight_bits + 4
    return f"""
module products_w{weight_bits} (input wire clk, input wire [{8 * n - 1}:0] x, output reg signed [{width - 1}:0] y);
  always @(posedge clk) y <= {terms};
endmodule
"""


def synthesize_products(out_dir, dsp):
    source = Path(out_dir) / f"products_{'dsp' if dsp else 'nodsp'}.v"
    source.write_text("".join(products_verilog(bits) for bits in (4, 6, 8)))
    figures = {}
    for bits in (4, 6, 8):
        top = f"products_w{bits}"
        work = Path(out_dir) / f"{top}_{'dsp' if dsp else 'nodsp'}"
        stat = tools.synthesize_verilog(source, top, work, options="" if dsp else "-nodsp")
        figures[bits] = tools.resources_of_cells(tools.hierarchy_cells(stat, top)[top])
    return figures


def demo_specs(mode="term_pair"):
    """The demo MLP's shape: data terms, then 64 -> 64 -> 32 -> 10 mMAC Dense layers."""
    specs, n_in = [], 64
    for n, n_out in enumerate((64, 32, 10)):
        spec = layer(f"dense_{n}", mode, n_in=n_in, n_out=n_out, reuse=4, seed=n)
        term = {
            "kind": "data_term",
            "name": f"terms_{n}",
            "n_in": n_in,
            "bits": 8,
            "frac": 4,
            "encoding": "naf",
            "budgets": [a for a, _ in REFERENCE],
            "floors": [0] * len(REFERENCE),
            "round_half_even": False,
            "in_width": 16 if n == 0 else specs[-1]["acc_width"],
            "in_frac": 8,
            "in_signed": True,
        }
        specs += [term, spec]
        n_in = n_out
    return specs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="also synthesize the demo-shaped MLP")
    args = parser.parse_args()
    print(f"tool: {tools.yosys_version()} synth_xilinx -family xc7 -noiopad")
    with tempfile.TemporaryDirectory() as work:
        start = time.monotonic()
        # (a) and the unit fits: 3 units a layer (12 outputs, 1 group each, reuse 4).
        units = {mode: layer(f"unit_{mode}", mode, n_out=12, reuse=4) for mode in ("term_pair", "weight_term")}
        roms = {reuse: layer(f"rom_{reuse}", "term_pair", n_out=reuse, reuse=reuse) for reuse in (1, 2, 8)}
        accs = {width: layer(f"acc_{width}", "term_pair", n_out=4, reuse=4, acc_width=width) for width in (16, 32)}
        shells = {n_in: layer(f"shell_{n_in}", "term_pair", n_in=n_in, n_out=8, reuse=8) for n_in in (32, 64)}
        first_terms = demo_specs()[0]
        terms = {n: {**first_terms, "name": f"data_terms_{n}", "n_in": n} for n in (16, 32, 64)}
        specs = [*units.values(), *roms.values(), *accs.values(), *shells.values(), *terms.values()]
        figures = synthesize_specs(specs, work)
        print(f"Yosys: {len(specs)} layers in {time.monotonic() - start:.0f} s")

        print("\n(a) one realistic unit (80 x 10-bit ROM, 16:1 select, 24-bit accumulator), mean of 3")
        unit = {mode: unit_figures(figures, spec) for mode, spec in units.items()}
        for mode, fig in unit.items():
            print(f"  {mode:12s} LUT {fig['LUT']:6.1f}  FF {fig['FF']:5.1f}  CARRY4 {fig['CARRY4']:4.1f}")
        print("  (a, k)    term_pair cycles  LUT x cycles   weight_term cycles  LUT x cycles   ratio")
        for a, k in REFERENCE:
            tp, wt = unit["term_pair"]["LUT"] * a * k, unit["weight_term"]["LUT"] * k
            print(f"  ({a},{k:2d})   {a * k:16d}  {tp:12.0f}   {k:18d}  {wt:12.0f}   {wt / tp:5.2f}")

        print("\n(b) fits")
        rom_rows = {4: unit["term_pair"]} | {reuse: unit_figures(figures, spec) for reuse, spec in roms.items()}
        rom_bits = [reuse * 20 * 10 for reuse in rom_rows]
        (per_rom_bit,), rom_base = fit([fig["LUT"] for fig in rom_rows.values()], [[b] for b in rom_bits])
        for bits, fig in zip(rom_bits, rom_rows.values(), strict=True):
            print(f"  unit with a {bits:5d}-bit ROM: LUT {fig['LUT']:6.1f}  FF {fig['FF']:5.1f}")
        print(f"  -> LUT per ROM bit {per_rom_bit:.4f} (intercept {rom_base:.1f})")
        acc_rows = {24: unit["term_pair"]} | {width: unit_figures(figures, spec) for width, spec in accs.items()}
        (per_acc_bit,), acc_base = fit([f["LUT"] for f in acc_rows.values()], [[w] for w in acc_rows])
        (ff_per_acc_bit,), ff_base = fit([f["FF"] for f in acc_rows.values()], [[w] for w in acc_rows])
        for width, fig in acc_rows.items():
            print(f"  unit with a {width}-bit accumulator: LUT {fig['LUT']:6.1f}  FF {fig['FF']:5.1f}")
        print(f"  -> LUT per accumulator bit {per_acc_bit:.2f} (intercept {acc_base:.1f})")
        print(f"  -> FF per accumulator bit {ff_per_acc_bit:.2f} (intercept {ff_base:.1f})")
        # Layer shells (the layer without its units): inputs (data-term extraction) and output adders.
        shell_specs = [units["term_pair"], roms[8], *shells.values()]
        shell_rows = [shell_figures(figures, spec) for spec in shell_specs]
        columns = [[spec["n_in"], spec["n_out"] * (spec["n_groups"] + 1) * spec["acc_width"]] for spec in shell_specs]
        (per_input, per_adder_bit), shell_base = fit([row["LUT"] for row in shell_rows], columns)
        (ff_per_input, ff_per_out_bit), ff_shell_base = fit([row["FF"] for row in shell_rows], columns)
        for spec, row in zip(shell_specs, shell_rows, strict=True):
            print(
                f"  shell {spec['n_in']:2d} inputs, {spec['n_out']:2d} outputs: LUT {row['LUT']:5d}  FF {row['FF']:5d}"
            )
        print(f"  -> shell LUT per input {per_input:.2f}, per output-adder bit {per_adder_bit:.2f} (+{shell_base:.0f})")
        print(f"  -> shell FF per input {ff_per_input:.2f}, per output bit {ff_per_out_bit:.2f} (+{ff_shell_base:.0f})")
        term_rows = [figures[verilog.module_name(spec)]["with_units"] for spec in terms.values()]
        (lut_per_value,), term_base = fit([row["LUT"] for row in term_rows], [[n] for n in terms])
        (ff_per_value,), _ = fit([row["FF"] for row in term_rows], [[n] for n in terms])
        for n, row in zip(terms, term_rows, strict=True):
            print(f"  data-term layer, {n:2d} values of 8 bits: LUT {row['LUT']:5d}  FF {row['FF']:5d}")
        print(f"  -> data-term LUT per value {lut_per_value:.2f} (+{term_base:.0f}), FF per value {ff_per_value:.2f}")

        print("\n(c) constant-weight products (16 x 8-bit inputs, summed, registered)")
        no_dsp, with_dsp = synthesize_products(work, dsp=False), synthesize_products(work, dsp=True)
        for bits in (4, 6, 8):
            plain, dsp = no_dsp[bits], with_dsp[bits]
            print(
                f"  {bits}-bit weights: -nodsp LUT {plain['LUT']:4d} ({plain['LUT'] / 16:5.1f} a product), "
                f"FF {plain['FF']}, CARRY4 {plain['CARRY4']};  with DSPs: DSP48E1 {dsp['DSP48E1']}, LUT {dsp['LUT']}"
            )
        print(f"\nall measurements: {time.monotonic() - start:.0f} s")

        if args.demo:
            for mode in ("term_pair", "weight_term"):
                start = time.monotonic()
                sized = measure.synthesize(demo_specs(mode), Path(work) / f"demo_{mode}", units_per_layer=4)
                print(f"\n(d) demo-shaped MLP, {mode}: {sized['method']}; Yosys {time.monotonic() - start:.0f} s")
                estimated = {"LUT": 0, "FF": 0}
                for spec in demo_specs(mode):
                    fig = sized["layers"][spec["name"]]
                    costs = (
                        rtl_costs.mmac_dense_resources(spec)
                        if spec["kind"] == "mmac_dense"
                        else rtl_costs.data_term_resources(spec)
                    )
                    estimated = {key: estimated[key] + costs[key] for key in estimated}
                    row = f"LUT {fig['LUT']:6d}  FF {fig['FF']:6d}  CARRY4 {fig['CARRY4']:5d}  DSP {fig['DSP48E1']}"
                    print(f"  {spec['name']:10s} {row}   estimate LUT {costs['LUT']:6d}  FF {costs['FF']:6d}")
                fig = sized["total"]
                row = f"LUT {fig['LUT']:6d}  FF {fig['FF']:6d}  CARRY4 {fig['CARRY4']:5d}  DSP {fig['DSP48E1']}"
                print(f"  {'total':10s} {row}   estimate LUT {estimated['LUT']:6d}  FF {estimated['FF']:6d}")


if __name__ == "__main__":
    main()
