"""Switchable batch norm with or without multipliers (issue 28): the folded ``y = x * s[r, c] + t[r, c]`` of the
streaming CNN with each scale a 16-bit code (a multiplier per channel) or at most K signed powers of two
(``quantization.bn_scale_terms: K``; shifts and adds). Prints, measured side by side:

``--part yosys``: the scale/shift datapath of one channel and of one stream word (all channels of a pixel) at
the widths of the digits32 CNN (``build_cnn((32, 32, 3), 10, [16, 32], QuantizationConfig(bn_scale_terms=K),
seed=0)``, its switchable BN calibrated on the digits32 training split as ``train`` does after training, then
converted io_stream for pynq-z2: the SwitchableScaleShift nodes' input precision, table types, ``scale_up``
and ``shift_up``), in these forms:

    multiply, DSP48E1  a multiplier by the resolution's scale (the scale table's type), Yosys ``synth_xilinx
                       -family xc7`` with DSP48E1 (the kit's command less -nodsp);
    multiply, LUT      the same Verilog with the kit's command (``tools.SYNTH_OPTIONS``: -nodsp, a multiplier
                       in LUTs);
    K terms            K = 1, 2, 3: per resolution and channel K (exponent, sign, valid) entries; the value
                       shifted by each exponent (a barrel shifter: the exponent is read at run time), inverted
                       where negative with the +1 carried into the sum, and added; the kit's command. Exponents
                       span 0..E, E one above the top magnitude bit of the K-term model's scale type (a NAF
                       digit can sit there), and 0..15 (any scale of 16-bit codes: a model spread wider).

The tables are random at those widths (every resolution's entries differ: the scale is a run-time operand,
nothing folds into constants); the output width is the converter's acc_width of them. Each design registers
its inputs, the resolution's table entries (a ROM as a ``case`` on the registered resolution, as the HLS layer
loads its registers once a frame) and its outputs. Every design is simulated in Verilator on random inputs
(the extremes included) at every resolution against numpy's exact integers: the outputs must be equal.
Figures: Yosys ``stat`` of each design synthesized alone (LUT, FF, CARRY4, DSP48E1) and the logic levels of
its longest path.

``--part accuracy``: the digits32 CNN of ``examples/digits32_cnn_stream.yaml`` (its model, quantization and
training) trained with ``bn_scale_terms`` null, 3, 2 and 1 from the same seed; Keras test accuracy at every
resolution on the whole test split (hardware-exact inference: what C simulation computes), the time of each
training, and the trained models' BN tables (scale width, the largest term exponent, accumulator width).

Run from the repository root (2 busy cores: the Yosys part 15 minutes, the accuracy part 2.5 minutes a seed
at 4 epochs):

    .venv/bin/python bench/bench_bn_terms.py --part yosys
    .venv/bin/python bench/bench_bn_terms.py --part accuracy [--epochs 4] [--seeds 0] [--resolutions 2,8 2,14 3,20]
"""

# ruff: noqa: E402 (TF's log level must be set before TensorFlow is imported)
import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import argparse
import contextlib
import dataclasses
import io
import tempfile
import time
from pathlib import Path

import numpy as np

from mrfpga.cli.pipeline import load_data
from mrfpga.cli.run_config import QuantizationConfig, from_dict, parse_yaml
from mrfpga.hls.package_data import package_dir
from mrfpga.hls.project.convert import convert
from mrfpga.hls.twin import tools
from mrfpga.hls.twin.spec import bits_for
from mrfpga.training.data import load as load_dataset
from mrfpga.training.methods import train
from mrfpga.training.models import build_cnn, model_input
from mrfpga.training.steps import accuracy_per_resolution
from mrfpga.training.switchable_bn import FOLD_BITS, calibrate_switchable_bn
from mrfpga.training.term_encodings import value_terms

CONFIG = package_dir("examples") / "digits32_cnn_stream.yaml"
TERMS = (1, 2, 3)
FULL_EXPONENT = FOLD_BITS - 1  # a scale of 16-bit codes: terms 2^0 .. 2^15 of its grid
LATENCY = 3  # input registers, table registers, output registers
SAMPLES = 300
KEYS = ("LUT", "FF", "CARRY4", "DSP48E1")


# ---------------------------------------------------------------- the converted CNN's BN


