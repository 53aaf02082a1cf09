"""What every quantizer of the kit shares: the QKeras contract, scales, run-time resolutions."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from qkeras.quantizers import BaseQuantizer


@dataclass(frozen=True)
class FixedType:
    """The fixed-point type that holds every value a quantizer produced: ap_[u]fixed<width, integer>."""

    width: int
    integer: int
    signed: bool = True


def frac_bits_of(values, lowest=0, highest=64):
    """The fewest fraction bits (from ``lowest`` to ``highest``) that hold every value exactly, or None."""
    values = np.asarray(values, np.float64)
    for frac in range(lowest, highest + 1):
        scaled = values * 2.0**frac
        if np.array_equal(scaled, np.round(scaled)):
            return frac
    return None


def straight_through(x, quantized):
    """Forward ``quantized``, backward identity."""
    return x + tf.stop_gradient(quantized - x)


def exact_pow2(e, dtype):
    """``2^e`` of integer-valued float ``e`` (a normal number's range), exactly: its exponent bits written
    directly (a compiled pow need not be exact). No gradient."""
    if dtype == tf.float64:
        return tf.bitcast(tf.bitwise.left_shift(tf.cast(e, tf.int64) + 1023, 52), tf.float64)
    if dtype == tf.float32:
        return tf.bitcast(tf.bitwise.left_shift(tf.cast(e, tf.int32) + 127, 23), tf.float32)
    raise TypeError(f"exact_pow2: {dtype} is not float32 or float64")


def pow2_exponent(peak, n_steps):
    """The smallest integer e with ``peak <= 2^e * n_steps``, exactly; log2(peak / n_steps) backward.

    A float log can land one off near powers of two, so the estimate is
    corrected by exact comparisons (powers of two times n_steps are exact).
    """
    log = tf.math.log(tf.maximum(peak / n_steps, 1e-30)) / tf.math.log(tf.constant(2.0, peak.dtype))
    e = tf.stop_gradient(tf.math.ceil(log))
    e = tf.where(exact_pow2(e, peak.dtype) * n_steps < peak, e + 1, e)
    e = tf.where(exact_pow2(e - 1, peak.dtype) * n_steps >= peak, e - 1, e)
    return straight_through(log, e)


def check_budgets(budgets, max_terms, what):
    budgets = [int(b) for b in budgets]
    if not budgets:
        raise ValueError(f"{what}: at least one budget is needed")
    for b in budgets:
        if not 0 < b <= max_terms:
            raise ValueError(f"{what}: budget {b} out of range 1..{max_terms}")
    return budgets


def resolution_variable(initial):
    """The run-time resolution index. Under a tf.distribute strategy every replica assigns the same
    index at the same point of a step; ONLY_FIRST_REPLICA makes that assignment legal and synchronous."""
    return tf.Variable(
        initial, dtype=tf.int32, trainable=False, name="resolution",
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
    )  # fmt: skip


def fused(function):
    """``function`` as is when called eagerly; inside a compiled graph (a training step, ``predict``), one
    XLA kernel: the term arithmetic is a long chain of elementwise ops on every activation, which TensorFlow
    runs one full-tensor pass each and XLA fuses into one (bench/bench_training.py). Either way the result
    is the same, exactly (tests/training/test_quantizers.py checks)."""
    compiled = tf.function(function, jit_compile=True)

    def call(*args, **kwargs):
        return (compiled if tf.inside_function() else function)(*args, **kwargs)

    return call


def masked_straight_through_many(function, inputs):
    """``function(inputs) -> [(outputs, inside), ...]``, one pair per input (a list of one or more outputs
    and a boolean mask), with the straight-through gradient: to each input, the sum of its outputs' upstream
    gradients where ``inside``, 0 elsewhere; nothing to what else ``function`` reads. Returns each input's
    outputs, a list per input.

    Written as a custom gradient because the gradient of the function's ops would keep every intermediate
    (the digit planes, the peeled terms) alive until the backward pass and run them again backwards; this
    keeps one boolean mask per input and runs one select (bench/bench_training.py).
    """

    counts = []  # each input's number of outputs, known once ``function`` has run

    @tf.custom_gradient
    def quantize(*inputs):
        results = function(list(inputs))
        counts.extend(len(outputs) for outputs, _ in results)

        def straight_through(*upstream):  # an output's upstream is None where it went unused
            gradients, start = [], 0
            for x, (outputs, inside) in zip(inputs, results, strict=True):
                used = [dy for dy in upstream[start : start + len(outputs)] if dy is not None]
                start += len(outputs)
                summed = tf.add_n(used) if used else tf.zeros_like(x)
                gradients.append(tf.where(inside, summed, tf.zeros_like(summed)))
            return gradients

        return [output for outputs, _ in results for output in outputs], straight_through

    flat = quantize(*inputs)
    starts = np.cumsum([0, *counts])
    return [flat[start:end] for start, end in zip(starts[:-1], starts[1:], strict=True)]


def masked_straight_through(function):
    """``function(x, *params) -> (quantized, inside)`` with the straight-through gradient: ``dy`` where
    ``inside``, 0 elsewhere, nothing to ``params`` (``masked_straight_through_many`` for one input)."""

    def call(x, *params):
        def one(inputs):
            quantized, inside = function(inputs[0], *params)
            return [([quantized], inside)]

        ((quantized,),) = masked_straight_through_many(one, [x])
        return quantized

    return call


def fused_straight_through(function):
    """``masked_straight_through`` over ``function`` as one fused kernel (``fused``)."""
    return masked_straight_through(fused(function))


def peak_alpha(x):
    """max|x| (at least 1e-30), no gradient: a clip taken from the data."""
    return tf.stop_gradient(tf.maximum(tf.reduce_max(tf.abs(x)), 1e-30))


class ClipScale:
    """A clipping scale ``alpha``: fixed, taken from the data, or learned (APoT-style).

    - ``alpha=None``: ``max|x|`` over all axes but ``keep_axes`` at every call (no gradient);
    - ``alpha=a``: the constant ``a``;
    - ``learnable_alpha=True``: a trainable variable started at ``alpha`` (or
      1.0); the owning quantizer exposes it, so the layer's optimizer trains it.

    Hardware-exact mode rounds the step between levels, ``alpha / n_steps``,
    *up* to a power of two (the clip range never shrinks below alpha), so
    the hardware only ever shifts by constants; a learned alpha receives the
    gradient of that rounding straight through.
    """

    def __init__(
        self,
        alpha: float | None = None,
        learnable_alpha: bool = False,
        hardware_exact: bool = True,
        keep_axes: Sequence[int] | None = None,
    ) -> None:
        self.alpha = None if alpha is None else float(alpha)
        self.learnable_alpha = bool(learnable_alpha)
        self.hardware_exact = bool(hardware_exact)
        self.keep_axes = keep_axes
        self.variable = (
            tf.Variable(self.alpha or 1.0, dtype=tf.float32, trainable=True, name="alpha")
            if self.learnable_alpha
            else None
        )

    @property
    def from_peak(self):
        """alpha is max|x| over every axis: ``peak_alpha``, computable inside a fused kernel."""
        return self.variable is None and self.alpha is None and self.keep_axes is None

    def raw_alpha(self, x):
        if self.variable is not None:
            return tf.abs(tf.cast(self.variable, x.dtype)) + 1e-12
        if self.alpha is not None:
            return tf.constant(self.alpha, x.dtype)
        if self.keep_axes is None:
            return peak_alpha(x)
        keep = {a % len(x.shape) for a in self.keep_axes}
        peak = tf.reduce_max(tf.abs(x), axis=[a for a in range(len(x.shape)) if a not in keep], keepdims=True)
        return tf.stop_gradient(tf.maximum(peak, 1e-30))

    def step_exponent(self, x, n_steps):
        """log2 of the power-of-two step for ``n_steps`` steps up to alpha (hardware-exact mode)."""
        return pow2_exponent(self.raw_alpha(x), float(n_steps))

    def step(self, x, n_steps):
        if not self.hardware_exact:
            return self.raw_alpha(x) / n_steps
        return tf.pow(tf.constant(2.0, x.dtype), self.step_exponent(x, n_steps))

    def config(self):
        return {"alpha": self.alpha, "learnable_alpha": self.learnable_alpha, "hardware_exact": self.hardware_exact}


class KitQuantizer(BaseQuantizer):
    """Base of the kit's quantizers.

    Multi-resolution quantizers call ``init_resolutions``: a list of
    settings, one per resolution, and a non-trainable ``tf.Variable`` index
    that picks one. Compiled graphs read the variable, so ``set_resolution``
    switches without retracing. Quantizers with a learnable clipping scale
    keep it in ``self.clip``.
    """

    clip = None
    budgets = None

    def init_resolutions(self, budgets):
        # A tuple: tf.Module would wrap a list (and print it as ListWrapper).
        self.budgets = tuple(int(b) for b in budgets)
        self.resolution = resolution_variable(len(self.budgets) - 1)

    @property
    def is_multi_resolution(self):
        return self.budgets is not None

    @property
    def n_resolutions(self):
        return len(self.budgets) if self.is_multi_resolution else 1

    def set_resolution(self, index):
        if not 0 <= int(index) < self.n_resolutions:
            raise ValueError(f"resolution {index} out of range 0..{self.n_resolutions - 1}")
        self.resolution.assign(int(index))

    def current_budget(self):
        return tf.gather(tf.constant(self.budgets, tf.int32), self.resolution)

    # Keras gathers these from the tf.Module attributes of a layer: expose only a learned alpha.
    @property
    def trainable_variables(self):
        return (self.clip.variable,) if self.clip is not None and self.clip.variable is not None else ()

    @property
    def variables(self):
        return self.trainable_variables

    def max(self):
        return self.clip.alpha or 1.0

    def min(self):
        return -self.max() if self.keep_negative else 0.0

    def config_of(self, *names: str, **values: Any) -> dict[str, Any]:
        """``get_config``'s dict: the attributes ``names`` (a tuple as a list), then ``values``, in order."""
        config = {}
        for name in names:
            value = getattr(self, name)
            config[name] = list(value) if isinstance(value, tuple) else value
        return {**config, **values}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ClippedQuantizer(KitQuantizer):
    """``bits`` bits, signed, on a clipping scale (``ClipScale``): the fixed-point and power-of-two
    quantizers. Subclasses set ``max_bits``; their docstrings say what each argument means for them."""

    max_bits = None

    def __init__(
        self, bits: int = 4, alpha: float | None = None, learnable_alpha: bool = False, hardware_exact: bool = True
    ) -> None:
        super().__init__()
        if not 2 <= int(bits) <= self.max_bits:
            raise ValueError(f"{type(self).__name__}: bits {bits} out of range 2..{self.max_bits}")
        self.bits = int(bits)
        self.clip = ClipScale(alpha, learnable_alpha, hardware_exact)
        self.keep_negative = True

    def __str__(self):
        return f"{type(self).__name__}({self.bits},{self.clip.alpha})"

    def get_config(self):
        return {"bits": self.bits, **self.clip.config()}
