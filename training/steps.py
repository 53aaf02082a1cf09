"""Training steps over resolutions (docs/algorithms.md#multi-resolution-training, #onion-bit-sharing).

- ``multires``: each step runs the teacher (highest resolution) and one
  student on the same batch. Students come from a shuffled list of the other
  resolutions, drawn without replacement and reshuffled when used up. Loss
  ``alpha*T^2*KL(p_t^T || p_s^T) + (1-alpha)/2*CE(s) + (1-alpha)/2*CE(t)``,
  alpha 0.1, T 4, the teacher not detached; one optimizer step on the sum.
- ``joint``: the same schedule with ``CE(t) + CE(s)``.
- ``all``: every resolution every step; the highest gets ``CE``, each lower
  resolution r gets ``alpha*T^2*KL(p_(r+1)^T || p_r^T) + (1-alpha)*CE(r)``
  (distilled from the next-higher one, not detached); the loss is their mean.
- ``onion``: every precision every step, ``sum_p w_p CE(p)`` with
  ``w_p = p / sum(p)``: the kit's per-precision gradient scaling gives each
  precision a share of the gradient proportional to its bits, so the shared
  top bits are not pulled toward what the coarsest precision alone prefers.
- ``single``: plain cross-entropy at one resolution (individual baselines,
  float and row-wise models).
"""

import os
from functools import partial

import numpy as np
import tensorflow as tf

from .data import Dataset
from .models import model_input
from .quantizers.term import KernelBatch
from .resolution import _all_layers, n_resolutions, resolution_variables, set_resolution
from .trainer import Step, fit, replica_share

ALPHA = 0.1
TEMPERATURE = 4.0


class StudentSampler:
    """Without-replacement draws from every resolution but the teacher, reshuffled when used up."""

    def __init__(self, n_resolutions, seed):
        self.pool = list(range(n_resolutions - 1)) or [0]
        self.rng = np.random.default_rng(seed)
        self.queue = []

    def __next__(self):
        if not self.queue:
            self.queue = [int(i) for i in self.rng.permutation(self.pool)]
        return self.queue.pop()

    def __iter__(self):
        return self

    def get_state(self):
        return {"rng": self.rng.bit_generator.state, "queue": list(self.queue)}

    def set_state(self, state):
        self.rng.bit_generator.state = state["rng"]
        self.queue = list(state["queue"])


def cross_entropy(labels, logits):
    return tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))


def soft_kl(teacher_logits, student_logits, temperature=TEMPERATURE):
    # exp(log_softmax), not softmax: oneDNN's softmax kernel is slow on small batches such as the digits MLP's
    # 64x10 logits (bench/bench_training.py), and the log-probabilities are needed anyway
    log_t = tf.nn.log_softmax(teacher_logits / temperature)
    kl = tf.exp(log_t) * (log_t - tf.nn.log_softmax(student_logits / temperature))
    return tf.reduce_mean(tf.reduce_sum(kl, axis=-1))


def distillation_loss(teacher_logits, student_logits, labels, alpha=ALPHA, temperature=TEMPERATURE):
    return (
        alpha * temperature**2 * soft_kl(teacher_logits, student_logits, temperature)
        + (1 - alpha) / 2 * cross_entropy(labels, student_logits)
        + (1 - alpha) / 2 * cross_entropy(labels, teacher_logits)
    )


def joint_loss(teacher_logits, student_logits, labels):
    return cross_entropy(labels, teacher_logits) + cross_entropy(labels, student_logits)


def _apply(optimizer, tape, loss, model):
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients([(g, v) for g, v in zip(grads, model.trainable_variables, strict=True) if g is not None])


def _logits_at(model, variables, resolution, x, batch=None, kernels=None):
    """The model's logits at ``resolution`` (None: where ``variables`` stand); with a ``KernelBatch``, on its
    ``kernels`` for that resolution."""
    for v in variables:
        v.assign(resolution)
    if batch is None:
        return model(x, training=True)
    with batch.use(kernels):
        return model(x, training=True)