@dataclasses.dataclass
class ScaleShift:
    """One converted SwitchableScaleShift node: ``y = (x * scales[r, c] << scale_up) + (shifts[r, c] <<
    shift_up)`` on integer codes, ``out_width`` bits holding it exactly."""

    layer: str
    x_width: int  # signed
    scale_width: int
    shift_width: int
    scale_up: int
    shift_up: int
    out_width: int
    scales: np.ndarray  # (n_resolutions, n_chan) int
    shifts: np.ndarray

    @property
    def n_resolutions(self):
        return self.scales.shape[0]

    @property
    def n_chan(self):
        return self.scales.shape[1]

    @property
    def top_exponent(self):
        """The largest exponent of a term of the table's scales: a NAF digit can sit one place above a
        magnitude's top bit (7 = 8 - 1)."""
        return self.scale_width - 1


def scale_shift_nodes(hls_model):
    nodes = {}
    for node in hls_model.get_layers():
        if node.class_name != "SwitchableScaleShift":
            continue
        precision = node.get_input_variable().type.precision
        n_res, n_chan = node.get_attr("n_resolutions"), node.get_attr("n_chan")
        tables = {name: np.asarray(node.get_weights(name).data, np.int64).reshape(n_res, n_chan)
                  for name in ("scales", "shifts")}  # fmt: skip
        nodes[node.name] = ScaleShift(
            layer=node.name,
            x_width=precision.width,
            scale_width=node.get_weights("scales").type.precision.width,
            shift_width=node.get_weights("shifts").type.precision.width,
            scale_up=node.get_attr("scale_up"),
            shift_up=node.get_attr("shift_up"),
            out_width=node.get_attr("acc_width"),
            **tables,
        )
    return nodes


def converted_bn(model, out_dir):
    """{layer: ScaleShift} of ``model`` converted as the example converts it (io_stream, pynq-z2)."""
    with contextlib.redirect_stdout(io.StringIO()):
        hls_model = convert(model, out_dir, "pynq-z2", io_type="io_stream", reuse_factor=1)
    return scale_shift_nodes(hls_model)


def calibrated_cnn_bn(scale_terms, out_dir):
    """The digits32 CNN's BN nodes, untrained but calibrated on the training split (real statistics)."""
    model = build_cnn((32, 32, 3), 10, [16, 32], QuantizationConfig(bn_scale_terms=scale_terms), seed=0)
    x_train = load_dataset("digits32", 0).x_train
    calibrate_switchable_bn(model, model_input(model, x_train))
    return converted_bn(model, out_dir)


@dataclasses.dataclass
class Design:
    """One datapath at the widths of ``bn`` (``n_chan`` channels): ``terms`` None multiplies by ``scales``; K
    adds the K terms of ``term_table`` (n_res, n_chan, K, (exponent, negative, valid)), exponents
    0..``top_exponent``. The tables are random, drawn by ``random_design``: every resolution's entries differ,
    so the scale is a run-time operand, none of it folded into constants."""

    name: str
    bn: ScaleShift
    n_chan: int
    scales: np.ndarray  # (n_res, n_chan) int: the multiplier's table, or the terms' sums
    shifts: np.ndarray
    terms: int | None = None
    top_exponent: int = 0
    term_table: np.ndarray | None = None

    @property
    def out_width(self):
        """The converter's acc_width of these tables: the largest |x * s << scale_up| + |t << shift_up|."""
        bn = self.bn
        bound = (1 << (bn.x_width - 1)) * int(np.abs(self.scales).max()) << bn.scale_up
        return bits_for(bound + (int(np.abs(self.shifts).max()) << bn.shift_up)) + 1

    @property
    def resolution_bits(self):
        return bits_for(self.bn.n_resolutions - 1)

    def reference(self, x, resolution):
        """Exact outputs (samples, n_chan) of inputs (samples, n_chan), as Python integers."""
        scale, shift = self.scales[resolution].astype(object), self.shifts[resolution].astype(object)
        return x.astype(object) * scale * 2**self.bn.scale_up + shift * 2**self.bn.shift_up


