"""Term quantization of activations (docs/algorithms.md#data-terms): a fixed-point grid, then the most
significant power-of-two terms of each value, one budget per resolution; signed, the network's input grid."""

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import tensorflow as tf

from .. import term_encodings
from .base import (
    ClipScale,
    FixedType,
    KitQuantizer,
    check_budgets,
    fused,
    fused_straight_through,
    masked_straight_through,
    straight_through,
)

REFERENCE_DATA_BUDGETS = (2, 2, 2, 2, 3, 3, 3, 3)
MAX_INPUT_INTEGER = 40  # a grid's integer bits lie in -40..40
# A small activation tensor is quantized by a table lookup of its codes: a fused kernel's launch costs more
# than the dozen elementwise passes over so few values; a large one by the fused kernel, whose single pass
# wins (bench/bench_training.py: the digits MLP against the CNN). The table has 2^bits entries per budget.
LOOKUP_MAX_BITS = 10
LOOKUP_MAX_VALUES = 2**14


def grid_codes(x, step, bits):
    """Integer codes of ``x`` on the unsigned grid of step ``step`` (a power of two), round half up, exactly."""
    scaled = x / step  # exact: a power-of-two step
    low = tf.floor(scaled)
    # scaled - low is exact; floor(scaled + 0.5) would round in float just below a half.
    codes = low + tf.cast(scaled - low >= 0.5, x.dtype)
    return tf.clip_by_value(codes, 0.0, 2.0**bits - 1)


def kept_codes(x, step, budget, bits, encoding, max_budget, signed):
    """The top ``budget`` terms of each grid code, peeled without digit planes; ``signed``: of the
    magnitude's code, the sign put back (sign and magnitude)."""
    kept = term_encodings.peel_terms(grid_codes(tf.abs(x) if signed else x, step, bits), budget, encoding, max_budget)
    return tf.sign(x) * kept if signed else kept


def inside_grid(x, step, bits, signed):
    """Where the gradient passes: inside the grid."""
    top = (2.0**bits - 1) * step
    return tf.abs(x) <= top if signed else tf.logical_and(x >= 0, x <= top)


@fused_straight_through
def quantize_data(x, step, budget, bits, encoding, max_budget, signed=False):
    """``quantized_data_term``'s output on a fixed grid, and where the gradient passes (inside the grid)."""
    return kept_codes(x, step, budget, bits, encoding, max_budget, signed) * step, inside_grid(x, step, bits, signed)


@lru_cache
def kept_code_table(bits, encoding, max_budget):
    """Row ``b``: the ``b`` most significant terms of every code 0 .. 2^bits - 1, by the sequential reference
    (``term_encodings.value_terms``), for budgets 0 .. max_budget, flattened."""
    rows = [
        [sum(d << e for e, d in term_encodings.value_terms(q, encoding)[:b]) for q in range(2**bits)]
        for b in range(max_budget + 1)
    ]
    return np.asarray(rows, np.float64).reshape(-1)


@masked_straight_through
def quantize_data_by_lookup(x, step, budget, bits, encoding, max_budget, signed=False):
    """``quantize_data`` with each code's kept terms read from ``kept_code_table``: the same values, exactly."""
    codes = tf.cast(grid_codes(tf.abs(x) if signed else x, step, bits), tf.int32)
    table = tf.constant(kept_code_table(bits, encoding, max_budget), x.dtype)
    kept = tf.gather(table, codes + tf.minimum(budget, max_budget) * 2**bits)  # more terms than a code has: all
    return (tf.sign(x) * kept if signed else kept) * step, inside_grid(x, step, bits, signed)


def use_lookup(x, bits):
    """A small tensor of known size, in a compiled graph (eagerly the plain ops run anyway)."""
    size = x.shape.num_elements()
    return tf.inside_function() and bits <= LOOKUP_MAX_BITS and size is not None and size <= LOOKUP_MAX_VALUES


@fused
def quantize_data_learned_clip(x, step, budget, bits, encoding, max_budget):
    """``quantized_data_term``'s output on a learned clip (APoT-style): gradient to x inside the range, to
    the step through the codes."""
    ratio = tf.clip_by_value(x / step, 0.0, 2.0**bits - 1)
    return step * straight_through(ratio, kept_codes(x, step, budget, bits, encoding, max_budget, False))


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

    Attributes:
        bits: bits of a value's grid code (of its magnitude's when ``signed``), 1..16 (default 8).
        integer: integer bits of the grid, whose step is 2^(integer - bits); -40..40 (default 3).
        budgets: terms kept per value, one budget per resolution, each 1..bits + 1; bits + 1 keeps every term,
            plain fixed point (default ``REFERENCE_DATA_BUDGETS``: 2, 2, 2, 2, 3, 3, 3, 3).
        encoding: the signed-digit form whose terms are counted: "naf", "binary" or "hese" (default "naf").
        learnable_alpha: if true, the clip is a trainable variable started at the grid's top, its step kept a
            power of two (default False; not with ``signed``).
        signed: if true, sign and magnitude, for a network's input; if false, negative inputs become 0
            (default False).
    """

    def __init__(
        self, bits: int = 8, integer: int = 3, budgets: Sequence[int] = REFERENCE_DATA_BUDGETS, encoding: str = "naf",
        learnable_alpha: bool = False, signed: bool = False,
    ) -> None:  # fmt: skip
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
        term_encodings.check_encoding(encoding)
        self.bits = int(bits)
        self.integer = int(integer)
        self.encoding = encoding
        self.init_resolutions(check_budgets(budgets, term_encodings.n_planes(self.bits), "quantized_data_term"))
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
        max_budget = min(max(self.budgets), term_encodings.max_terms(self.bits, self.encoding))
        args = (x, self._step(x), self.current_budget(), self.bits, self.encoding, max_budget)
        if self.clip is not None:
            return quantize_data_learned_clip(*args)
        quantize = quantize_data_by_lookup if use_lookup(x, self.bits) else quantize_data
        return quantize(*args, self.signed)

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
        return self.config_of(
            "bits", "integer", "budgets", "encoding", learnable_alpha=self.clip is not None, signed=self.signed
        )