def _logits_at_each(model, variables, resolutions, x):
    """The logits at each resolution (None: the current one, ``variables`` left as they are), every term
    kernel quantized for all of them in one fused kernel."""
    batch = KernelBatch(model)
    kernels = batch.quantize(resolutions)
    return [_logits_at(model, variables, r, x, batch, k) for r, k in zip(resolutions, kernels, strict=True)]


def _backpropagate(tape, outputs, sources, upstream):
    return tape.gradient(outputs, sources, output_gradients=upstream)


def _summed(*parts):
    """The sum of the gradients that exist, or None (a variable neither pass reached, e.g. another
    resolution's BN branch, stays out of the optimizer step as with one tape)."""
    present = [g for g in parts if g is not None]
    return tf.add_n(present) if present else None


def _after(x, tensors):
    """``x``, computed only once ``tensors`` are: the next stage of a step waits for the one before. A data
    dependency, ``x * (1 + 0 * sum)``, which is ``x`` bit for bit while the tensors are finite (were they not,
    the update would not be either): XLA drops control dependencies and optimization barriers before it
    schedules, and would then merge the student's two forward passes and hold both models' activations."""
    if not tensors:  # e.g. no term-quantized kernels to wait for
        return x
    total = tf.add_n([tf.reduce_sum(tf.cast(t, tf.float32)) for t in tensors])
    return x * tf.cast(1 + 0 * total, x.dtype)


def _state_kept(model, variables):
    """Reads every non-trainable variable but the resolutions (BN moving statistics); ``restore()`` writes
    them back, undoing an extra training-mode call."""
    resolutions = {v.ref() for v in variables}
    state = [v for v in model.non_trainable_variables if v.ref() not in resolutions]
    values = [tf.identity(v.read_value()) for v in state]

    def restore():
        for v, value in zip(state, values, strict=True):
            v.assign(value)

    return restore


def holds_one_model_at_a_time(model, jit_compile=False):
    """Whether the multires step holds one model's activations at a time (else one tape over both, the plain
    form of the step; the updates are equal bit for bit): for a model without convolutions, and for every model
    under XLA. There it lowers the step's peak memory well below one tape's, at no cost in time for the MLP,
    and under XLA, which lays out one scratch for the whole step, for a CNN too. Without XLA a convolutional
    model keeps one tape: the second student forward pass would cost it about a third more time, and its
    one-tape peak is already within the memory target (bench/bench_training.py measures both; figures in
    docs/benchmarks.md#bench_trainingpy)."""
    return jit_compile or not any(
        getattr(layer, "kernel", None) is not None and layer.kernel.shape.rank > 2 for layer in _all_layers(model)
    )


def make_train_step(model, optimizer, loss_fn, teacher, jit_compile=False, one_model_at_a_time=None):
    """The compiled teacher/student step: ``step(x, y, student_index)``; ``one_model_at_a_time`` (None:
    ``holds_one_model_at_a_time(model, jit_compile)``) picks between the two ways to run it, whose updates are
    equal."""
    if one_model_at_a_time is None:
        one_model_at_a_time = holds_one_model_at_a_time(model, jit_compile)
    make = _step_one_model_at_a_time if one_model_at_a_time else _step_one_tape
    return make(model, optimizer, loss_fn, teacher, jit_compile)


def _step_one_tape(model, optimizer, loss_fn, teacher, jit_compile):
    """One tape over both models: both models' activations are held until the one backward pass."""
    variables = resolution_variables(model)

    @tf.function(jit_compile=jit_compile)
    def step(x, y, student):
        with tf.GradientTape() as tape:
            teacher_logits, student_logits = _logits_at_each(model, variables, [teacher, student], x)
            loss = replica_share(loss_fn(teacher_logits, student_logits, y), y)
        _apply(optimizer, tape, loss, model)
        return loss

    return step


