"""Benchmark of the HLS side: our multi-resolution mMAC projects against plain hls4ml, same architectures.

Two models on scikit-learn's digits, each built twice with the same architecture:

- **ours**: term-quantized QKeras (``quantized_term`` kernels, ``quantized_data_term`` activations, the eight
  resolutions of ``examples/digits_mlp.yaml``), trained with multi-resolution distillation, converted by
  ``mrfpga.hls.project.convert.convert`` into one project with a run-time ``resolution`` port (the kit's ``DataTerm``,
  ``MMACDense``, ``MMACConv2D`` layers);
- **hls4ml**: plain QKeras fixed point (``quantized_bits(8, 0, alpha=1)`` kernels, ``quantized_bits(16, 7,
  alpha=1)`` biases, ``quantized_relu(8, 3)`` activations), trained with plain cross-entropy, converted by
  ``hls4ml.converters.convert_from_keras_model`` (Vivado backend, io_parallel, Latency strategy, reuse factor 1,
  ``xc7z020clg400-1``, the same 10 ns clock).

The models: the digits MLP of ``digits_mlp.yaml`` (8x8x1 -> flatten -> 64 -> 32 -> 10) and the kit's digits
CNN (``build_cnn``, filters [8, 16]: per block a 3x3 same-padded convolution, batch norm, activation and 2x2 max
pooling; then a Dense 10). Ours is trained as a meta model with multi-resolution distillation (switchable BN,
folded per resolution in hardware); the baseline with plain cross-entropy and Keras' BatchNormalization (hls4ml's
own BatchNormalization layer). Both for ``EPOCHS`` epochs, batch 64, Adam 0.003, seed 0.

Measured and printed, one table per model (no asserts):

1. Estimated DSP48E1, LUT, FF and cycles per inference (and latency at the 10 ns clock). These are
   ESTIMATES on both sides, not synthesis results (no Vivado here), and the two come from different models:

   - both from the kit's ``mrfpga.hls.cost.estimate.estimate(hls_model, n_resolutions, board)`` (docs/estimates.md):
     for ours, cycles per resolution from the lock-step mMAC schedule (a Dense ``R * n_groups * K_r + 4`` with
     its weight-term units, ``K_r`` the fullest group's terms; a data-term layer ``5 + ceil(n / 4)``), the
     ``ceil(n_out / R)`` units and the layers at the costs measured with Yosys on the Verilog twin
     (``hls/layers/unit_costs.py``), term ROMs of 1,024 bits or more in block RAM, no DSP except one per value
     for the folded BN; for the baseline, the kit's simple model of hls4ml's io_parallel Latency layers:
     ``multiplier_limit`` multipliers per Dense/Conv2D/BatchNormalization, each a DSP48E1 when both operands
     exceed 10 bits, else a product by a constant in LUTs (``7.43 * w - 4.2`` LUT for a ``w``-bit weight, fitted
     to Yosys, docs/estimates.md); a Dense ``reuse + 2`` cycles, a Conv2D ``pixels * reuse + 2``, activations
     and pooling 1.

2. g++ compile time of the C simulation: wall time of ``hls_model.compile()`` (which writes the project, then
   runs hls4ml's ``build_lib.sh``: g++ -O3 of the firmware and the bridge into a shared library), same machine,
   ``COMPILE_ROUNDS`` rounds alternating which variant goes first; median and every round, and the ratio.
   Both plain for the ratio (``MRFPGA_PRECOMPILED_HEADERS=0``); ours with the kit's precompiled headers
   (``mrfpga.hls.sim.precompiled.precompiled_header``) on a row of its own.
3. C-simulation throughput: inferences per second of ``hls_model.predict`` (one ctypes call per sample) on the
   450 test samples (float64 inputs on the ap_fixed<16,6> input grid), median of ``PREDICT_REPS``
   repetitions taken in rotating order; ours at the highest and the lowest resolution. The C-simulation
   accuracy on those samples is printed too, per resolution for ours.

Run from the repository root (3 to 6 minutes on 2 cores, depending on load; needs g++ on PATH):

    .venv/bin/python bench/bench_hls.py
"""

