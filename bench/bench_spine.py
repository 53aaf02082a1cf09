"""Benchmark of the kit's spine: the demo model's accuracy/cycles and the cost of term-quantized training.

Measures and prints (no asserts):

1. The demo (embedded ``digits_mlp.yaml``) run through the real pipeline (train -> convert -> C-simulate)
   into a temporary directory: Keras and C-sim accuracy and estimated cycles per resolution, and the ratio of
   estimated cycles at the highest resolution to the lowest.
2. Training-step time (forward + backward + Adam, batch 64, digits) of the term-quantized MLP against the same
   MLP in plain QKeras ``quantized_bits``/``quantized_relu``, and of the real multi-resolution step
   (teacher + student), all timed side by side in alternating rounds; median ms per step and the ratios.

Run from the repository root (about a minute on 2 cores):

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

import numpy as np
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from mrfpga.cli import pipeline
from mrfpga.cli.config import load_config
from mrfpga.hls.resources import package_dir
from mrfpga.training.data import load_digits
from mrfpga.training.models import build_mlp
from mrfpga.training.resolution import n_resolutions
from mrfpga.training.steps import StudentSampler, distillation_loss, make_train_step

BATCH = 64
WARMUP_STEPS = 10
ROUNDS = 20
STEPS_PER_ROUND = 25  # ROUNDS * STEPS_PER_ROUND = 500 timed steps per variant
SEED = 0


def heading(text):
    print(f"\n{text}\n{'=' * len(text)}", flush=True)


def bench_demo(config):
    """Run the real pipeline; its own chatter is captured and shown only if it fails."""
    heading(f"1. Demo model (examples/digits_mlp.yaml) on {config.hls.board}: the real pipeline")
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


def build_qkeras_mlp(n_inputs, n_classes, hidden):
    """The same MLP in plain QKeras: quantized_bits(8, 0) weights, quantized_relu(8, 3) activations."""
    tf.keras.utils.set_random_seed(SEED)

    def dense(units):
        return QDense(
            units, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(16, 7, alpha=1)
        )

    x = tf.keras.Input((n_inputs,))
    h = QActivation(quantized_relu(8, 3))(x)
    for units in hidden:
        h = QActivation(quantized_relu(8, 3))(dense(units)(h))
    return tf.keras.Model(x, dense(n_classes)(h))


def make_single_step(model, optimizer):
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step


def bench_training(config):
    data = load_digits(SEED)
    q, lr = config.quantization, config.training.learning_rate
    n_in, n_out, hidden = data.n_inputs, data.n_classes, config.model.hidden
    order = np.random.default_rng(SEED).permutation(len(data.x_train))
    batches = [
        (tf.constant(data.x_train[idx]), tf.constant(data.y_train[idx]))
        for idx in np.split(order[: len(order) // BATCH * BATCH], len(order) // BATCH)
    ]

    ours = build_mlp(n_in, n_out, hidden, q, SEED)
    ours_step = make_single_step(ours, tf.keras.optimizers.Adam(lr))
    baseline = build_qkeras_mlp(n_in, n_out, hidden)
    baseline_step = make_single_step(baseline, tf.keras.optimizers.Adam(lr))
    multi = build_mlp(n_in, n_out, hidden, q, SEED)
    n_res = n_resolutions(multi)
    multi_step = make_train_step(multi, tf.keras.optimizers.Adam(lr), distillation_loss, n_res - 1)
    students = StudentSampler(n_res, SEED)

    variants = {
        "QKeras quantized_bits (baseline)": baseline_step,
        "term quantizer, one resolution": ours_step,
        "term quantizer, multi-resolution step": lambda x, y: multi_step(x, y, tf.constant(next(students), tf.int32)),
    }
    times = {name: [] for name in variants}
    i = 0
    for step in variants.values():  # warm-up: trace and settle
        for _ in range(WARMUP_STEPS):
            float(step(*batches[i % len(batches)]))
            i += 1
    names = list(variants)
    for r in range(ROUNDS):  # rotate the order every round so drift hits every variant alike
        for name in names[r % len(names) :] + names[: r % len(names)]:
            for _ in range(STEPS_PER_ROUND):
                x, y = batches[i % len(batches)]
                i += 1
                started = time.perf_counter()
                float(variants[name](x, y))  # float(): wait for the step's result
                times[name].append(time.perf_counter() - started)

    heading(
        f"2. Training-step time: MLP {n_in}-{'-'.join(map(str, hidden))}-{n_out}, batch {BATCH}, Adam, "
        f"{ROUNDS} alternating rounds x {STEPS_PER_ROUND} steps"
    )
    median = {name: 1000 * float(np.median(t)) for name, t in times.items()}
    for name, t in times.items():
        p10, p90 = np.percentile(t, [10, 90]) * 1000
        print(f"{name:<40} median {median[name]:7.2f} ms/step  (p10 {p10:.2f}, p90 {p90:.2f}, n={len(t)})")
    base, single, meta = (median[n] for n in names)
    print(f"term quantizer / QKeras baseline (one model):   {single / base:.2f}x")
    print(f"multi-resolution step / QKeras baseline:        {meta / base:.2f}x")
    print(f"multi-resolution step / term quantizer (one):   {meta / single:.2f}x  (SPEC: about 2x one model)")


def main():
    config = load_config(package_dir("examples") / "digits_mlp.yaml")
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs")
    bench_demo(config)
    bench_training(config)


if __name__ == "__main__":
    main()
