"""Fixed-point quantizer, the level set of docs/algorithms.md#fixed-point.

Fixed, m bits: ``±alpha * {0, 1/n, 2/n, ..., 1}``, ``n = 2^(m-1) - 1``: 2^m - 1
symmetric levels. (The row-wise paper also describes "a grid of 2^m - 1
steps" after ``h(x) = x/2 + 1/2``, which read literally gives 2^m levels
without 0; the kit follows the level set, which keeps 0 and symmetry.)
Rounding is half-to-even (``tf.round``).

In hardware-exact mode (the default) alpha is such that the step is a power
of two, so every value is a fixed-point number and ``fixed_type`` names the
type that holds them.
"""

import tensorflow as tf

from .base import ClippedQuantizer, FixedType, straight_through


def fixed_levels(x, bits, step):
    """Round ``x`` to multiples of ``step``, clipped to ±(2^(bits-1)-1) steps; straight-through inside."""
    n = 2.0 ** (bits - 1) - 1
    codes = tf.clip_by_value(x / step, -n, n)
    return step * straight_through(codes, tf.round(codes))


class quantized_fixed(ClippedQuantizer):  # noqa: N801 (QKeras naming)
    """Symmetric fixed point, ``bits`` bits: ``±alpha * {0, 1/n, ..., 1}``, ``n = 2^(bits-1) - 1``.

    Attributes:
        bits: bits of a value, the sign's included, 2..24 (default 4): 2^bits - 1 levels, 0 among them.
        alpha: the clipping scale, the top level, rounded up so that the step ``alpha / n`` is a power of two in
            hardware-exact mode; None takes max|w| at every call (default None).
        learnable_alpha: if true, alpha is a trainable variable started at ``alpha`` (or 1.0) (default False).
        hardware_exact: if true, the step is a power of two, so every value is fixed point (default True).
    """

    max_bits = 24

    @property
    def n_steps(self):
        return 2 ** (self.bits - 1) - 1

    def __call__(self, x):
        x = tf.convert_to_tensor(x)
        return fixed_levels(x, self.bits, self.clip.step(x, self.n_steps))

    def fixed_type(self, x):
        exponent = int(self.clip.step_exponent(tf.constant(x, tf.float32), self.n_steps).numpy())
        return FixedType(self.bits, self.bits + exponent)