# ruff: noqa: E402 (TF's log level and the warning filter must be set before TensorFlow is imported)
import os
import warnings

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
warnings.filterwarnings("ignore", message=r".*keras.constraints.serialize\(\)")

import contextlib
import io
import subprocess
import tempfile
import time
from pathlib import Path

import hls4ml
import numpy as np
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

from mrfpga.cli.run_config import load_config
from mrfpga.hls.cost.estimate import estimate
from mrfpga.hls.layers.hls4ml_layers import MULTIPLYING, multipliers
from mrfpga.hls.package_data import package_dir
from mrfpga.hls.project.boards import load_board
from mrfpga.hls.project.convert import convert
from mrfpga.hls.sim.csim import predict, snap_to_input_grid
from mrfpga.hls.sim.precompiled import PRECOMPILED_SWITCH
from mrfpga.training.data import load_digits
from mrfpga.training.methods import train
from mrfpga.training.resolution import n_resolutions
from mrfpga.training.steps import step_factory
from mrfpga.training.trainer import fit

SEED = 0
EPOCHS = 40  # the default of examples/digits_mlp.yaml; at 10 the CNN's lowest resolutions lag far behind
BATCH = 64
LEARNING_RATE = 0.003
COMPILE_ROUNDS = 4
PREDICT_REPS = 7
PROJECT = "myproject"


def heading(text):
    print(f"\n{text}\n{'=' * len(text)}", flush=True)


@contextlib.contextmanager
def quiet():
    """hls4ml's conversion chatter is captured and shown only if something fails."""
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter):
            yield
    except BaseException:
        print(chatter.getvalue())
        raise


# ---------------------------------------------------------------- models


def baseline_dense(units, name):
    return QDense(
        units, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(16, 7, alpha=1), name=name
    )


def baseline_act(name):
    return QActivation(quantized_relu(8, 3), name=name)


def baseline_mlp(input_shape, n_classes, hidden):
    """The digits MLP of build_mlp in plain QKeras fixed point."""
    tf.keras.utils.set_random_seed(SEED)
    x = tf.keras.Input(input_shape, name="features")
    h = tf.keras.layers.Flatten(name="flatten")(x)
    h = baseline_act("input_act")(h)
    for i, units in enumerate(hidden):
        h = baseline_act(f"act_{i}")(baseline_dense(units, f"dense_{i}")(h))
    return tf.keras.Model(x, baseline_dense(n_classes, "logits")(h), name="mlp_hls4ml")


def baseline_cnn(input_shape, n_classes, filters):
    """The kit's digits CNN (build_cnn) in plain QKeras fixed point, with Keras' own batch norm."""
    tf.keras.utils.set_random_seed(SEED)
    x = tf.keras.Input(input_shape, name="features")
    h = baseline_act("input_act")(x)
    for i, n_filters in enumerate(filters):
        h = QConv2D(
            n_filters, 3, padding="same", kernel_quantizer=quantized_bits(8, 0, alpha=1), use_bias=False,
            name=f"conv_{i}",
        )(h)  # fmt: skip
        h = tf.keras.layers.BatchNormalization(name=f"bn_{i}")(h)
        h = baseline_act(f"act_{i}")(h)
        if min(h.shape[1:3]) >= 2:
            h = tf.keras.layers.MaxPooling2D(2, name=f"pool_{i}")(h)
    h = tf.keras.layers.Flatten(name="flatten")(h)
    return tf.keras.Model(x, baseline_dense(n_classes, "logits")(h), name="cnn_hls4ml")


def fit_model(model, data, method):
    tf.keras.utils.set_random_seed(SEED)
    fit(model, data, EPOCHS, BATCH, LEARNING_RATE, SEED, step_factory(method, SEED), verbose=0)
    return model


# ---------------------------------------------------------------- conversion and the baseline's estimate


def convert_baseline(model, out_dir, clock_period):
    with quiet():
        config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vivado")
        return hls4ml.converters.convert_from_keras_model(
            model, hls_config=config, output_dir=str(out_dir), project_name=PROJECT, backend="Vivado",
            io_type="io_parallel", part="xc7z020clg400-1", clock_period=clock_period,
        )  # fmt: skip