def random_design(name, bn, n_chan, rng, terms=None, top_exponent=0):
    """``Design`` with random tables: scale codes of the table's type (multiply) or K random terms a scale,
    one in four of them absent (terms); shift codes of the shift table's type."""
    shape = (bn.n_resolutions, n_chan)
    shifts = signed_codes(rng, bn.shift_width, shape)
    if terms is None:
        return Design(name, bn, n_chan, signed_codes(rng, bn.scale_width, shape), shifts)
    table = np.stack(
        [
            rng.integers(0, top_exponent + 1, (*shape, terms)),
            rng.integers(0, 2, (*shape, terms)),
            rng.random((*shape, terms)) >= 0.25,
        ],
        axis=-1,
    ).astype(np.int64)
    exponent, negative, valid = np.moveaxis(table, -1, 0)
    scales = (valid * (1 - 2 * negative) * (np.int64(1) << exponent)).sum(axis=-1)
    return Design(name, bn, n_chan, scales, shifts, terms, top_exponent, table)


def signed_codes(rng, width, shape):
    return rng.integers(-(1 << (width - 1)) + 1, 1 << (width - 1), shape)


def hex_code(value, width):
    return f"{width}'h{int(value) & ((1 << width) - 1):x}"


def table_case(design, c, target, entry):
    """A ROM on the registered resolution: ``target <= entry(r)`` for each resolution ``r`` of channel ``c``."""
    lines = ["  always @(posedge clk)", "    case (res_q)"]
    last = design.bn.n_resolutions - 1
    for r in range(design.bn.n_resolutions):
        label = "default" if r == last else str(r)
        lines.append(f"      {label}: {target} <= {entry(r, c)};")
    return lines + ["    endcase"]


def multiply_channel(design, c):
    xw, sw = design.bn.x_width, design.bn.scale_width
    return [
        f"  reg signed [{sw - 1}:0] scale_{c};",
        *table_case(design, c, f"scale_{c}", lambda r, c: hex_code(design.scales[r, c], sw)),
        f"  wire signed [{xw + sw - 1}:0] product_{c} = x_{c} * scale_{c};",
        f"  wire signed [{design.out_width - 1}:0] scaled_{c} = product_{c};",
    ]


def terms_channel(design, c):
    """K (valid, sign, exponent) entries; each term is the value shifted (a barrel shifter on the exponent),
    inverted where negative, with the negation's +1 as a carry into the sum."""
    xw, ow, k, table = design.bn.x_width, design.out_width, design.terms, design.term_table
    eb = bits_for(design.top_exponent)
    entry_bits = eb + 2

    def entry(r, c):
        code = 0
        for term in range(k):
            exponent, negative, valid = (int(v) for v in table[r, c, term])
            code |= ((valid << (eb + 1)) | (negative << eb) | exponent) << (term * entry_bits)
        return hex_code(code, k * entry_bits)

    shifted = min(ow, xw + design.top_exponent)
    lines = [f"  reg [{k * entry_bits - 1}:0] terms_{c};", *table_case(design, c, f"terms_{c}", entry)]
    parts = []
    for term in range(k):
        base = f"terms_{c}[{term * entry_bits}"
        lines += [
            f"  wire [{eb - 1}:0] exponent_{c}_{term} = {base} +: {eb}];",
            f"  wire negative_{c}_{term} = {base} + {eb}];",
            f"  wire valid_{c}_{term} = {base} + {eb + 1}];",
            f"  wire signed [{shifted - 1}:0] shifted_{c}_{term} = x_{c} <<< exponent_{c}_{term};",
            f"  wire signed [{ow - 1}:0] kept_{c}_{term} = valid_{c}_{term} ? shifted_{c}_{term} : {ow}'sd0;",
        ]
        parts += [f"(kept_{c}_{term} ^ {{{ow}{{negative_{c}_{term}}}}})", f"{{{ow - 1}'d0, negative_{c}_{term}}}"]
    lines.append(f"  wire signed [{ow - 1}:0] scaled_{c} = {' + '.join(parts)};")
    return lines


