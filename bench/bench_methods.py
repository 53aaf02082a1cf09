"""Benchmark of the training methods on digits with the embedded default config (``digits_mlp.yaml``): its MLP,
or with ``--model cnn`` the kit's CNN (filters [8, 16]).

Measures and prints (no asserts), over seeds 0, 1, 2 (each seed fixes the train/test split, the initial
weights and the data order, the same for every method of that seed):

1. Per resolution, the multi-resolution meta model's test accuracy minus that of a model trained alone at
   that resolution (``training.method`` ``multires`` against ``individual``, the library's ``train``):
   mean, sample standard deviation, min and max over the seeds, in percentage points; and whether the
   meta model is within 0.5 percentage point of the individual models at every resolution (mean of seeds).
   The float model of the same architecture, trained the same way (``post_training``'s float model), is
   the ceiling. With more than three seeds, also each mean's standard error, seeds 0-2's own worst mean,
   and how many of the three-seed subsets fall below -0.5 pp somewhere: how well a mean of three seeds
   (the 0.5 percentage point criterion above) can be told from noise.
2. Term sharing minus bit sharing at matched cost, per resolution: the meta model above against the same
   multires training with ``quantization.scheme = "bitshare"`` (onion kernels, the same data terms), its
   precisions matched at measured cost as ``mrfpga evaluate`` does (``mrfpga.cli.evaluate.matched_bit_sharing``:
   the mean nonzero weight terms per group of the seed's trained meta model, matched on the baseline's own
   trained weights); both measured counts, and how many trainings the match took.
3. The cost of multi-resolution training against one single-resolution model (the highest resolution), same
   architecture, batch, data and seed: the median epoch time after warm-up, and the training's peak memory.
   Each variant is trained in a fresh subprocess, alternating over a few rounds; wall-clock and CPU time
   (``time.process_time``, less sensitive to other load) per epoch. Peak memory is the rise of
   the process's peak resident set size (``VmHWM`` in ``/proc/self/status``) from just after the imports,
   the data and the model are ready (the baseline) to the end of training: optimizer state, traced step,
   activations and gradients. (``tf.config.experimental.get_memory_info('CPU:0')`` is no use here: in
   TF 2.14 it returns zeros on CPU.)

Run from the repository root (on 2 cores, 40 epochs from the config: about 7 minutes with the defaults, 4
without part 3; ``--model cnn --no-cost`` about 12):

    .venv/bin/python bench/bench_methods.py [--seeds 3] [--epochs N] [--model cnn] [--lr-schedule S] [--no-cost]
        [--alpha A] [--temperature T] [--plot FILE.png]
"""

# ruff: noqa: E402 (TF's log level and the warning filter must be set before TensorFlow is imported)
import os
import warnings

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
warnings.filterwarnings("ignore", message=r".*keras.constraints.serialize\(\)")

import argparse
import copy
import itertools
import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from mrfpga.cli import evaluate
from mrfpga.cli.run_config import load_config, validate
from mrfpga.hls.package_data import package_dir
from mrfpga.training.data import load_digits
from mrfpga.training.errors import ConfigError
from mrfpga.training.methods import single_resolution, train
from mrfpga.training.models import build_mlp
from mrfpga.training.steps import accuracy_per_resolution, step_factory
from mrfpga.training.trainer import LR_SCHEDULES, fit

# Keras warns that predict() retraces when it meets each new model of the loop; harmless here.
tf.get_logger().setLevel("ERROR")

CONFIG = package_dir("examples") / "digits_mlp.yaml"
COST_SEED = 0
COST_WARMUP_EPOCHS = 2  # epoch 1 traces the step; both are dropped
COST_TIMED_EPOCHS = 8
COST_ROUNDS = 4  # fresh subprocesses per variant, alternating
RESULT_MARK = "RESULT "


def heading(text):
    print(f"\n{text}\n{'=' * len(text)}", flush=True)


def stats(values):
    """Mean, sample standard deviation (0 for one value), min and max."""
    v = np.asarray(values, dtype=float)
    return v.mean(), v.std(ddof=1) if len(v) > 1 else 0.0, v.min(), v.max()


def signed(values):
    return " ".join(f"{v:+.2f}" for v in values)


# -- 1 and 2: accuracy ------------------------------------------------------------------------------------------


def variant(config, seed, method, epochs, precisions=None):
    """The config for one training; with ``precisions``, the bit-sharing model at those precisions."""
    c = copy.deepcopy(config)
    c.training.seed = seed
    c.training.method = method
    if epochs is not None:
        c.training.epochs = epochs
    if precisions is not None:
        c.quantization.scheme = "bitshare"
        c.quantization.precisions = precisions
    return c


