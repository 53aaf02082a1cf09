"""A design worth choosing? The multi-resolution (mMAC) design against plain QKeras baselines on the digits, in
LUT x cycles, with the same figures from the same flow on both sides.

- **Ours**: the kit's demo configuration (``examples/digits_mlp.yaml``: the 64-64-32-10 MLP, term-quantized,
  eight resolutions, multi-resolution training), converted at its reuse factor. Per resolution: Keras test
  accuracy, cycles from the twin's golden model (``mrfpga.hls.twin.spec.simulate_chain``; checked once in
  Verilator with ``measure.run_twin`` on a few samples, outputs and cycles), and the Verilog twin sized with
  ``measure.synthesize`` (LUT, FF, CARRY4, BRAM_18K, DSP48E1, the longest combinational path): one design for
  every resolution, so its resources are the same at each, its cycles not.
- **Baselines**: plain QKeras models of the same architecture on the same data and split, trained with the same
  settings (``mrfpga.cli.pipeline.train_baseline``: scheme and method ``qkeras``, ``quantized_bits`` weights and
  ``quantized_relu`` activations of 3, 4, 6 and 8 bits, the activations' integer bits the config's capped at
  bits - 1, the config's bias). Per resolution of ours, each width's design at the reuse factor whose cycles come
  closest (``plain.reuse_for_cycles`` among hls4ml's valid reuse factors, the ones its Resource strategy builds;
  ``--any-reuse``: every reuse factor), converted at it and sized with ``plain.synthesize_designs`` (the plain
  twin: hls4ml's Resource-strategy Dense, bit-parallel LUT multipliers, weight ROMs in block RAM from 1,024
  bits), one Yosys run a width for all its reuse factors, cached by (width, reuse factor).

Both sides are sized by the same ``synth_xilinx`` command (``tools.SYNTH_OPTIONS``), sampled: ``--units`` mMAC
units a layer, ``--lanes`` lanes of each kind a layer, the others counted as the mean of theirs.

Printed per resolution: ours (accuracy, cycles, LUT, BRAM_18K, LUT x cycles, depth), the matched 8-bit baseline
(reuse factor, cycles, LUT, BRAM_18K, LUT x cycles, depth) and the ratio ours / baseline of LUT x cycles; and the
ratio to the cheapest baseline (lowest LUT x cycles at its matched cycles) of any width whose accuracy is at
least ours - 0.5 pp, and to the cheapest whose accuracy is within 0.5 pp either way (or "none"). Every figure
is labelled with its source. ``results.json`` in ``--out`` holds everything; ``--plot`` draws accuracy against
LUT x cycles.

Run from the repository root (about 15 minutes on 2 busy cores, 11 of them Yosys; training is a minute):

    .venv/bin/python bench/bench_designs.py [--epochs N] [--out DIR] [--plot FILE.png]
"""

# ruff: noqa: E402 (TF's log level and the warning filter must be set before TensorFlow is imported)
import os
import warnings

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
warnings.filterwarnings("ignore", message=r".*keras.constraints.serialize\(\)")

import argparse
import json
import time
from pathlib import Path

import numpy as np

from mrfpga.cli import pipeline
from mrfpga.cli.run_config import load_config, resolution_settings
from mrfpga.hls.package_data import package_dir
from mrfpga.hls.project.convert import input_port_type
from mrfpga.hls.sim.csim import snap_to_input_grid
from mrfpga.hls.twin import measure, plain, spec
from mrfpga.hls.twin.spec import twin_specs
from mrfpga.training.methods import train as train_method
from mrfpga.training.models import model_input
from mrfpga.training.resolution import n_resolutions, set_resolution

WIDTHS = (3, 4, 6, 8)
MATCHED = 8  # the width printed beside each resolution
TOLERANCE = 0.005  # 0.5 percentage points

SOURCES = {
    "accuracy": "Keras, the whole test split (inputs on the model's input port grid)",
    "ours_cycles": "the twin's golden model (spec.simulate_chain), the most over the test split; checked in "
    "Verilator (measure.run_twin) on the first samples",
    "baseline_cycles": "the plain twin's golden model (plain.total_cycles; Verilator counts the same in "
    "tests/twin/test_plain.py)",
    "resources": "Yosys (tools.SYNTH_OPTIONS), sampled as the method says",
    "depth": "Yosys ltp: logic levels (the LUTs among them) on the longest combinational path between registers",
}


