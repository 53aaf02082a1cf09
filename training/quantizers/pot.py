"""Power-of-two quantizer, the level set of docs/algorithms.md#power-of-two.

Power of two, m bits: ``±alpha * {0, 2^-(2^(m-1)-2), ..., 2^-1, 1}``: the
clipped magnitude rounds to the nearest power of two in the log domain;
when that power lies below the smallest level the value is 0.

In hardware-exact mode (the default) alpha is a power of two, so every value
is a fixed-point number and ``fixed_type`` names the type that holds them.
"""

import tensorflow as tf

from .base import ClippedQuantizer, FixedType, straight_through


def pot_levels(x, bits, alpha):
    """Nearest power of two (log domain) of ``|x|/alpha`` clipped to 1; 0 below the smallest level."""
    smallest = -(2.0 ** (bits - 1) - 2)
    ratio = tf.clip_by_value(x / alpha, -1.0, 1.0)  # signed, so the gradient is 1 at 0 too
    exponent = tf.round(tf.math.log(tf.maximum(tf.abs(ratio), 1e-30)) / tf.math.log(2.0))
    level = tf.where(exponent < smallest, tf.zeros_like(ratio), tf.sign(ratio) * tf.pow(2.0, exponent))
    return alpha * straight_through(ratio, level)


def _pot_exponent_range(bits):
    return -(2 ** (bits - 1) - 2), 0


class quantized_pot(ClippedQuantizer):  # noqa: N801 (QKeras naming)
    """Power of two, ``bits`` bits: ``±alpha * {0, 2^-(2^(bits-1)-2), ..., 2^-1, 1}``.

    Attributes:
        bits: bits of a value, the sign's and the zero's included, 2..6 (default 4): 2^(bits-1) - 1 powers of
            two on either side of 0.
        alpha: the clipping scale, the largest magnitude, rounded up to a power of two in hardware-exact mode;
            None takes max|w| at every call (default None).
        learnable_alpha: if true, alpha is a trainable variable started at ``alpha`` (or 1.0) (default False).
        hardware_exact: if true, alpha is a power of two, so every weight is one shift (default True).
    """

    max_bits = 6

    def __call__(self, x):
        x = tf.convert_to_tensor(x)
        return pot_levels(x, self.bits, self.clip.step(x, 1))

    def exponent_range(self):
        """Exponents of the nonzero levels, relative to alpha."""
        return _pot_exponent_range(self.bits)

    def fixed_type(self, x):
        top = int(self.clip.step_exponent(tf.constant(x, tf.float32), 1).numpy())
        low, _ = self.exponent_range()
        # Sign, then bits from 2^top down to 2^(top + low).
        return FixedType(2 - low, top + 2)
