"""Term quantizers (SPEC section 1): budgets of power-of-two terms, one budget per resolution."""

import tensorflow as tf

from . import terms
from .base import ClipScale, FixedType, KitQuantizer, check_budgets, straight_through

REFERENCE_WEIGHT_BUDGETS = (8, 10, 12, 14, 14, 16, 18, 20)
REFERENCE_DATA_BUDGETS = (2, 2, 2, 2, 3, 3, 3, 3)
MAX_INPUT_INTEGER = 40  # a grid's integer bits lie in -40..40


def fused(function):
    """``function`` as is when called eagerly; inside a compiled graph (a training step, ``predict``), one
    XLA kernel: the term arithmetic is a long chain of elementwise ops on every activation, which TensorFlow
    runs one full-tensor pass each and XLA fuses into one (bench/bench_training.py). Either way the result
    is the same, exactly (tests/test_quantizers.py checks)."""
    compiled = tf.function(function, jit_compile=True)

    def call(*args, **kwargs):
        return (compiled if tf.inside_function() else function)(*args, **kwargs)

    return call


def weight_magnitudes(x, scale, levels):
    """Integer magnitudes ``min(round(|x|/s), levels)`` (as x's dtype) on the power-of-two step ``s``."""
    return tf.minimum(tf.round(tf.abs(x) / scale), float(levels))


@fused
def quantize_weights(x, scale, budget, bits, group_size, encoding):
    """``quantized_term``'s output for a power-of-two step ``scale`` and a (run-time) term budget."""
    levels = 2**bits - 1
    q = tf.stop_gradient(weight_magnitudes(x, scale, levels))
    kept = terms.truncate_groups(q, bits, budget, group_size, encoding)
    quantized = tf.sign(x) * scale * tf.cast(kept, x.dtype)
    inside = tf.abs(x) <= scale * levels
    return tf.where(inside, straight_through(x, quantized), tf.stop_gradient(quantized))


def grid_codes(x, step, bits):
    """Integer codes of ``x`` on the unsigned grid of step ``step`` (a power of two), round half up, exactly."""
    scaled = x / step  # exact: a power-of-two step
    low = tf.floor(scaled)
    # scaled - low is exact; floor(scaled + 0.5) would round in float just below a half.
    codes = low + tf.cast(scaled - low >= 0.5, x.dtype)
    return tf.clip_by_value(codes, 0.0, 2.0**bits - 1)


@fused
def quantize_data(x, step, budget, bits, encoding, max_budget, learned_clip, signed=False):
    """``quantized_data_term``'s output: the top ``budget`` terms of each code, peeled without digit planes;
    ``signed``: of the magnitude's code, the sign put back (sign and magnitude)."""
    top = 2.0**bits - 1
    kept = terms.peel_terms(grid_codes(tf.abs(x) if signed else x, step, bits), budget, encoding, max_budget)
    if signed:
        kept = tf.sign(x) * kept
        inside = tf.abs(x) <= top * step
        return tf.where(inside, straight_through(x, kept * step), tf.stop_gradient(kept * step))
    if not learned_clip:
        inside = tf.logical_and(x >= 0, x <= top * step)
        return tf.where(inside, straight_through(x, kept * step), tf.stop_gradient(kept * step))
    # Learned clip (APoT-style): gradient to x inside the range, to the step through the codes.
    ratio = tf.clip_by_value(x / step, 0.0, top)
    return step * straight_through(ratio, kept)


class quantized_term(KitQuantizer):  # noqa: N801 (QKeras naming)
    """Term quantization of weights: ``budgets[r]`` power-of-two terms per group at resolution ``r``.

    ``w -> sign(w) * s * T_k(min(round(|w|/s), 2^bits - 1))``, ``s`` a power
    of two (the smallest with ``alpha <= s * (2^bits - 1)``, alpha = max|w| by
    default), ``T_k`` keeping the ``k`` most significant terms of every group
    of ``group_size`` consecutive inputs (axis -2 of Dense and Conv kernels).
    """

    def __init__(
        self,
        bits=8,
        group_size=16,
        budgets=REFERENCE_WEIGHT_BUDGETS,
        encoding="naf",
        alpha=None,
        learnable_alpha=False,
    ):
        super().__init__()
        if not 2 <= int(bits) <= 16:
            raise ValueError(f"quantized_term: bits {bits} out of range 2..16")
        if int(group_size) < 1:
            raise ValueError(f"quantized_term: group_size {group_size} must be at least 1")
        terms.check_encoding(encoding)
        self.bits = int(bits)
        self.group_size = int(group_size)
        self.encoding = encoding
        self.init_resolutions(check_budgets(budgets, self.group_size * terms.n_planes(self.bits), "quantized_term"))
        self.clip = ClipScale(alpha, learnable_alpha, hardware_exact=True)
        self.keep_negative = True

    @property
    def levels(self):
        return 2**self.bits - 1

    def scale_exponent(self, x):
        """log2 of the power-of-two scale s."""
        return self.clip.step_exponent(x, self.levels)

    def magnitudes(self, x):
        """Integer magnitudes q and the scale s (both as x's dtype)."""
        scale = self.clip.step(x, self.levels)
        return weight_magnitudes(x, scale, self.levels), scale

    def __call__(self, x):
        x = tf.convert_to_tensor(x)
        # The scale stays outside the fused kernel: its exact power of two comes from tf.pow.
        scale = self.clip.step(x, self.levels)
        return quantize_weights(x, scale, self.current_budget(), self.bits, self.group_size, self.encoding)

    def fixed_type(self, x):
        # A term at the top plane can round up past 2^bits - 1: sign + bits + 1.
        exponent = int(self.scale_exponent(tf.constant(x, tf.float32)).numpy())
        return FixedType(self.bits + 2, self.bits + 2 + exponent)

    def max(self):
        return self.clip.alpha or 1.0

    def min(self):
        return -self.max()

    def __str__(self):
        return f"quantized_term({self.bits},{self.group_size},{list(self.budgets)},'{self.encoding}')"

    def get_config(self):
        return {
            "bits": self.bits,
            "group_size": self.group_size,
            "budgets": list(self.budgets),
            "encoding": self.encoding,
            "alpha": self.clip.alpha,
            "learnable_alpha": self.clip.learnable_alpha,
        }


