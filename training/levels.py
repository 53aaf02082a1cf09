"""Fixed-point and power-of-two quantizers with the level sets of SPEC section 4.

- fixed, m bits: ``±alpha * {0, 1/n, 2/n, ..., 1}``, ``n = 2^(m-1) - 1``: the
  2^m - 1 symmetric levels of the SPEC's equation. (Its wording "a grid of
  2^m - 1 steps" after ``h(x) = x/2 + 1/2`` would give 2^m levels without 0;
  the kit follows the level set, which keeps 0 and symmetry.) Rounding is
  half-to-even (``tf.round``).
- power of two, m bits: ``±alpha * {0, 2^-(2^(m-1)-2), ..., 2^-1, 1}``: the
  clipped magnitude rounds to the nearest power of two in the log domain;
  when that power lies below the smallest level the value is 0.

In hardware-exact mode (the default) alpha is such that the step (fixed) or
alpha itself (PoT) is a power of two, so every value is a fixed-point number
and ``fixed_type`` names the type that holds them.
"""

import tensorflow as tf

from .base import ClipScale, FixedType, KitQuantizer, straight_through


def fixed_levels(x, bits, step):
    """Round ``x`` to multiples of ``step``, clipped to ±(2^(bits-1)-1) steps; straight-through inside."""
    n = 2.0 ** (bits - 1) - 1
    codes = tf.clip_by_value(x / step, -n, n)
    return step * straight_through(codes, tf.round(codes))


def pot_levels(x, bits, alpha):
    """Nearest power of two (log domain) of ``|x|/alpha`` clipped to 1; 0 below the smallest level."""
    smallest = -(2.0 ** (bits - 1) - 2)
    ratio = tf.clip_by_value(x / alpha, -1.0, 1.0)  # signed, so the gradient is 1 at 0 too
    exponent = tf.round(tf.math.log(tf.maximum(tf.abs(ratio), 1e-30)) / tf.math.log(2.0))
    level = tf.where(exponent < smallest, tf.zeros_like(ratio), tf.sign(ratio) * tf.pow(2.0, exponent))
    return alpha * straight_through(ratio, level)


def _pot_exponent_range(bits):
    return -(2 ** (bits - 1) - 2), 0


class quantized_fixed(KitQuantizer):  # noqa: N801 (QKeras naming)
    """Symmetric fixed point, ``bits`` bits: ``±alpha * {0, 1/n, ..., 1}``, ``n = 2^(bits-1) - 1``."""

    def __init__(self, bits=4, alpha=None, learnable_alpha=False, hardware_exact=True):
        super().__init__()
        if not 2 <= int(bits) <= 24:
            raise ValueError(f"quantized_fixed: bits {bits} out of range 2..24")
        self.bits = int(bits)
        self.clip = ClipScale(alpha, learnable_alpha, hardware_exact)
        self.keep_negative = True

    @property
    def n_steps(self):
        return 2 ** (self.bits - 1) - 1

    def __call__(self, x):
        x = tf.convert_to_tensor(x)
        return fixed_levels(x, self.bits, self.clip.step(x, self.n_steps))

    def fixed_type(self, x):
        exponent = int(self.clip.step_exponent(tf.constant(x, tf.float32), self.n_steps).numpy())
        return FixedType(self.bits, self.bits + exponent)

    def max(self):
        return self.clip.alpha or 1.0

    def min(self):
        return -self.max()

    def __str__(self):
        return f"quantized_fixed({self.bits},{self.clip.alpha})"

    def get_config(self):
        return {"bits": self.bits, **self.clip.config()}


class quantized_pot(KitQuantizer):  # noqa: N801 (QKeras naming)
    """Power of two, ``bits`` bits: ``±alpha * {0, 2^-(2^(bits-1)-2), ..., 2^-1, 1}``."""

    def __init__(self, bits=4, alpha=None, learnable_alpha=False, hardware_exact=True):
        super().__init__()
        if not 2 <= int(bits) <= 6:
            raise ValueError(f"quantized_pot: bits {bits} out of range 2..6")
        self.bits = int(bits)
        self.clip = ClipScale(alpha, learnable_alpha, hardware_exact)
        self.keep_negative = True

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

    def max(self):
        return self.clip.alpha or 1.0

    def min(self):
        return -self.max()

    def __str__(self):
        return f"quantized_pot({self.bits},{self.clip.alpha})"

    def get_config(self):
        return {"bits": self.bits, **self.clip.config()}