def heading(text):
    print(f"\n{text}\n{'=' * len(text)}", flush=True)


def progress(text):
    print(f"  {text}", flush=True)


def test_inputs(model, data):
    """The test split on ``model``'s input port grid, as the kit feeds the board."""
    return snap_to_input_grid(data.x_test, *input_port_type(model))


def slim(sized):
    """A Yosys result without the layers, and the depth without its cells."""
    depth = sized.get("depth") or {}
    return {
        **{key: sized[key] for key in ("tool", "method", "seconds", "total") if key in sized},
        "depth": {key: depth[key] for key in pipeline.DEPTH_KEYS if key in depth},
    }


def design_row(accuracy, cycles, sized):
    total, depth = sized["total"], sized["depth"]
    return {
        "accuracy": accuracy,
        "cycles": int(cycles),
        **{key: total[key] for key in ("LUT", "FF", "CARRY4", "BRAM_18K", "DSP48E1")},
        "lut_x_cycles": int(total["LUT"] * cycles),
        "depth": {key: depth[key] for key in pipeline.DEPTH_KEYS},
    }


def measure_ours(config, data, out, args, timings):
    heading(f"Ours: {config.model.hidden} MLP, multi-resolution training ({config.training.epochs} epochs)")
    started = time.monotonic()
    meta = train_method(config, data, None, verbose=0)[0]["meta"]
    timings["train_ours"] = time.monotonic() - started
    n_res = n_resolutions(meta)
    hls_model = pipeline.converted(config, meta, out / "ours" / "hls")  # nothing written
    specs = twin_specs(hls_model)
    x = test_inputs(meta, data)
    xin = model_input(meta, x)
    codes = np.round(np.reshape(xin, (len(xin), -1)) * 2.0 ** specs[0].in_frac).astype(np.int64)
    accuracy, cycles, golden = [], [], []
    for r in range(n_res):
        set_resolution(meta, r)
        accuracy.append(pipeline.keras_accuracy(meta, x, data.y_test))
        outputs, counted = spec.simulate_chain(specs, codes, r)
        golden.append(outputs)
        cycles.append(int(counted.max()))
    set_resolution(meta, n_res - 1)
    print(f"trained in {timings['train_ours']:.0f} s; reuse factor {config.hls.reuse_factor}; cycles {cycles}")

    n = min(args.verilator_samples, len(codes))
    started = time.monotonic()
    rtl = measure.run_twin(specs, codes[:n], n_res, out / "ours" / "rtl", progress=progress)
    timings["verilator_ours"] = time.monotonic() - started
    same_out = all(np.array_equal(rtl["outputs"][r], golden[r][:n]) for r in range(n_res))
    same_cycles = all(rtl["cycles"][r] == [cycles[r]] * n for r in range(n_res))
    print(f"Verilator on {n} samples at {n_res} resolutions: outputs equal the golden model: {same_out}; cycles "
          f"equal: {same_cycles}")  # fmt: skip
    if not (same_out and same_cycles):
        raise SystemExit("the Verilog twin differs from its golden model: no figures from it")

    started = time.monotonic()
    sized = measure.synthesize(specs, out / "ours" / "yosys", units_per_layer=args.units, progress=progress)
    timings["yosys_ours"] = time.monotonic() - started
    labels = [s["label"] for s in resolution_settings(config.quantization, n_res)]
    rows = [design_row(accuracy[r], cycles[r], sized) for r in range(n_res)]
    return {
        "labels": labels,
        "reuse_factor": config.hls.reuse_factor,
        "rows": rows,
        "verilator": {"samples": n, "outputs_equal": same_out, "cycles_equal": same_cycles},
        "sized": slim(sized),
    }