def accuracies(model, data):
    return [acc for acc, _ in accuracy_per_resolution(model, data.x_test, data.y_test)]


def train_seed(config, seed, epochs):
    """Test accuracy per resolution of the trainings of one seed, all on ``load_digits(seed)``."""
    data = load_digits(seed)
    n_res = len(config.quantization.resolutions)
    result, seconds = {}, {}
    started = time.perf_counter()
    models, _ = train(variant(config, seed, "multires", epochs), data, verbose=0)
    meta = models["meta"]
    result["meta"] = accuracies(meta, data)
    seconds["meta"] = time.perf_counter() - started

    started = time.perf_counter()
    models, _ = train(variant(config, seed, "individual", epochs), data, verbose=0)
    result["individual"] = [accuracies(models[f"individual_{r}"], data)[0] for r in range(n_res)]
    seconds["individual"] = time.perf_counter() - started

    started = time.perf_counter()
    q = config.quantization
    matched = evaluate.matched_bit_sharing(
        meta, q, lambda p: train(variant(config, seed, "multires", epochs, p), data, verbose=0)[0]["meta"]
    )
    result["bitshare"] = accuracies(matched.model, data)
    result["bitshare_precisions"] = matched.precisions
    result["meta_terms"], result["bitshare_terms"] = matched.meta_terms, matched.terms
    result["bitshare_trainings"], result["bitshare_fixed_point"] = matched.trainings, matched.fixed_point
    result["n_test"] = len(data.y_test)
    seconds["bitshare"] = time.perf_counter() - started

    started = time.perf_counter()
    models, _ = train(variant(config, seed, "post_training", epochs), data, verbose=0)
    result["float"] = accuracies(models["float"], data)[0]
    seconds["float"] = time.perf_counter() - started

    print(
        f"seed {seed}: {len(data.y_test)} test samples; trained meta {seconds['meta']:.0f} s, "
        f"{n_res} individual {seconds['individual']:.0f} s, bit sharing {seconds['bitshare']:.0f} s "
        f"({result['bitshare_trainings']} trainings{'' if result['bitshare_fixed_point'] else ', no fixed point'}), "
        f"float {seconds['float']:.0f} s",
        flush=True,
    )
    print(RESULT_MARK + json.dumps({"seed": seed, **result}), flush=True)  # each seed's figures as they come
    return result


def report_meta_vs_individual(q, seeds, runs):
    heading(f"1. Meta model (multires) minus individually trained models: test accuracy, seeds {seeds}")
    head = (
        f"{'res':>3} {'a':>2} {'k':>3} {'gamma':>5} {'meta %':>7} {'indiv %':>7} {'diff pp':>7} {'std pp':>6}"
        f" {'min pp':>6} {'max pp':>6}   per seed (pp)"
    )
    print(head)
    print("-" * len(head))
    means = []
    gaps = meta_minus_individual(runs)
    for r, (a, k) in enumerate(q.resolutions):
        meta = [100 * run["meta"][r] for run in runs]
        indiv = [100 * run["individual"][r] for run in runs]
        diffs = gaps[:, r]
        mean, std, low, high = stats(diffs)
        means.append(mean)
        print(
            f"{r:>3} {a:>2} {k:>3} {a * k:>5} {np.mean(meta):>7.2f} {np.mean(indiv):>7.2f} {mean:>+7.2f}"
            f" {std:>6.2f} {low:>+6.2f} {high:>+6.2f}   {signed(diffs)}"
        )
    print("meta %, indiv %: mean test accuracy over the seeds; diff: meta - individual in percentage points (pp),")
    n_test = runs[0]["n_test"]
    print(f"mean, sample std (ddof=1), min and max over the seeds. One test sample is {100 / n_test:.2f} pp.")
    below = [r for r, m in enumerate(means) if m < -0.5]
    above = [r for r, m in enumerate(means) if m > 0.5]
    verdict = "YES" if not below else f"NO, more than 0.5 pp below at resolutions {below}"
    note = f" (more than 0.5 pp above at resolutions {above})" if above else ""
    print("Meta model within 0.5 pp of the individual models at every resolution (mean of seeds, meta - individual")
    print(f">= -0.5 pp): {verdict}{note}")
    ceiling = [100 * run["float"] for run in runs]
    mean, std, low, high = stats(ceiling)
    print(f"Float model of the same architecture, trained the same way (the ceiling): {mean:.2f}% (std {std:.2f},")
    print(f"min {low:.2f}, max {high:.2f}); the meta model's highest resolution: "
          f"{np.mean([100 * run['meta'][-1] for run in runs]):.2f}%")  # fmt: skip
    if len(runs) > 3:
        report_three_seed_criterion(q, runs)