def baseline_estimate(hls_model, board):
    """The kit's estimate (its model of hls4ml's own layers), plus the multipliers it counted."""
    found = [multipliers(node) for node in hls_model.get_layers() if node.class_name in MULTIPLYING]
    est = estimate(hls_model, 1, board)
    return {
        "cycles": est["cycles"][0],
        "resources": est["resources"],
        "multipliers": sum(n for n, _ in found),
        "widths": sorted({w for _, w in found}),
    }


def mac_units(hls_model):
    """The units of our mMAC layers: ceil(n_out / R) each, every unit owning R outputs (R the reuse factor)."""
    return sum(
        node.get_attr("n_units") for node in hls_model.get_layers() if node.class_name in ("MMACDense", "MMACConv2D")
    )


def cnn_summary(filters):
    return "-".join(f"conv3x3x{f}-bn-pool2" for f in filters)


def layer_summary(hls_model):
    skip = ("Input", "Reshape")
    return " -> ".join(node.class_name for node in hls_model.get_layers() if node.class_name not in skip)


# ---------------------------------------------------------------- measurements


def time_compiles(variants):
    """{name: [seconds]} of hls_model.compile(), COMPILE_ROUNDS rounds, rotating which variant goes first.
    ``variants``: {name: (hls_model, precompiled headers or not)}."""
    names = list(variants)
    times = {name: [] for name in names}
    switch = os.environ.get(PRECOMPILED_SWITCH)
    for r in range(COMPILE_ROUNDS):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            hls_model, precompiled = variants[name]
            os.environ[PRECOMPILED_SWITCH] = "1" if precompiled else "0"
            with quiet():
                started = time.perf_counter()
                hls_model.compile()
                times[name].append(time.perf_counter() - started)
    if switch is None:  # as the caller had it
        os.environ.pop(PRECOMPILED_SWITCH)
    else:
        os.environ[PRECOMPILED_SWITCH] = switch
    return times


def time_predicts(calls):
    """{name: (median inferences per second, outputs of the first repetition)}, repetitions in rotating order."""
    names = list(calls)
    for call in calls.values():  # warm-up: ctypes argument set-up, caches
        call(slice(0, 8))
    seconds = {name: [] for name in names}
    outputs = {}
    for r in range(PREDICT_REPS):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            started = time.perf_counter()
            out = calls[name](slice(None))
            seconds[name].append(time.perf_counter() - started)
            outputs.setdefault(name, out)
    return {name: (n_samples_of(outputs[name]) / float(np.median(s)), outputs[name]) for name, s in seconds.items()}


def n_samples_of(out):
    return len(np.asarray(out))


def accuracy(out, y):
    return 100.0 * float(np.mean(np.argmax(np.asarray(out).reshape(len(y), -1), axis=1) == y))


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "-"


def fmt_times(ts):
    return f"{np.median(ts):.1f} ({', '.join(f'{t:.1f}' for t in ts)})"


# ---------------------------------------------------------------- one model, both ways


def measure_twin(ours_model, hls_model, x, board, tmp):
    """The demo MLP on its Verilog twin: Verilator cycles per resolution (on the test samples) and Yosys
    resources. Measurements of ours only: hls4ml's design has no twin here, so no comparison is printed."""
    from mrfpga.hls.twin import measure
    from mrfpga.hls.twin.spec import twin_specs

    specs = twin_specs(hls_model)
    if specs is None:
        print("\nthe Verilog twin covers io_parallel chains of data-term and weight-term mMAC Dense layers only")
        return
    n_res = n_resolutions(ours_model)
    codes = np.round(np.reshape(x, (len(x), -1)) * 2.0 ** specs[0].in_frac).astype(np.int64)
    run = measure.run_twin(specs, codes, n_res, Path(tmp) / "twin")
    measured = measure.synthesize(specs, Path(tmp) / "yosys")
    total = measured["total"]
    heading("Digits MLP, ours on the Verilog twin: measured (Verilator cycles, Yosys resources)")
    print(f"resources, {measured['tool']} ({measured['method']}):")
    print(
        f"  LUT {total['LUT']}/{board.resources['LUT']}, FF {total['FF']}/{board.resources['FF']}, "
        f"DSP48E1 {total['DSP48E1']}/{board.resources['DSP48E1']}, CARRY4 {total['CARRY4']}"
    )
    head = f"{'resolution':>10} {'cycles (Verilator)':>19} {'LUT x cycles':>13}"
    print(f"\n{head}\n{'-' * len(head)}")
    cycles = [float(np.mean(c)) for c in run["cycles"]]
    for r, c in enumerate(cycles):
        print(f"{r:>10} {c:>19.0f} {total['LUT'] * c:>13.3g}")
    print(f"cycles at the highest resolution / the lowest: {cycles[-1] / cycles[0]:.2f}x")