def measure_baselines(config, data, out, targets, args, timings):
    baselines = {}
    cache = {}  # (width, reuse) -> Yosys figures
    for bits in WIDTHS:
        heading(f"Baseline: plain QKeras, {bits}-bit weights and activations")
        started = time.monotonic()
        baseline, model = pipeline.train_baseline(config, data, bits)
        trained = time.monotonic() - started
        accuracy = pipeline.keras_accuracy(model, test_inputs(model, data), data.y_test)
        q = baseline.quantization
        print(f"trained in {trained:.0f} s; Keras accuracy {accuracy:.4f} (quantized_relu({bits}, "
              f"{q.activation_integer}), bias quantized_bits({q.bias_bits}, {q.bias_integer}))")  # fmt: skip
        matched, chains = pipeline.matched_designs(
            baseline, model, targets, out / f"plain{bits}" / "hls", hls4ml_valid=not args.any_reuse
        )
        width_cache = {reuse: cache[bits, reuse] for reuse in chains if (bits, reuse) in cache}
        started = time.monotonic()
        sized = pipeline.size_designs(chains, out / f"plain{bits}", args.lanes, width_cache)
        timings[f"yosys_plain{bits}"] = time.monotonic() - started
        timings[f"train_plain{bits}"] = trained
        cache.update({(bits, reuse): figures for reuse, figures in sized.items()})
        designs = {
            reuse: {
                **design_row(accuracy, plain.total_cycles(chains[reuse]), sized[reuse]),
                "reuse_factor": reuse,
                "layer_reuse": {s.name: s.reuse for s in chains[reuse] if isinstance(s, plain.PlainDense)},
                "sized": slim(sized[reuse]),
            }
            for reuse in sorted(chains)
        }
        for reuse, design in designs.items():
            print(f"  reuse {reuse} {design['layer_reuse']}: {design['cycles']} cycles, LUT {design['LUT']}, "
                  f"BRAM_18K {design['BRAM_18K']}, depth {design['depth']['logic_levels']}")  # fmt: skip
        baselines[bits] = {
            "accuracy": accuracy,
            "activation_integer": q.activation_integer,
            "matched": {str(target): reuse for target, reuse in matched.items()},
            "designs": {str(reuse): design for reuse, design in designs.items()},
            "training_seconds": round(trained, 1),
        }
    return baselines


def cheapest(baselines, target, accuracy, admits):
    """(width, design) of the lowest LUT x cycles among the widths whose accuracy ``admits``, at ``target``."""
    found = [
        (
            b["designs"][str(b["matched"][str(target)])]["lut_x_cycles"],
            bits,
            b["designs"][str(b["matched"][str(target)])],
        )
        for bits, b in baselines.items()
        if admits(b["accuracy"] - accuracy)
    ]
    if not found:
        return None
    _, bits, design = min(found, key=lambda item: (item[0], item[1]))
    return bits, design


def depth_text(row):
    return f"{row['depth']['logic_levels']} ({row['depth']['lut_levels']})"


def print_table(ours, baselines):
    heading("Per resolution: ours, the matched 8-bit baseline, the cheapest baseline as accurate")
    head = (
        f"{'res':>3} {'setting':>9} | {'acc %':>6} {'cycles':>6} {'LUT':>6} {'BRAM':>4} {'LUT x cyc':>10} {'depth':>6} "
        f"| {'reuse':>5} {'cycles':>6} {'LUT':>6} {'BRAM':>4} {'LUT x cyc':>10} {'depth':>6} {'ours/8b':>7} "
        f"| {'>= -0.5pp':>16} | {'within 0.5pp':>16}"
    )
    print(head)
    print("-" * len(head))
    table = []
    base8 = baselines[MATCHED]
    for r, (label, row) in enumerate(zip(ours["labels"], ours["rows"], strict=True)):
        target = row["cycles"]
        matched = base8["designs"][str(base8["matched"][str(target)])]
        entry = {"index": r, "label": label, "ours": row, "baseline_8bit": matched,
                 "ratio_8bit": row["lut_x_cycles"] / matched["lut_x_cycles"]}  # fmt: skip
        cells = []
        for key, admits in (
            ("cheapest_not_worse", lambda d: d >= -TOLERANCE - 1e-12),
            ("cheapest_within", lambda d: abs(d) <= TOLERANCE + 1e-12),
        ):
            found = cheapest(baselines, target, row["accuracy"], admits)
            if found is None:
                entry[key] = None
                cells.append("none within 0.5 pp")
            else:
                bits, design = found
                ratio = row["lut_x_cycles"] / design["lut_x_cycles"]
                entry[key] = {"width": bits, "reuse_factor": design["reuse_factor"], "ratio": ratio,
                              "lut_x_cycles": design["lut_x_cycles"], "accuracy": design["accuracy"]}  # fmt: skip
                cells.append(f"{ratio:.2f} ({bits}b r{design['reuse_factor']})")
        table.append(entry)
        print(
            f"{r:>3} {label:>9} | {100 * row['accuracy']:>6.2f} {row['cycles']:>6} {row['LUT']:>6} "
            f"{row['BRAM_18K']:>4} {row['lut_x_cycles']:>10,} {depth_text(row):>6} | "
            f"{matched['reuse_factor']:>5} {matched['cycles']:>6} "
            f"{matched['LUT']:>6} {matched['BRAM_18K']:>4} {matched['lut_x_cycles']:>10,} {depth_text(matched):>6} "
            f"{entry['ratio_8bit']:>7.2f} | {cells[0]:>16} | {cells[1]:>16}"
        )
    print("\nBaseline accuracy (Keras, the whole test split): " + ", ".join(
        f"{bits} bits {100 * b['accuracy']:.2f}%" for bits, b in baselines.items()))  # fmt: skip
    print(f"acc: {SOURCES['accuracy']}")
    print(f"cycles, ours: {SOURCES['ours_cycles']}; latency = interval (an io_parallel chain takes one input at a "
          f"time)")  # fmt: skip
    print(f"cycles, baselines: {SOURCES['baseline_cycles']}")
    print(f"LUT, BRAM (BRAM_18K), LUT x cycles: {SOURCES['resources']}; depth: {SOURCES['depth']}")
    print(f"ours: {ours['sized']['tool']} ({ours['sized']['method']})")
    any_design = next(iter(base8["designs"].values()))
    print(f"baselines: {any_design['sized']['tool']} ({any_design['sized']['method']})")
    print("ours/8b: ours / the matched 8-bit baseline, LUT x cycles; >= -0.5pp: ours / the cheapest baseline of any "
          "width at least as accurate as ours less 0.5 pp, at its matched cycles (width, reuse factor); within 0.5pp: "
          "the same among those within 0.5 pp either way")  # fmt: skip
    return table


