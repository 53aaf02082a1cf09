"""Benchmark of a training step with the kit's term quantizers against the same model in plain QKeras.

Measures and prints (no asserts), in one process, for two models at batch 64:

- the digits MLP, 64 -> 64 -> 32 -> 10 (``training.models.build_mlp``, the embedded default config), on
  scikit-learn's digits;
- a small CNN: 28x28x1 inputs, 3x3 convolutions of 8 and 16 filters, each with BN and 2x2 max pooling,
  then Dense 10 (``training.models.build_cnn``), on the digits scaled up to 28x28 (nearest neighbour);

and for each model the step of the plain QKeras baseline (``quantized_bits(8, 0, alpha=1)`` kernels,
``quantized_relu(8, 3)`` activations; ``SingleStep``), the term model's step at one resolution (the highest:
``SingleStep``) and the term model's multires teacher/student step (``TeacherStudentStep`` with the
distillation loss, a fixed student), each compiled without and with XLA (``jit_compile=True`` on the whole
step). The term model has the reference resolutions (docs/algorithms.md#resolutions-and-the-term-pair-budget),
NAF, group size 16. The last lines give
the setting the kit picks by default for a long run (``training.jit_compile: auto``: XLA for a model without
switchable batch normalization) against QKeras's step, plain (Keras's default on a CPU) and under XLA.

Time: every variant runs in each of several alternating rounds (the order rotates every round) so drift and
other load hit all alike; the table gives the median wall-clock and CPU (``time.process_time``, every thread
of the process; less sensitive to other processes on a shared machine) milliseconds per step, Adam update
included, and their ratios to the QKeras step's under the same compilation and to the plain (no XLA) QKeras
step. The build lines give each variant's tracing and compilation time: under XLA the term CNN's switchable
batch normalization (a ``tf.switch_case`` over 8 resolutions, each branch compiled) dominates it.

Memory: TensorFlow's CPU allocator is switched to its BFC allocator (``TF_CPU_ALLOCATOR_USE_BFC``), whose
statistics ``tf.config.experimental.get_memory_info('CPU:0')`` reports. Peak memory per step is the
allocator's peak during one step minus what was allocated just before it (weights, optimizer state and data
stay resident and are the same for every variant of a model): activations, gradients and temporaries. The
allocator grows by regions of doubling size and counts a chunk that is less than twice a request whole; the
bench widens its regions first (``widen_allocator_regions``) so that no fresh region is handed out whole. The
peak moves from step to step with the order TensorFlow's executor runs independent ops in, so the table gives
the median of several steps and their spread. The multires step holds one model's activations at a time (it
backpropagates the teacher before it runs the student under a tape) for the MLP and under XLA, the CNN's both
without XLA (``steps.holds_one_model_at_a_time``); the multi-resolution paper reports about twice one model's
memory.
Under XLA the whole step is one program whose scratch XLA lays out itself as one allocation, and the allocator
may hand it a free chunk of up to twice its size left by another program: the table adds the scratch's own
size from XLA's buffer assignment (``xla_scratch``), and the targets under XLA use it.

The last lines check the kit's targets for its training step: each term step's wall-clock time at most 1.5x
(one resolution) or 2.5x (multires) QKeras's step, and its memory at most 1.5x, under the same compilation.

Run from the repository root (about 6 minutes on 2 quiet cores; half of it compiling the CNN under XLA):

    .venv/bin/python bench/bench_training.py [--rounds 8] [--calls 8] [--memory-steps 9] [--models mlp cnn]
"""

# ruff: noqa: E402 (the allocator, TF's log level and the warning filter are set before TensorFlow is imported)
import atexit
import glob
import os
import re
import shutil
import tempfile
import warnings

os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = "true"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# XLA writes each compiled program's buffer assignment here: its scratch, exactly (``xla_scratch``). The dumps
# (HLO, LLVM IR, objects: about 36 MB for both models) go when the bench exits.
XLA_DUMP = tempfile.mkdtemp(prefix="mrfpga-bench-xla-")
atexit.register(shutil.rmtree, XLA_DUMP, ignore_errors=True)
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={XLA_DUMP} --xla_dump_hlo_as_text".strip()
warnings.filterwarnings("ignore", message=r".*keras.constraints.serialize\(\)")

import argparse
import time

import numpy as np
import tensorflow as tf

from mrfpga.cli.run_config import QuantizationConfig
from mrfpga.training.data import load_digits
from mrfpga.training.models import build_cnn, build_mlp
from mrfpga.training.resolution import n_resolutions
from mrfpga.training.steps import SingleStep, TeacherStudentStep, distillation_loss
from mrfpga.training.trainer import XLA_MIN_STEPS, whole_step_xla