def bench_model(title, ours_model, base_model, q, data, board, tmp, reuse_factor=1, measure=False):
    n_res = n_resolutions(ours_model)
    high, low = n_res - 1, 0
    with quiet():
        ours = convert(
            ours_model, Path(tmp) / "ours", board=board.name, project_name=PROJECT, reuse_factor=reuse_factor
        )
    base = convert_baseline(base_model, Path(tmp) / "hls4ml", board.clock_period_ns)
    ours_est = estimate(ours, n_res, board)
    base_est = baseline_estimate(base, board)

    # Like for like: both plain; the kit's precompiled headers (its kit projects only) on a row of their own.
    compile_s = time_compiles({"ours": (ours, False), "hls4ml": (base, False), "ours_precompiled": (ours, True)})

    x = np.ascontiguousarray(snap_to_input_grid(data.x_test), np.float64)
    y = data.y_test
    calls = {
        "ours_high": lambda s: predict(ours, x[s], high),
        "ours_low": lambda s: predict(ours, x[s], low),
        "hls4ml": lambda s: base.predict(np.ascontiguousarray(x[s])),
    }
    speed = time_predicts(calls)
    ours_acc = [accuracy(predict(ours, x, r), y) for r in range(n_res)]
    base_acc = accuracy(speed["hls4ml"][1], y)

    clock = board.clock_period_ns
    res = ours_est["resources"]
    bres = base_est["resources"]
    base_cycles = base_est["cycles"]
    c_high, c_low = ours_est["cycles"][high], ours_est["cycles"][low]
    ours_compile, base_compile = float(np.median(compile_s["ours"])), float(np.median(compile_s["hls4ml"]))

    heading(title)
    print(f"ours:   {layer_summary(ours)}  ({n_res} resolutions, one project, run-time resolution port)")
    print(f"hls4ml: {layer_summary(base)}  (io_parallel, Latency, reuse 1)")
    print(
        f"{len(x)} test samples; {board.name} ({board.part}), {clock:g} ns clock; both trained {EPOCHS} epochs;"
        " est. = estimate (no synthesis)"
    )
    head = f"{'metric':<46} {'unit':<7} {'ours':>22} {'plain hls4ml':>22} {'ours/hls4ml':>11}"
    print(head)
    print("-" * len(head))

    def row(metric, unit, a, b, r=""):
        print(f"{metric:<46} {unit:<7} {a:>22} {b:>22} {r:>11}")

    row("C-sim test accuracy, highest resolution", "%", f"{ours_acc[high]:.2f}", f"{base_acc:.2f}")
    row("C-sim test accuracy, lowest resolution", "%", f"{ours_acc[low]:.2f}", "(one precision)")
    row("est. DSP48E1", "blocks", res["DSP48E1"], bres["DSP48E1"], ratio(res["DSP48E1"], bres["DSP48E1"]))
    row("est. LUT", "LUTs", res["LUT"], bres["LUT"], ratio(res["LUT"], bres["LUT"]))
    row("est. FF", "FFs", res["FF"], bres["FF"], ratio(res["FF"], bres["FF"]))
    row("est. BRAM_18K", "blocks", res["BRAM_18K"], "0 (not modelled)")
    units = mac_units(ours)
    operands = ", ".join(f"{w}x{a} bit" for w, a in base_est["widths"])
    row("mMAC units / multipliers", "count", units, f"{base_est['multipliers']} ({operands})")
    lut_total = board.resources["LUT"]
    row(
        f"est. LUT share of {board.name} ({lut_total} LUTs)", "%", f"{100 * res['LUT'] / lut_total:.1f}",
        f"{100 * bres['LUT'] / lut_total:.1f}",
    )  # fmt: skip
    row("est. cycles, highest resolution", "cycles", c_high, base_cycles, ratio(c_high, base_cycles))
    row("est. cycles, lowest resolution", "cycles", c_low, base_cycles, ratio(c_low, base_cycles))
    row(
        "est. latency, highest / lowest resolution", "us", f"{c_high * clock / 1000:.2f} / {c_low * clock / 1000:.2f}",
        f"{base_cycles * clock / 1000:.2f}",
    )  # fmt: skip
    row(
        f"g++ compile, hls_model.compile(), {COMPILE_ROUNDS} rounds", "s", fmt_times(compile_s["ours"]),
        fmt_times(compile_s["hls4ml"]), ratio(ours_compile, base_compile),
    )  # fmt: skip
    ours_precompiled = float(np.median(compile_s["ours_precompiled"]))
    row(
        "  ours with the kit's precompiled headers", "s", fmt_times(compile_s["ours_precompiled"]),
        "(plain hls4ml)", ratio(ours_precompiled, base_compile),
    )  # fmt: skip
    base_ips = speed["hls4ml"][0]
    for label, key in (("highest", "ours_high"), ("lowest", "ours_low")):
        ips = speed[key][0]
        row(f"C-sim throughput, {label} resolution", "inf/s", f"{ips:.0f}", f"{base_ips:.0f}", ratio(ips, base_ips))
    print(
        "(compile: median (every round); throughput: median of", PREDICT_REPS, "repetitions of predict on all samples)"
    )

    print()
    head = f"{'res':>3} {'a':>2} {'k':>3} {'gamma':>5} {'est. cycles':>11} {'latency us':>10} {'cycles/hls4ml':>13}"
    head += f" {'C-sim acc %':>11}"
    print(head)
    print("-" * len(head))
    for r, (a, k) in enumerate(q.resolutions):
        c = ours_est["cycles"][r]
        print(
            f"{r:>3} {a:>2} {k:>3} {a * k:>5} {c:>11} {c * clock / 1000:>10.2f} {c / base_cycles:>12.1f}x"
            f" {ours_acc[r]:>11.2f}"
        )
    print(f"{'hls4ml':>16} {base_cycles:>11} {base_cycles * clock / 1000:>10.2f} {1:>12.1f}x {base_acc:>11.2f}")
    if measure:
        measure_twin(ours_model, ours, x, board, tmp)