def design_verilog(design):
    """The module: registered resolution and values, registered table entries, registered outputs."""
    bn, xw, ow, tw = design.bn, design.bn.x_width, design.out_width, design.bn.shift_width
    n, rb = design.n_chan, design.resolution_bits
    lines = [
        "(* keep_hierarchy *)",
        f"module {design.name} (input wire clk, input wire [{rb - 1}:0] resolution, "
        f"input wire [{n * xw - 1}:0] in_data, output reg [{n * ow - 1}:0] out_data);",
        f"  reg [{rb - 1}:0] res_q;",
        f"  reg [{n * xw - 1}:0] x_q, x_q2;",
        "  always @(posedge clk) begin res_q <= resolution; x_q <= in_data; x_q2 <= x_q; end",
    ]
    channel = multiply_channel if design.terms is None else terms_channel
    for c in range(n):
        lines += [
            f"  wire signed [{xw - 1}:0] x_{c} = x_q2[{c * xw} +: {xw}];",
            f"  reg signed [{tw - 1}:0] shift_{c};",
            *table_case(design, c, f"shift_{c}", lambda r, c: hex_code(design.shifts[r, c], tw)),
            *channel(design, c),
            f"  wire signed [{ow - 1}:0] shift_wide_{c} = shift_{c};",
            f"  always @(posedge clk) out_data[{c * ow} +: {ow}] <= "
            f"(scaled_{c} <<< {bn.scale_up}) + (shift_wide_{c} <<< {bn.shift_up});",
        ]
    return "\n".join(lines + ["endmodule", ""])


def testbench_top(designs, out_width):
    """``mrfpga_top`` for ``templates/rtl/twin_tb.cpp``: every design on the same inputs, ``done`` LATENCY edges
    after ``start``, each output sign-extended to ``out_width``."""
    (rb,) = {d.resolution_bits for d in designs}
    n_chan = max(d.n_chan for d in designs)
    (xw,) = {d.bn.x_width for d in designs}
    n_out = sum(d.n_chan for d in designs)
    lines = [
        "module mrfpga_top (input wire clk, input wire rst, input wire start, "
        f"input wire [{rb - 1}:0] resolution, input wire [{n_chan * xw - 1}:0] in_data, output wire done, "
        f"output wire [{n_out * out_width - 1}:0] out_data);",
        f"  reg [{LATENCY - 1}:0] busy;",
        f"  always @(posedge clk) busy <= rst ? {LATENCY}'d0 : {{busy[{LATENCY - 2}:0], start}};",
        f"  assign done = busy[{LATENCY - 1}];",
    ]
    slot = 0
    for n, d in enumerate(designs):
        ow = d.out_width
        lines += [
            f"  wire [{d.n_chan * ow - 1}:0] y{n};",
            f"  {d.name} d{n} (.clk(clk), .resolution(resolution), .in_data(in_data[{d.n_chan * xw - 1}:0]), "
            f".out_data(y{n}));",
        ]
        for c in range(d.n_chan):
            value = f"y{n}[{c * ow} +: {ow}]"
            if ow < out_width:
                value = f"{{{{{out_width - ow}{{y{n}[{c * ow + ow - 1}]}}}}, {value}}}"
            lines.append(f"  assign out_data[{slot * out_width} +: {out_width}] = {value};")
            slot += 1
    return "\n".join(lines + ["endmodule", ""])


# ---------------------------------------------------------------- measured


def layer_designs(bn_by_terms, layer, seed=0):
    """The designs of one layer: multiply, then K terms with exponents up to the K-term table's and up to 15;
    one channel and the whole word."""
    rng = np.random.default_rng(seed)
    designs = []
    for n_chan in (1, bn_by_terms[None][layer].n_chan):
        size = f"c{n_chan}"
        designs.append(random_design(f"{layer}_multiply_{size}", bn_by_terms[None][layer], n_chan, rng))
        for k in TERMS:
            bn = bn_by_terms[k][layer]
            for top in sorted({bn.top_exponent, FULL_EXPONENT}):
                designs.append(random_design(f"{layer}_terms{k}_e{top}_{size}", bn, n_chan, rng, k, top))
    return designs