def meta_minus_individual(runs):
    """Seeds x resolutions, in percentage points."""
    return np.array([[100 * (m - i) for m, i in zip(run["meta"], run["individual"], strict=True)] for run in runs])


def report_three_seed_criterion(q, runs):
    """How far a mean of three seeds (the 0.5 pp criterion) can be told from noise, from these seeds' gaps."""
    gaps = meta_minus_individual(runs)
    n = len(gaps)
    errors = gaps.std(axis=0, ddof=1) / np.sqrt(n)
    print(f"Standard error of the mean over {n} seeds, per resolution (pp): {' '.join(f'{e:.2f}' for e in errors)}")
    first = gaps[:3].mean(axis=0)
    print(f"Seeds 0, 1, 2 alone: worst mean {first.min():+.2f} pp at resolution {int(first.argmin())}")
    subsets = list(itertools.combinations(range(n), 3))
    failing = sum(1 for s in subsets if gaps[list(s)].mean(axis=0).min() < -0.5)
    share = 100 * failing / len(subsets)
    print(
        f"Of the {len(subsets)} three-seed subsets of these seeds, {failing} ({share:.0f}%) have a mean below -0.5 pp"
        f" at some resolution of {len(q.resolutions)}: a three-seed mean's standard error here is about"
        f" {gaps.std(axis=0, ddof=1).mean() / np.sqrt(3):.2f} pp"
    )


def plot_gaps(q, runs, path):
    """Meta minus individual per resolution: every seed's gap, the mean with its standard error, the -0.5 line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gaps = meta_minus_individual(runs)
    n, n_res = gaps.shape
    x = np.arange(n_res)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    jitter = np.linspace(-0.15, 0.15, n) if n > 1 else np.zeros(1)
    for seed, row in enumerate(gaps):
        ax.plot(x + jitter[seed], row, ".", color="0.6", markersize=5, label="one seed" if seed == 0 else None)
    errors = gaps.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(n_res)
    ax.errorbar(x, gaps.mean(axis=0), yerr=errors, fmt="o", color="C0", capsize=4, label=f"mean of {n} seeds, +- s.e.")
    if n > 3:
        ax.plot(x, gaps[:3].mean(axis=0), "s", color="C1", mfc="none", label="mean of seeds 0-2")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.axhline(-0.5, color="C3", ls="--", lw=1, label="-0.5 pp")
    ax.set_xticks(x, [f"a={a}\nk={k}" for a, k in q.resolutions])
    ax.set_ylabel("meta - individual (pp)")
    ax.set_title("Multi-resolution meta model against individually trained models (test accuracy)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot: {path}")


def matching_rule():
    """The bit-sharing bullet of mrfpga/cli/evaluate.py's docstring."""
    doc = evaluate.__doc__ or ""
    found = re.search(r"^- bit sharing.*?(?=^- |\Z)", doc, re.MULTILINE | re.DOTALL)
    return found.group(0).strip() if found else "(no bit-sharing bullet in mrfpga/cli/evaluate.py)"


