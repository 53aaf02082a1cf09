"""Benchmark of the kit's quantizers against QKeras ``quantized_bits(8, 0, alpha=1)``.

Measures and prints (no asserts), for a 256x256 float32 kernel (random normal, fixed seed), the time of one
forward + backward pass of every quantizer of ``mrfpga.training``: a compiled ``tf.function`` computes
``y = q(w)``, ``loss = sum(y * g)`` for a fixed random ``g`` and the gradient of ``loss`` w.r.t. the variable
``w``. ``quantized_data_term`` runs on a 256x256 activation tensor (uniform 0..8) instead. Every variant,
the baseline included, is timed in each of several alternating rounds (the order rotates every round), so
drift and noise hit all alike. The table gives median, p10 and p90 microseconds per call and the ratio of
the median to the baseline's median.

Run from the repository root (well under a minute on 2 cores):

    .venv/bin/python bench/bench_quantizers.py
"""

# ruff: noqa: E402 (TF's log level and the warning filter must be set before TensorFlow is imported)
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message=r".*keras.constraints.serialize\(\)")

import time
import traceback

import numpy as np
import tensorflow as tf
from qkeras import quantized_bits

from mrfpga.training import (
    quantized_data_term,
    quantized_fixed,
    quantized_onion,
    quantized_pot,
    quantized_rowwise,
    quantized_term,
)

SHAPE = (256, 256)
SEED = 0
WARMUP_CALLS = 5
ROUNDS = 15
CALLS_PER_ROUND = 20
BASELINE = "quantized_bits(8, 0, alpha=1) [QKeras]"
TERM_BUDGETS = [8, 10, 12, 14, 14, 16, 18, 20]

# name -> (factory, input kind); "kernel" is the random-normal weight, "activation" the uniform 0..8 tensor.
QUANTIZERS = {
    BASELINE: (lambda: quantized_bits(8, 0, alpha=1), "kernel"),
    **{
        f"quantized_term(8, 16, budgets, '{e}')": (
            lambda e=e: quantized_term(bits=8, group_size=16, budgets=TERM_BUDGETS, encoding=e),
            "kernel",
        )
        for e in ("naf", "binary", "hese")
    },
    "quantized_fixed(4)": (lambda: quantized_fixed(4), "kernel"),
    "quantized_fixed(8)": (lambda: quantized_fixed(8), "kernel"),
    "quantized_pot(4)": (lambda: quantized_pot(4), "kernel"),
    "quantized_fixed(4, learnable alpha)": (lambda: quantized_fixed(4, alpha=1.0, learnable_alpha=True), "kernel"),
    "quantized_onion(8, [2, 4, 6, 8])": (lambda: quantized_onion(8, [2, 4, 6, 8]), "kernel"),
    "quantized_rowwise() 65:30:5": (lambda: quantized_rowwise(), "kernel"),
    "quantized_data_term(8, 3, budgets) [act.]": (
        lambda: quantized_data_term(8, 3, [2, 2, 2, 2, 3, 3, 3, 3]),
        "activation",
    ),
}


def make_step(quantizer, value, seed):
    """A compiled forward + backward of ``quantizer`` on a variable holding ``value``; returns a scalar."""
    w = tf.Variable(value)
    g = tf.constant(np.random.default_rng(seed).standard_normal(value.shape).astype(np.float32))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(quantizer(w) * g)
        return loss + tf.reduce_sum(tape.gradient(loss, w))

    return step


def main():
    rng = np.random.default_rng(SEED)
    inputs = {
        "kernel": rng.standard_normal(SHAPE).astype(np.float32),
        "activation": rng.uniform(0.0, 8.0, SHAPE).astype(np.float32),
    }
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, input {SHAPE[0]}x{SHAPE[1]} float32")

    steps, failed = {}, {}
    for i, (name, (factory, kind)) in enumerate(QUANTIZERS.items()):
        try:
            step = make_step(factory(), inputs[kind], SEED + 1 + i)
            for _ in range(WARMUP_CALLS):  # trace, then settle
                step().numpy()
            steps[name] = step
        except Exception as error:  # report and go on: one broken quantizer should not hide the others
            failed[name] = f"{type(error).__name__}: {error}".splitlines()[0]
            traceback.print_exc()

    times = {name: [] for name in steps}
    names = list(steps)
    for r in range(ROUNDS):  # rotate the order every round so drift hits every variant alike
        for name in names[r % len(names) :] + names[: r % len(names)]:
            step = steps[name]
            for _ in range(CALLS_PER_ROUND):
                started = time.perf_counter()
                step().numpy()  # .numpy(): wait for the result
                times[name].append(time.perf_counter() - started)

    print(f"\nForward + backward, {ROUNDS} alternating rounds x {CALLS_PER_ROUND} calls, microseconds per call")
    head = f"{'quantizer':<44} {'median':>8} {'p10':>8} {'p90':>8} {'ratio':>7}"
    print(head)
    print("-" * len(head))
    base = np.median(times[BASELINE]) if BASELINE in times else float("nan")
    for name in QUANTIZERS:
        if name in failed:
            print(f"{name:<44} FAILED: {failed[name]}")
            continue
        t = np.asarray(times[name]) * 1e6
        p10, median, p90 = np.percentile(t, [10, 50, 90])
        print(f"{name:<44} {median:8.1f} {p10:8.1f} {p90:8.1f} {median / (base * 1e6):6.2f}x")
    print("ratio = median / median of the QKeras quantized_bits baseline on the same kernel")


if __name__ == "__main__":
    main()