def plot(ours, baselines, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    rows = ours["rows"]
    ax.plot([r["lut_x_cycles"] for r in rows], [100 * r["accuracy"] for r in rows], "o-", color="black",
            label="ours (multi-resolution), its 8 resolutions")  # fmt: skip
    for label, row in zip(ours["labels"], rows, strict=True):
        ax.annotate(label, (row["lut_x_cycles"], 100 * row["accuracy"]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")  # fmt: skip
    markers = dict(zip(WIDTHS, "sv^D", strict=True))
    for bits, b in baselines.items():
        designs = list(b["designs"].values())
        ax.plot([d["lut_x_cycles"] for d in designs], [100 * d["accuracy"] for d in designs], markers[bits],
                linestyle="none", label=f"plain QKeras {bits}-bit, at the matched reuse factors")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("LUT x cycles (Yosys LUT, golden-model cycles)")
    ax.set_ylabel("test accuracy (%, Keras)")
    ax.set_title("Digits MLP: accuracy against LUT x cycles, same synthesis both sides")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the config's, 40)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_designs"), help="output directory")
    parser.add_argument("--plot", type=Path, help="draw accuracy against LUT x cycles to this PNG")
    parser.add_argument("--units", type=int, default=4, help="mMAC units synthesized a layer (default 4)")
    parser.add_argument("--lanes", type=int, default=2, help="plain lanes of each kind synthesized a layer (2)")
    parser.add_argument("--verilator-samples", type=int, default=20, help="samples checked in Verilator (20)")
    parser.add_argument("--any-reuse", action="store_true", help="match over every reuse factor, not hls4ml's valid")
    args = parser.parse_args()
    started = time.monotonic()
    config = load_config(package_dir("examples") / "digits_mlp.yaml")
    if args.epochs is not None:
        config.training.epochs = args.epochs
    args.out.mkdir(parents=True, exist_ok=True)
    data = pipeline.load_data(config)
    timings = {}
    ours = measure_ours(config, data, args.out, args, timings)
    targets = sorted({row["cycles"] for row in ours["rows"]})
    baselines = measure_baselines(config, data, args.out, targets, args, timings)
    table = print_table(ours, baselines)
    timings["total"] = time.monotonic() - started
    results = {
        "config": config.to_dict(),
        "sources": SOURCES,
        "matching": "hls4ml's valid reuse factors" if not args.any_reuse else "every reuse factor",
        "ours": ours,
        "baselines": {str(bits): b for bits, b in baselines.items()},
        "table": table,
        "seconds": {key: round(value, 1) for key, value in timings.items()},
    }
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    if args.plot:
        plot(ours, baselines, args.plot)
        print(f"plot: {args.plot}")
    print("\ntimes (s): " + ", ".join(f"{key} {value:.0f}" for key, value in timings.items()))
    print(f"results: {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