def report_term_vs_bit(q, seeds, runs):
    heading(f"2. Term sharing minus bit sharing at matched cost: test accuracy, seeds {seeds}")
    print("matching rule, from the docstring of mrfpga/cli/evaluate.py:")
    print(textwrap.indent(matching_rule(), "    "))
    g = q.group_size
    head = (
        f"{'res':>3} {'a':>2} {'k':>3} {'p per seed':>10} {'term t/g':>8} {'bit t/g':>7} {'term %':>7} {'bit %':>7}"
        f" {'diff pp':>7} {'std pp':>6} {'min pp':>6} {'max pp':>6}   per seed (pp)"
    )
    print(head)
    print("-" * len(head))
    for r, (a, k) in enumerate(q.resolutions):
        term = [100 * run["meta"][r] for run in runs]
        bit = [100 * run["bitshare"][r] for run in runs]
        diffs = [t - b for t, b in zip(term, bit, strict=True)]
        mean, std, low, high = stats(diffs)
        matched = [run["bitshare_precisions"][r] for run in runs]
        # more than three seeds: the range, so that the table keeps its width
        precisions = ",".join(map(str, matched)) if len(runs) <= 3 else f"{min(matched)}-{max(matched)}"
        term_terms = np.mean([run["meta_terms"][r] for run in runs])
        bit_terms = np.mean([run["bitshare_terms"][r] for run in runs])
        print(
            f"{r:>3} {a:>2} {k:>3} {precisions:>10} {term_terms:>8.2f} {bit_terms:>7.2f} {np.mean(term):>7.2f}"
            f" {np.mean(bit):>7.2f} {mean:>+7.2f} {std:>6.2f} {low:>+6.2f} {high:>+6.2f}   {signed(diffs)}"
        )
    print(f"k: weight terms per group of g={g} (term sharing); p: the matched weight precision in bits (bit sharing),")
    print("per seed (their range past three seeds); term t/g, bit t/g: measured nonzero weight terms per group of g")
    print("on each trained model (all kernels, mean over the seeds); term %, bit %: mean test accuracy over the seeds;")
    print("diff: term - bit sharing in pp, mean, sample std, min and max over the seeds.")


# -- 3: training cost, one subprocess per measurement -----------------------------------------------------------