def _step_one_model_at_a_time(model, optimizer, loss_fn, teacher, jit_compile):
    """One model's activations are held at a time, not both, to lower the two-model step's peak memory. The
    student runs first, untaped, for its logits alone; then the teacher under a tape; the loss's gradients at both
    logits are taken; the teacher backpropagates its share and frees its activations; only then does the student
    run again under a tape and backpropagate its own. Each stage waits for the one before (``_after``): left
    free, TensorFlow's executor interleaves them and the peak varies from step to step, and XLA merges the
    student's two forward passes. The extra cost is one student forward pass; the updates are the one-tape
    step's (tests/training/test_training.py checks them bit for bit) and the untaped call leaves the BN
    statistics as they were.
    """
    variables = resolution_variables(model)
    batch = KernelBatch(model)
    weights = model.trainable_variables
    n_weights = len(weights)

    @tf.function(jit_compile=jit_compile)
    def step(x, y, student):
        with tf.GradientTape() as kernel_tape:
            kernels_t, kernels_s = batch.quantize([teacher, student])
        restore = _state_kept(model, variables)
        x_after_kernels = _after(x, kernels_t + kernels_s)  # else XLA held the quantizer's planes through it
        student_logits = _logits_at(model, variables, student, x_after_kernels, batch, kernels_s)
        restore()
        x_after_probe = _after(x, [student_logits])
        with tf.GradientTape() as teacher_tape:
            teacher_tape.watch(kernels_t)
            teacher_logits = _logits_at(model, variables, teacher, x_after_probe, batch, kernels_t)
        with tf.GradientTape() as loss_tape:
            loss_tape.watch([teacher_logits, student_logits])
            loss = replica_share(loss_fn(teacher_logits, student_logits, y), y)
        upstream_t, upstream_s = loss_tape.gradient(loss, [teacher_logits, student_logits])
        upstream_t = _after(upstream_t, [loss])  # the loss's value first: else XLA held both logits for it
        grads_t = _backpropagate(teacher_tape, teacher_logits, weights + kernels_t, upstream_t)
        x_after_teacher = _after(x, [g for g in grads_t if g is not None])  # the teacher's activations are gone
        with tf.GradientTape() as student_tape:
            student_tape.watch(kernels_s)
            student_logits = _logits_at(model, variables, student, x_after_teacher, batch, kernels_s)
        grads_s = _backpropagate(student_tape, student_logits, weights + kernels_s, upstream_s)
        kernels = [layer.kernel for layer, _ in batch.pairs]
        upstream_kernels = [
            tf.zeros_like(k) if g is None else g
            for k, g in zip(kernels_t + kernels_s, grads_t[n_weights:] + grads_s[n_weights:], strict=True)
        ]
        through_kernels = _backpropagate(kernel_tape, kernels_t + kernels_s, kernels, upstream_kernels)
        through = {v.ref(): g for v, g in zip(kernels, through_kernels, strict=True)}
        grads = [
            _summed(t, s, through.get(v.ref()))
            for v, t, s in zip(weights, grads_t[:n_weights], grads_s[:n_weights], strict=True)
        ]
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, weights, strict=True) if g is not None])
        return loss

    return step


class TeacherStudentStep(Step):
    def __init__(self, model, optimizer, loss_fn, seed, jit_compile=False):
        n = n_resolutions(model)
        self.sampler = StudentSampler(n, seed)
        self.step = make_train_step(model, optimizer, loss_fn, n - 1, jit_compile)

    def args(self):
        return (tf.constant(next(self.sampler), tf.int32),)

    def get_state(self):
        return self.sampler.get_state()

    def set_state(self, state):
        self.sampler.set_state(state)


class EveryResolutionStep(Step):
    """Runs every resolution each step; ``combine(logits_list, y)`` makes the loss."""

    def __init__(self, model, optimizer, combine, jit_compile=False):
        variables = resolution_variables(model)
        n = n_resolutions(model)

        @tf.function(jit_compile=jit_compile)
        def step(x, y):
            with tf.GradientTape() as tape:
                logits = _logits_at_each(model, variables, list(range(n)), x)
                loss = replica_share(combine(logits, y), y)
            _apply(optimizer, tape, loss, model)
            return loss

        self.step = step