def verify(designs, out_dir, seed=0):
    """Simulate one layer's designs in Verilator at every resolution on random inputs; raise on a mismatch.
    Returns the samples compared."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out_width = max(d.out_width for d in designs)
    source = out_dir / "designs.v"
    source.write_text("".join(design_verilog(d) for d in designs) + testbench_top(designs, out_width))
    testbench = package_dir("templates") / "rtl" / "twin_tb.cpp"
    binary = tools.verilator_build([source], "mrfpga_top", testbench, out_dir)
    xw, n_chan = designs[0].bn.x_width, max(d.n_chan for d in designs)
    low, high = -(1 << (xw - 1)), (1 << (xw - 1)) - 1
    rng = np.random.default_rng(seed)
    x = rng.integers(low, high + 1, (SAMPLES, n_chan))
    x[:4] = [[low], [high], [0], [-1]]
    resolutions = list(range(designs[0].bn.n_resolutions))
    outputs, _ = tools.run_testbench(
        binary, x, xw, sum(d.n_chan for d in designs), out_width, True, resolutions, out_dir
    )
    for r, got in zip(resolutions, outputs, strict=True):
        slot = 0
        for d in designs:
            want = d.reference(x[:, : d.n_chan], r)
            if not np.array_equal(got[:, slot : slot + d.n_chan].astype(object), want):
                raise AssertionError(f"{d.name}: Verilator differs from numpy at resolution {r}")
            slot += d.n_chan
    return len(x) * len(resolutions)


def synthesize(design, out_dir, options):
    """Yosys on one design alone: (resources, logic levels of its longest path)."""
    out_dir = Path(out_dir) / design.name
    out_dir.mkdir(parents=True, exist_ok=True)
    source = out_dir / f"{design.name}.v"
    source.write_text(design_verilog(design))
    stat, depth = tools.synthesize_sources([source], design.name, out_dir, options)
    cells = tools.hierarchy_cells(stat, design.name)[design.name]
    return {**tools.resources_of_cells(cells), "levels": depth["logic_levels"]}


def measured_forms(design, work):
    """[(form, figures, the kit's options as used)]: a multiplier with DSP48E1 and in LUTs, or the terms."""
    figures, used, note = tools.with_widemux_fallback(lambda options: synthesize(design, work / "kit", options))
    if design.terms is not None:
        return [(f"{design.terms} terms", figures, note)]
    with_dsp = synthesize(design, work / "dsp", used.replace("-nodsp ", ""))
    return [("multiply, DSP48E1", with_dsp, note), ("multiply, LUT", figures, note)]


def yosys_part(work):
    started = time.perf_counter()
    bn_by_terms = {k: calibrated_cnn_bn(k, work / f"convert_{k}") for k in (None, *TERMS)}
    print(f"converted the calibrated CNN with bn_scale_terms null, 1, 2, 3 in {time.perf_counter() - started:.0f} s")
    for k, nodes in bn_by_terms.items():
        for bn in nodes.values():
            print(
                f"  terms {k or 'null':>4} {bn.layer}: input ap_fixed<{bn.x_width}> (signed), {bn.n_chan} channels, "
                f"{bn.n_resolutions} resolutions, scales int<{bn.scale_width}> (|s| {np.abs(bn.scales).min()}.."
                f"{np.abs(bn.scales).max()}), shifts int<{bn.shift_width}>, scale_up {bn.scale_up}, shift_up "
                f"{bn.shift_up}, acc_width {bn.out_width}"
            )
    designs = [d for layer in bn_by_terms[None] for d in layer_designs(bn_by_terms, layer)]
    for layer in bn_by_terms[None]:
        started = time.perf_counter()
        own = [d for d in designs if d.bn.layer == layer]
        compared = verify(own, work / f"verilator_{layer}")
        print(
            f"Verilator {layer}: {len(own)} designs, {compared} (sample, resolution) pairs, every output equal to "
            f"numpy's ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    started = time.perf_counter()
    rows = [(d, *form) for d in designs for form in measured_forms(d, work)]
    print(f"Yosys: {time.perf_counter() - started:.0f} s")
    print(
        f"\nYosys synth_xilinx -family xc7 -noiopad, each design alone; the kit's command {tools.SYNTH_OPTIONS}; "
        "multiply, DSP48E1: the same less -nodsp; *: without -widemux 5 (Yosys' ABC assertion)"
    )
    head = f"{'design':<24}{'form':<19}{'exp.':>6}{'out':>4}" + "".join(f"{key:>8}" for key in KEYS)
    print(head + f"{'levels':>7}")
    for d, form, fig, note in rows:
        exponents = f"0-{d.top_exponent}" if d.terms else "-"
        print(
            f"{d.name:<24}{form + ('*' if note else ''):<19}{exponents:>6}{d.out_width:>4}"
            + "".join(f"{fig[key]:>8}" for key in KEYS)
            + f"{fig['levels']:>7}"
        )
    print("\nthe CNN's two BN stream words together (bn_0: 16 channels, bn_1: 32)")
    words = [(d, form, fig) for d, form, fig, _ in rows if d.n_chan > 1]
    for form in dict.fromkeys(form for _, form, _ in words):
        per_layer = {}
        for d, f, fig in words:
            if f == form:
                per_layer.setdefault(d.bn.layer, []).append((d.top_exponent, fig))
        exponent_ranges = (("the K-term table's exponents", min), ("exponents 0-15", max))
        for label, pick in exponent_ranges if "terms" in form else (("", min),):
            figures = [pick(options, key=lambda pair: pair[0])[1] for options in per_layer.values()]
            print(f"  {form:<19}{label:<30}" + "".join(f"{sum(f[key] for f in figures):>8}" for key in KEYS))


# ---------------------------------------------------------------- accuracy


def example_config(scale_terms, epochs, seed, resolutions):
    raw = parse_yaml(CONFIG.read_text(), CONFIG)
    raw["quantization"]["bn_scale_terms"] = scale_terms
    if resolutions:
        raw["quantization"]["resolutions"] = resolutions
    raw["training"].update(epochs=epochs, seed=seed)
    return from_dict(raw)


def accuracy_part(epochs, seeds, resolutions, work):
    rows = []
    for seed in seeds:
        for k in (None, 3, 2, 1):
            config = example_config(k, epochs, seed, resolutions)
            data = load_data(config)
            started = time.perf_counter()
            models, _ = train(config, data, verbose=0)
            seconds = time.perf_counter() - started
            meta = models["meta"]
            accuracy = [acc for acc, _ in accuracy_per_resolution(meta, data.x_test, data.y_test)]
            tables = converted_bn(meta, work / f"trained_{seed}_{k}")
            rows.append((seed, k, accuracy, seconds, tables, len(data.y_test)))
            print(
                f"seed {seed}, bn_scale_terms {k or 'null'}: trained in {seconds:.0f} s; accuracy "
                + " ".join(f"{100 * a:.1f}" for a in accuracy),
                flush=True,
            )
    res = [tuple(r) for r in config.quantization.resolutions]
    print(f"\nKeras test accuracy (%, whole test split of {rows[0][5]}), hardware-exact inference; {epochs} epochs")
    print(f"{'seed':>4} {'bn_scale_terms':>14} " + "".join(f"{f'{a},{k}':>8}" for a, k in res) + f"{'train s':>9}")
    for seed, k, accuracy, seconds, _, _ in rows:
        print(f"{seed:>4} {k or 'null':>14} " + "".join(f"{100 * a:>8.1f}" for a in accuracy) + f"{seconds:>9.0f}")
    if len(seeds) > 1:
        for k in (None, 3, 2, 1):
            runs = [(accuracy, seconds) for _, terms, accuracy, seconds, _, _ in rows if terms == k]
            mean = np.mean([accuracy for accuracy, _ in runs], axis=0)
            seconds = np.mean([seconds for _, seconds in runs])
            print(f"{'mean':>4} {k or 'null':>14} " + "".join(f"{100 * a:>8.1f}" for a in mean) + f"{seconds:>9.0f}")
    print("\nthe trained models' BN tables (scale type, its largest term exponent, mean NAF terms a scale, acc_width)")
    for seed, k, _, _, tables, _ in rows:
        described = []
        for bn in tables.values():
            terms = np.mean([len(value_terms(abs(int(s)), "naf")) for s in bn.scales.ravel()])
            described.append(
                f"{bn.layer} int<{bn.scale_width}> (0-{bn.top_exponent}), {terms:.2f} terms, acc {bn.out_width}"
            )
        print(f"{seed:>4} {k or 'null':>14}  " + "; ".join(described))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("yosys", "accuracy"), required=True)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--resolutions", nargs="+", default=None, help="a,k pairs (default: the example's eight resolutions)"
    )
    args = parser.parse_args()
    resolutions = [[int(v) for v in pair.split(",")] for pair in args.resolutions] if args.resolutions else None
    with tempfile.TemporaryDirectory(prefix="bench_bn_terms_") as tmp:
        work = Path(tmp)
        if args.part == "yosys":
            yosys_part(work)
        else:
            accuracy_part(args.epochs, args.seeds, resolutions, work)


if __name__ == "__main__":
    main()