def peak_rss_mib():
    """The process's peak resident set size so far (VmHWM, Linux), MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (not Linux?)")


def cost_worker(kind):
    """Train one variant for a few epochs; print its epoch times and peak memory as one JSON line."""
    config = load_config(CONFIG)
    t, q = config.training, config.quantization
    data = load_digits(COST_SEED)
    tf.keras.utils.set_random_seed(COST_SEED)
    if kind == "multires":
        quantization, make_step = q, step_factory("multires", COST_SEED)
    else:
        quantization, make_step = single_resolution(q, len(q.resolutions) - 1), step_factory("single")
    model = build_mlp(data.input_shape, data.n_classes, config.model.hidden, quantization, COST_SEED)
    baseline = peak_rss_mib()
    marks = [(time.perf_counter(), time.process_time())]
    fit(
        model, data, COST_WARMUP_EPOCHS + COST_TIMED_EPOCHS, t.batch_size, t.learning_rate, COST_SEED, make_step,
        verbose=0, on_epoch_end=lambda epoch: marks.append((time.perf_counter(), time.process_time())),
    )  # fmt: skip
    peak = peak_rss_mib()
    wall, cpu = (np.diff(column)[COST_WARMUP_EPOCHS:].tolist() for column in zip(*marks, strict=True))
    steps = -(-len(data.x_train) // t.batch_size)
    result = {"wall_s": wall, "cpu_s": cpu, "baseline_mib": baseline, "peak_mib": peak, "steps": steps}
    print(RESULT_MARK + json.dumps(result))


def run_worker(kind):
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", kind], capture_output=True, text=True, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stdout + done.stderr)
        raise RuntimeError(f"cost worker {kind!r} failed with status {done.returncode}")
    return json.loads(lines[-1][len(RESULT_MARK) :])


def bench_cost(config):
    q, t, data = config.quantization, config.training, load_digits(COST_SEED)
    a, k = q.resolutions[-1]
    layers = "-".join(map(str, [data.n_inputs, *config.model.hidden, data.n_classes]))
    heading(
        f"3. Training cost: multires meta model vs one model at the highest resolution (a={a}, k={k}); "
        f"MLP {layers}, batch {t.batch_size}, digits, seed {COST_SEED}"
    )
    names = {"multires": "(a) multires meta model", "single": "(b) single resolution"}
    kinds = list(names)
    runs = {kind: [] for kind in kinds}
    load_before = os.getloadavg()[0]
    for r in range(COST_ROUNDS):  # rotate the order every round so drift hits both alike
        for kind in kinds[r % 2 :] + kinds[: r % 2]:
            runs[kind].append(run_worker(kind))
    load_after = os.getloadavg()[0]

    head = (
        f"{'variant':<24} {'wall ms/epoch':>13} {'p10':>5} {'p90':>5} {'CPU ms/epoch':>12} {'baseline MiB':>12}"
        f" {'peak MiB':>8} {'training MiB':>12}"
    )
    print(head)
    print("-" * len(head))
    summary = {}
    for kind in kinds:
        wall = 1000 * np.concatenate([run["wall_s"] for run in runs[kind]])
        cpu = 1000 * np.concatenate([run["cpu_s"] for run in runs[kind]])
        p10, p90 = np.percentile(wall, [10, 90])
        base = float(np.median([run["baseline_mib"] for run in runs[kind]]))
        peak = float(np.median([run["peak_mib"] for run in runs[kind]]))
        rise = float(np.median([run["peak_mib"] - run["baseline_mib"] for run in runs[kind]]))
        summary[kind] = {"wall": np.median(wall), "cpu": np.median(cpu), "rise": rise, "peak": peak}
        print(
            f"{names[kind]:<24} {np.median(wall):>13.1f} {p10:>5.0f} {p90:>5.0f} {np.median(cpu):>12.1f}"
            f" {base:>12.1f} {peak:>8.1f} {rise:>12.1f}"
        )
    steps = runs["multires"][0]["steps"]
    rounds, warmup, timed, load = COST_ROUNDS, COST_WARMUP_EPOCHS, COST_TIMED_EPOCHS, (load_before, load_after)
    for line in (
        f"Time: {rounds} fresh subprocesses per variant, alternating; each trains {warmup} warm-up epochs (dropped),",
        f"then {timed} timed epochs of {steps} steps. wall: time.perf_counter(); CPU: time.process_time(), all",
        "threads of the process (less sensitive to other load on the machine); median, p10 and p90 of the",
        f"{rounds * timed} timed epochs. 1-minute load average {load[0]:.2f} before, {load[1]:.2f} after"
        f" ({os.cpu_count()} CPUs).",
        "Memory: peak resident set size (VmHWM of /proc/self/status), median over the processes. baseline: after the",
        "imports, the data and the model build; training: the rise of the peak from the baseline to the end of",
        "training (optimizer state, traced step, activations, gradients).",
    ):
        print(line)
    m, s = summary["multires"], summary["single"]
    per_round = [
        np.median(multi["wall_s"]) / np.median(single["wall_s"])
        for multi, single in zip(runs["multires"], runs["single"], strict=True)
    ]
    print(f"multires / single, wall time per epoch: {m['wall'] / s['wall']:.2f}x  (published: about 2x)")
    print(f"  per round (median epoch of the round's two processes): {', '.join(f'{x:.2f}x' for x in per_round)}")
    print(f"multires / single, CPU time per epoch:  {m['cpu'] / s['cpu']:.2f}x")
    print(f"multires / single, training memory:     {m['rise'] / s['rise']:.2f}x  (published: about 2x)")
    print(f"multires / single, whole-process peak:  {m['peak'] / s['peak']:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. SEEDS-1 (default 3)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the config's)")
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp", help="the config's MLP or the kit's CNN")
    parser.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=None, help="default: the config's")
    parser.add_argument("--alpha", type=float, help="training.distillation_alpha (default: the config's, 0.1)")
    parser.add_argument("--temperature", type=float, help="training.distillation_temperature (default: 4)")
    parser.add_argument("--no-cost", action="store_true", help="skip part 3 (training cost)")
    parser.add_argument("--plot", type=Path, help="also plot part 1's gaps per resolution to this PNG (a new file)")
    parser.add_argument("--worker", choices=["multires", "single"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        cost_worker(args.worker)
        return

    if args.plot is not None and args.plot.exists():
        parser.error(f"--plot {args.plot} already exists; name a new file")
    started = time.perf_counter()
    config = load_config(CONFIG)
    config.model.kind = args.model
    if args.lr_schedule:
        config.training.lr_schedule = args.lr_schedule
    if args.alpha is not None:
        config.training.distillation_alpha = args.alpha
    if args.temperature is not None:
        config.training.distillation_temperature = args.temperature
    try:
        validate(config)
    except ConfigError as err:
        parser.error(str(err))
    seeds = list(range(args.seeds))
    epochs = args.epochs or config.training.epochs
    print(
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs; config {CONFIG.name}, model {args.model}, "
        f"{epochs} epochs, learning rate {config.training.learning_rate} ({config.training.lr_schedule}), distillation"
        f" alpha {config.training.distillation_alpha} T {config.training.distillation_temperature}, seeds {seeds}"
    )
    heading("Training (multires meta model, 8 individual models, bit-sharing meta model, float model) per seed")
    runs = [train_seed(config, seed, epochs) for seed in seeds]
    seed_list = ", ".join(map(str, seeds))
    report_meta_vs_individual(config.quantization, seed_list, runs)
    if args.plot is not None:
        plot_gaps(config.quantization, runs, args.plot)
    report_term_vs_bit(config.quantization, seed_list, runs)
    if not args.no_cost:
        bench_cost(config)
    print(f"\nTotal runtime: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