def all_loss(logits, y, alpha=ALPHA, temperature=TEMPERATURE):
    terms = [cross_entropy(y, logits[-1])]
    for low, high in zip(logits, logits[1:], strict=False):
        terms.append(alpha * temperature**2 * soft_kl(high, low, temperature) + (1 - alpha) * cross_entropy(y, low))
    return tf.add_n(terms) / len(terms)


def onion_weights(precisions):
    total = float(sum(precisions))
    return [p / total for p in precisions]


def onion_loss(precisions):
    weights = onion_weights(precisions)

    def combine(logits, y):
        return tf.add_n([w * cross_entropy(y, lg) for w, lg in zip(weights, logits, strict=True)])

    return combine


class SingleStep(Step):
    def __init__(self, model, optimizer, jit_compile=False):
        @tf.function(jit_compile=jit_compile)
        def step(x, y):
            with tf.GradientTape() as tape:
                (logits,) = _logits_at_each(model, [], [None], x)  # at the model's current resolution
                loss = replica_share(cross_entropy(y, logits), y)
            _apply(optimizer, tape, loss, model)
            return loss

        self.step = step


def step_factory(method, seed=0, precisions=None, alpha=ALPHA, temperature=TEMPERATURE):
    """``make_step(model, optimizer, jit_compile=False)`` for a method name; ``jit_compile`` compiles the
    whole step with XLA. ``alpha`` and ``temperature`` are the distillation's (``multires`` and ``all``)."""
    if method in ("multires", "joint"):
        loss = partial(distillation_loss, alpha=alpha, temperature=temperature) if method == "multires" else joint_loss
        return lambda model, opt, jit_compile=False: TeacherStudentStep(model, opt, loss, seed, jit_compile)
    if method in ("all", "onion"):
        combine = partial(all_loss, alpha=alpha, temperature=temperature) if method == "all" else onion_loss(precisions)
        return lambda model, opt, jit_compile=False: EveryResolutionStep(model, opt, combine, jit_compile)
    if method == "single":
        return SingleStep
    raise ValueError(f"unknown training step {method!r}")


def train_multires(
    model: tf.keras.Model, data: Dataset, epochs: int, batch_size: int, learning_rate: float, seed: int = 0,
    method: str = "multires", verbose: int = 1, checkpoint_dir: str | os.PathLike[str] | None = None,
    alpha: float = ALPHA, temperature: float = TEMPERATURE,
) -> list[float]:  # fmt: skip
    """Train one multi-resolution model; returns the per-epoch mean loss. ``alpha`` and ``temperature``: the
    distillation's (``multires`` and ``all``; 0.1 and 4 by default: docs/algorithms.md#multi-resolution-training).
    """
    if method not in ("multires", "joint", "all"):
        raise ValueError(f"unknown multi-resolution method {method!r}; known: multires, joint, all")
    tf.keras.utils.set_random_seed(seed)
    history = fit(
        model, data, epochs, batch_size, learning_rate, seed,
        step_factory(method, seed, alpha=alpha, temperature=temperature), verbose,
        checkpoint_dir=checkpoint_dir,
    )  # fmt: skip
    set_resolution(model, n_resolutions(model) - 1)
    return history


def accuracy_per_resolution(model, x, y):
    """Keras accuracy and logits at every resolution."""
    x = model_input(model, x)
    results = []
    for r in range(n_resolutions(model)):
        set_resolution(model, r)
        logits = model.predict(x, verbose=0, batch_size=1024)
        # One row of class scores a sample, whatever shape the model's output has (a custom builder's).
        results.append((float(np.mean(np.argmax(np.reshape(logits, (len(y), -1)), axis=1) == y)), logits))
    set_resolution(model, n_resolutions(model) - 1)
    return results