def main():
    started = time.perf_counter()
    gxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"TensorFlow {tf.__version__}, hls4ml {hls4ml.__version__}, {gxx}, {os.cpu_count()} CPUs")
    config = load_config(package_dir("examples") / "digits_mlp.yaml")
    config.training.epochs = EPOCHS
    config.training.seed = SEED
    q = config.quantization
    board = load_board(config.hls.board)
    data = load_digits(SEED)

    mlp_ours = train(config, data, None, verbose=0)[0]["meta"]
    mlp_base = fit_model(baseline_mlp(data.input_shape, data.n_classes, config.model.hidden), data, "single")
    config.model.kind = "cnn"
    filters = config.model.filters
    cnn_ours = train(config, data, None, verbose=0)[0]["meta"]
    cnn_base = fit_model(baseline_cnn(data.input_shape, data.n_classes, filters), data, "single")
    print(f"training (4 models, {EPOCHS} epochs each): {time.perf_counter() - started:.0f} s since start")

    hidden = "-".join(map(str, config.model.hidden))
    with tempfile.TemporaryDirectory() as tmp:
        bench_model(
            f"Digits MLP 64-{hidden}-{data.n_classes}: ours (term mMAC) vs plain hls4ml (QKeras 8-bit fixed point)",
            mlp_ours, mlp_base, q, data, board, Path(tmp) / "mlp", config.hls.reuse_factor, measure=True,
        )  # fmt: skip
        bench_model(
            f"Digits CNN {cnn_summary(filters)}-dense{data.n_classes}: ours (term mMAC, switchable BN) vs plain"
            " hls4ml (QKeras 8-bit, BN)",
            cnn_ours, cnn_base, q, data, board, Path(tmp) / "cnn",
        )  # fmt: skip
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