class quantized_data_term(KitQuantizer):  # noqa: N801 (QKeras naming)
    """Activations: unsigned fixed point, then the ``budgets[r]`` most significant terms of each value.

    ``x -> T_a(clip(floor(x * 2^f + 1/2), 0, 2^bits - 1)) * 2^-f`` with
    ``f = bits - integer``. Negative inputs become 0, so it is also the ReLU.
    Rounding is half-up, the HLS ``AP_RND`` mode. A term at the top plane can
    round a value up to ``2^bits``, one bit above the input grid.

    ``signed=True`` (a network's input): sign and magnitude, the magnitude
    quantized as above, ``x -> sign(x) * T_a(clip(floor(|x| * 2^f + 1/2), 0,
    2^bits - 1)) * 2^-f``: symmetric, rounding half away from zero, saturating
    at ``±(2^bits - 1) * 2^-f``. ``integer`` may be negative or above ``bits``
    (an input grid follows its data's range).
    """

    def __init__(
        self, bits=8, integer=3, budgets=REFERENCE_DATA_BUDGETS, encoding="naf", learnable_alpha=False, signed=False
    ):
        super().__init__()
        if not 1 <= int(bits) <= 16:
            raise ValueError(f"quantized_data_term: bits {bits} out of range 1..16")
        # An input grid follows its data's range: any power-of-two step.
        if not -MAX_INPUT_INTEGER <= int(integer) <= MAX_INPUT_INTEGER:
            raise ValueError(
                f"quantized_data_term: integer {integer} out of range {-MAX_INPUT_INTEGER}..{MAX_INPUT_INTEGER}"
            )
        if signed and learnable_alpha:
            raise ValueError("quantized_data_term: a signed (input) grid has no learnable clip")
        terms.check_encoding(encoding)
        self.bits = int(bits)
        self.integer = int(integer)
        self.encoding = encoding
        self.init_resolutions(check_budgets(budgets, terms.n_planes(self.bits), "quantized_data_term"))
        self.signed = bool(signed)
        self.keep_negative = self.signed
        if learnable_alpha:
            # The clip starts at the grid's top, (2^bits - 1) * 2^-(bits - integer), and learns from there.
            self.clip = ClipScale((2.0**self.bits - 1) * 2.0 ** (self.integer - self.bits), True, True)

    @property
    def frac_bits(self):
        """Fraction bits of the grid: from ``integer``, or from the learned clip's power-of-two step."""
        if self.clip is None:
            return self.bits - self.integer
        return -int(self.clip.step_exponent(tf.constant(1.0), 2**self.bits - 1).numpy())

    def _step(self, x):
        if self.clip is None:
            return tf.constant(2.0**-self.frac_bits, x.dtype)
        return self.clip.step(x, 2**self.bits - 1)

    def grid(self, x):
        """Integer codes on the unsigned input grid, before term truncation (round half up, exactly)."""
        return grid_codes(x, self._step(x), self.bits)

    def __call__(self, x):
        x = tf.convert_to_tensor(x)
        max_budget = min(max(self.budgets), terms.max_terms(self.bits, self.encoding))
        return quantize_data(
            x, self._step(x), self.current_budget(), self.bits, self.encoding, max_budget, self.clip is not None,
            self.signed,
        )  # fmt: skip

    @property
    def integer_bits(self):
        return self.bits - self.frac_bits

    def fixed_type(self, x=None):
        if self.signed:
            return FixedType(self.bits + 2, self.integer_bits + 2, signed=True)
        return FixedType(self.bits + 1, self.integer_bits + 1, signed=False)

    def max(self):
        return (2.0**self.bits - 1) * 2.0**-self.frac_bits

    def min(self):
        return -self.max() if self.signed else 0.0

    def __str__(self):
        signed = ",signed=True" if self.signed else ""
        return f"quantized_data_term({self.bits},{self.integer},{list(self.budgets)},'{self.encoding}'{signed})"

    def get_config(self):
        return {
            "bits": self.bits,
            "integer": self.integer,
            "budgets": list(self.budgets),
            "encoding": self.encoding,
            "learnable_alpha": self.clip is not None,
            "signed": self.signed,
        }
