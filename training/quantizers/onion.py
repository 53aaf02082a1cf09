"""Onion (bit-sharing) multi-precision quantizer (docs/algorithms.md#onion-bit-sharing).

The ``bits``-bit code of a value is sign-magnitude (``keep_negative``) or
unsigned; precision ``p`` keeps the top ``p`` bits of that code, so every
lower precision is nested in the higher ones like onion layers.

The dropped bits are **truncated**, not rounded: the m-bit code must be
literally the top m bits of the n-bit code (rounding could carry into the
kept bits and break the nesting, and the hardware would need the full code
to round). Truncation biases magnitudes toward zero by at most one kept
step; precision-specific batch normalization absorbs the shift (training).
"""

from collections.abc import Sequence

import tensorflow as tf

from .base import ClipScale, FixedType, KitQuantizer, straight_through


class quantized_onion(KitQuantizer):  # noqa: N801 (QKeras naming)
    """Nested precisions: precision ``precisions[r]`` at resolution ``r`` keeps the top bits of one code.

    Attributes:
        bits: bits of the full code, the sign's included when ``keep_negative``; 2..24 (1..24 unsigned)
            (default 8).
        precisions: top bits of the code kept, one precision per resolution, increasing, each up to ``bits``
            (default (2, 4, 6, 8)).
        alpha: the clipping scale, the step ``alpha / (2^m - 1)`` (m magnitude bits) rounded up to a power of
            two; None takes max|w| at every call; required when ``keep_negative`` is false (default None).
        keep_negative: if true, sign and magnitude (weights); if false, unsigned (activations) (default True).
        learnable_alpha: if true, alpha is a trainable variable started at ``alpha`` (or 1.0) (default False).
    """

    def __init__(
        self,
        bits: int = 8,
        precisions: Sequence[int] = (2, 4, 6, 8),
        alpha: float | None = None,
        keep_negative: bool = True,
        learnable_alpha: bool = False,
    ) -> None:
        super().__init__()
        self.bits = int(bits)
        self.keep_negative = bool(keep_negative)
        smallest = 2 if self.keep_negative else 1
        if not smallest <= self.bits <= 24:
            raise ValueError(f"quantized_onion: bits {bits} out of range {smallest}..24")
        precisions = [int(p) for p in precisions]
        if not precisions or sorted(precisions) != precisions:
            raise ValueError(f"quantized_onion: precisions {precisions} must be a non-empty increasing list")
        for p in precisions:
            if not smallest <= p <= self.bits:
                raise ValueError(f"quantized_onion: precision {p} out of range {smallest}..{self.bits}")
        self.init_resolutions(precisions)
        if not self.keep_negative and alpha is None:
            raise ValueError("quantized_onion: an activation (keep_negative=False) needs alpha, its clip value")
        self.clip = ClipScale(alpha, learnable_alpha, hardware_exact=True)

    @property
    def precisions(self):
        return list(self.budgets)

    @property
    def magnitude_bits(self):
        return self.bits - 1 if self.keep_negative else self.bits

    @property
    def n_steps(self):
        return 2**self.magnitude_bits - 1

    def codes(self, x):
        """Full-precision codes (signed for weights) and the step."""
        step = self.clip.step(x, self.n_steps)
        low = -float(self.n_steps) if self.keep_negative else 0.0
        return tf.clip_by_value(x / step, low, float(self.n_steps)), step

    def __call__(self, x):
        x = tf.convert_to_tensor(x)
        codes, step = self.codes(x)
        dropped = tf.cast(self.bits - self.current_budget(), x.dtype)
        unit = tf.pow(tf.constant(2.0, x.dtype), dropped)
        # Truncate the magnitude's low bits; the sign stays apart (sign-magnitude code).
        kept = tf.sign(codes) * tf.floor(tf.round(tf.abs(codes)) / unit) * unit
        return step * straight_through(codes, kept)

    def fixed_type(self, x):
        exponent = int(self.clip.step_exponent(tf.constant(x, tf.float32), self.n_steps).numpy())
        return FixedType(self.bits, self.bits + exponent, signed=self.keep_negative)

    def __str__(self):
        return f"quantized_onion({self.bits},{self.precisions},{self.clip.alpha})"

    def get_config(self):
        clip = self.clip
        return self.config_of(
            "bits",
            "precisions",
            alpha=clip.alpha,
            keep_negative=self.keep_negative,
            learnable_alpha=clip.learnable_alpha,
        )