BATCH = 64
SEED = 0
LEARNING_RATE = 0.003
MODELS = {
    "mlp": lambda q: build_mlp(64, 10, [64, 32], q, SEED),
    "cnn": lambda q: build_cnn((28, 28, 1), 10, [8, 16], q, SEED),
}
KINDS = ("qkeras", "term single", "term multires")


def batch_for(model_name):
    """One batch of the digits: 8x8 rows for the MLP, 28x28x1 images (nearest-neighbour scale-up) for the CNN."""
    data = load_digits(SEED)
    x, y = data.x_train[:BATCH].reshape(BATCH, 8, 8), data.y_train[:BATCH]
    if model_name == "mlp":
        return tf.constant(x.reshape(BATCH, 64)), tf.constant(y)
    rows = np.arange(28) * 8 // 28
    return tf.constant(x[:, rows][:, :, rows][..., None]), tf.constant(y)


def make_variant(model_name, kind, jit_compile):
    """``(step, model)``: ``step()`` runs one training step of the variant on a fixed batch and returns the
    loss tensor."""
    q = QuantizationConfig(scheme="qkeras" if kind == "qkeras" else "term")
    model = MODELS[model_name](q)
    optimizer = tf.keras.optimizers.Adam(LEARNING_RATE)
    optimizer.build(model.trainable_variables)
    x, y = batch_for(model_name)
    if kind == "term multires":
        runner = TeacherStudentStep(model, optimizer, distillation_loss, SEED, jit_compile=jit_compile)
        student = tf.constant(n_resolutions(model) // 2, tf.int32)  # a fixed student: equal work every step
        return (lambda: runner.step(x, y, student)), model
    runner = SingleStep(model, optimizer, jit_compile=jit_compile)
    return (lambda: runner.step(x, y)), model


def widen_allocator_regions(mib=256):
    """Allocates and frees ``mib`` MiB once, so that every later region the BFC allocator adds is at least that
    large. The allocator grows by regions doubling from 2 MiB and hands out a free chunk whole unless it is at
    least twice the request, so a step's XLA scratch (one allocation) would otherwise read as the whole fresh
    region it took, up to twice its size. A free chunk left by an earlier step is still handed out whole when it
    is less than twice the request (``xla_scratch``)."""
    tf.zeros([mib << 18], tf.float32).numpy()


def xla_dumps():
    return set(glob.glob(os.path.join(XLA_DUMP, "*buffer-assignment.txt")))


def xla_scratch(paths):
    """Bytes of scratch ("preallocated-temp") of the programs whose buffer assignments XLA dumped to ``paths``
    (the largest): what a step allocates for its temporaries, exactly, whatever free chunk the allocator hands
    it. The allocator counts a chunk less than twice a request whole, so a step run after a larger program would
    read as that program's."""
    sizes = []
    for path in paths:
        with open(path) as f:
            sizes += [int(m) for m in re.findall(r"allocation \d+: size (\d+), preallocated-temp", f.read())]
    if not sizes:
        raise RuntimeError(f"no XLA buffer assignment with scratch in {sorted(paths)} (dumped to {XLA_DUMP})")
    return max(sizes)


def step_memory(step):
    """Bytes the allocator held at its peak during one step, above what it held before the step."""
    before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    tf.config.experimental.reset_memory_stats("CPU:0")
    step().numpy()
    return tf.config.experimental.get_memory_info("CPU:0")["peak"] - before


# The training step's targets: each kind's ratio to QKeras's step under the same compilation.
TIME_TARGETS = {"term single": 1.5, "term multires": 2.5}
MEMORY_TARGET = 1.5


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--calls", type=int, default=8, help="steps per variant per round")
    parser.add_argument("--memory-steps", type=int, default=9, help="steps whose peak memory is measured")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, batch {BATCH}")
    widen_allocator_regions()

    variants, models, scratch = {}, {}, {}
    for model_name in args.models:
        for kind in KINDS:
            for jit in (False, True):
                name = (model_name, kind, jit)
                started = time.perf_counter()
                step, models[name] = make_variant(model_name, kind, jit)
                before = xla_dumps()
                for _ in range(3):  # trace and compile, then settle
                    step().numpy()
                if jit:
                    scratch[name] = xla_scratch(xla_dumps() - before)
                variants[name] = step
                print(f"  built {model_name} {kind}{' XLA' if jit else ''} in {time.perf_counter() - started:.1f} s")

    # The peak moves from step to step with the order the executor runs independent ops in: a median.
    peaks = {name: [step_memory(step) for _ in range(args.memory_steps)] for name, step in variants.items()}
    memory = {name: np.median(p) for name, p in peaks.items()}
    wall = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    names = list(variants)
    for r in range(args.rounds):  # rotate the order every round so drift hits every variant alike
        for name in names[r % len(names) :] + names[: r % len(names)]:
            step = variants[name]
            for _ in range(args.calls):
                started, started_cpu = time.perf_counter(), time.process_time()
                step().numpy()  # .numpy(): wait for the result
                wall[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - started_cpu)

    print(f"\nOne training step, batch {BATCH}, {args.rounds} alternating rounds x {args.calls} steps (medians)")
    head = (
        f"{'model':<5} {'step':<15} {'XLA':<4} {'wall ms':>8} {'ratio':>6} {'vs plain':>8} {'cpu ms':>8} {'ratio':>6} "
    )
    head += f"{'vs plain':>8} {'peak MiB':>8} {'ratio':>6} {'vs plain':>8} {'spread':>11}"
    head += f" {'XLA scratch MiB':>15} {'ratio':>6}"
    print(head)
    print("-" * len(head))
    for model_name, kind, jit in names:
        row = f"{model_name:<5} {kind:<15} {'yes' if jit else 'no':<4}"
        for times in (wall, cpu):
            median = np.median(times[(model_name, kind, jit)]) * 1e3
            base = np.median(times[(model_name, "qkeras", jit)]) * 1e3
            plain = np.median(times[(model_name, "qkeras", False)]) * 1e3
            row += f" {median:8.2f} {median / base:5.2f}x {median / plain:7.2f}x"
        mem, base_mem = memory[(model_name, kind, jit)], memory[(model_name, "qkeras", jit)]
        plain_mem = memory[(model_name, "qkeras", False)]
        low, high = min(peaks[(model_name, kind, jit)]) / base_mem, max(peaks[(model_name, kind, jit)]) / base_mem
        row += f" {mem / 2**20:8.2f} {mem / base_mem:5.2f}x {mem / plain_mem:7.2f}x {low:4.2f}-{high:4.2f}x"
        if jit:
            ratio = scratch[(model_name, kind, jit)] / scratch[(model_name, "qkeras", jit)]
            row += f" {scratch[(model_name, kind, jit)] / 2**20:15.3f} {ratio:5.2f}x"
        print(row)
    print("ratio: / the QKeras step with the same XLA setting; vs plain: / the QKeras step without XLA. wall: elapsed")
    print("time; cpu: the process's CPU time (all threads), less sensitive to other load. peak: the allocator's peak")
    print(
        f"during a step above what it held before the step, median of {args.memory_steps} steps; spread: their lowest"
    )
    print("and highest over the QKeras median. XLA scratch: the compiled step's temporaries from XLA's own buffer")
    print("assignment (exact; the allocator's peak counts whatever free chunk it handed the scratch, up to twice it).")

    print("\nThe step's targets (wall-clock time and memory ratios to QKeras's step under the same compilation;")
    print("memory: the allocator's peak without XLA, the program's scratch under XLA):")
    for model_name, kind, jit in names:
        if kind == "qkeras":
            continue
        time_ratio = np.median(wall[(model_name, kind, jit)]) / np.median(wall[(model_name, "qkeras", jit)])
        per_step = scratch if jit else memory
        mem_ratio = per_step[(model_name, kind, jit)] / per_step[(model_name, "qkeras", jit)]
        checks = [
            f"{what} {ratio:.2f}x <= {target}x {'met' if ratio <= target else 'MISSED'}"
            for what, ratio, target in (
                ("time", time_ratio, TIME_TARGETS[kind]),
                ("XLA scratch" if jit else "peak memory", mem_ratio, MEMORY_TARGET),
            )
        ]
        print(f"  {model_name} {kind}{' XLA' if jit else ''}: " + "; ".join(checks))

    print(f"\nThe kit's default, training.jit_compile auto, on a run of {XLA_MIN_STEPS}+ steps (wall-clock ratios):")
    for model_name in args.models:
        jit = whole_step_xla("auto", models[(model_name, "term single", False)], XLA_MIN_STEPS)
        ratios = []
        for kind in KINDS[1:]:
            median = np.median(wall[(model_name, kind, jit)])
            ratios.append(
                f"{kind} {median / np.median(wall[(model_name, 'qkeras', False)]):.2f}x QKeras's plain step, "
                f"{median / np.median(wall[(model_name, 'qkeras', True)]):.2f}x under XLA"
            )
        print(f"  {model_name}: {'XLA' if jit else 'no XLA'}; " + "; ".join(ratios))


if __name__ == "__main__":
    main()
