"""Term quantization of weights (docs/algorithms.md#term-quantization): budgets of power-of-two terms per
group of weights, one budget per resolution."""

from collections.abc import Sequence
from contextlib import contextmanager

import tensorflow as tf

from .. import term_encodings
from .base import (
    ClipScale,
    FixedType,
    KitQuantizer,
    check_budgets,
    exact_pow2,
    fused,
    fused_straight_through,
    masked_straight_through_many,
    peak_alpha,
    pow2_exponent,
)

REFERENCE_WEIGHT_BUDGETS = (8, 10, 12, 14, 14, 16, 18, 20)


def weight_magnitudes(x, scale, levels):
    """Integer magnitudes ``min(round(|x|/s), levels)`` (as x's dtype) on the power-of-two step ``s``."""
    return tf.minimum(tf.round(tf.abs(x) / scale), float(levels))


def weights_at_budgets(x, alpha, budgets, bits, group_size, encoding):
    """``quantized_term``'s outputs for a clip ``alpha`` (None: max|x|) at each of the (run-time) term
    ``budgets``, and where the gradient passes (inside the clip range, the same at every budget)."""
    levels = 2**bits - 1
    alpha = peak_alpha(x) if alpha is None else alpha
    scale = exact_pow2(pow2_exponent(alpha, float(levels)), x.dtype)
    magnitudes = weight_magnitudes(x, scale, levels)
    signed_scale = tf.sign(x) * scale
    kept = [term_encodings.truncate_groups(magnitudes, bits, b, group_size, encoding) for b in budgets]
    return [signed_scale * tf.cast(k, x.dtype) for k in kept], tf.abs(x) <= scale * levels


@fused_straight_through
def quantize_weights(x, alpha, budget, bits, group_size, encoding):
    """``quantized_term``'s output for a clip ``alpha`` (None: max|x|, taken inside the kernel) and a
    (run-time) term budget, and where the gradient passes."""
    (quantized,), inside = weights_at_budgets(x, alpha, [budget], bits, group_size, encoding)
    return quantized, inside


@fused
def _kernels_at_budgets(kernels, budgets, settings):
    return [weights_at_budgets(k, None, b, *s) for k, b, s in zip(kernels, budgets, settings, strict=True)]


class KernelBatch:
    """A model's term-quantized kernels (those scaled by their own peak) at one or more resolutions in one
    fused kernel: a small model's step is bound by kernel launches, one per layer and resolution otherwise
    (bench/bench_training.py). ``quantize`` computes them inside the step's tape; ``use`` hands one
    resolution's to the quantizers for the model's next call. The values are ``quantized_term``'s, exactly;
    the gradient is its straight-through estimator, summed over the resolutions."""

    def __init__(self, model):
        from ..resolution import _all_layers

        self.pairs = [
            (layer, layer.kernel_quantizer_internal)
            for layer in _all_layers(model)
            if isinstance(getattr(layer, "kernel_quantizer_internal", None), quantized_term)
            and layer.kernel_quantizer_internal.clip.from_peak
        ]

    def quantize(self, resolutions):
        """Per resolution (an index, or None for the quantizer's current one), the list of quantized kernels."""
        if not self.pairs:
            return [[] for _ in resolutions]
        kernels = [tf.convert_to_tensor(layer.kernel) for layer, _ in self.pairs]
        budgets = [[q.budget_at(r) for r in resolutions] for _, q in self.pairs]
        settings = tuple((q.bits, q.group_size, q.encoding) for _, q in self.pairs)
        per_kernel = masked_straight_through_many(
            lambda kernels: _kernels_at_budgets(kernels, budgets, settings), kernels
        )  # per kernel, its quantized values at each resolution; the gradient summed over the resolutions
        return [[outputs[r] for outputs in per_kernel] for r in range(len(resolutions))]

    @contextmanager
    def use(self, quantized):
        """The model's next call reads ``quantized`` (one resolution's kernels) instead of quantizing again."""
        for (_, q), kernel in zip(self.pairs, quantized, strict=True):
            q.prequantized = kernel
        try:
            yield
        finally:
            for _, q in self.pairs:
                q.prequantized = None


class quantized_term(KitQuantizer):  # noqa: N801 (QKeras naming)
    """Term quantization of weights: ``budgets[r]`` power-of-two terms per group at resolution ``r``.

    ``w -> sign(w) * s * T_k(min(round(|w|/s), 2^bits - 1))``, ``s`` a power
    of two (the smallest with ``alpha <= s * (2^bits - 1)``, alpha = max|w| by
    default), ``T_k`` keeping the ``k`` most significant terms of every group
    of ``group_size`` consecutive inputs (axis -2 of Dense and Conv kernels).

    Attributes:
        bits: magnitude bits of a weight's code, 2..16 (default 8): levels 0..2^bits - 1 on either side of 0.
        group_size: consecutive weights along the fan-in that share a budget, at least 1 (default 16).
        budgets: terms kept per group, one budget per resolution, each 1..group_size * (bits + 1) (default
            ``REFERENCE_WEIGHT_BUDGETS``: 8, 10, 12, 14, 14, 16, 18, 20).
        encoding: the signed-digit form whose terms are counted: "naf", "binary" or "hese" (default "naf").
        alpha: the clipping scale, rounded up to ``s * (2^bits - 1)``; None takes max|w| at every call
            (default None).
        learnable_alpha: if true, alpha is a trainable variable started at ``alpha`` (or 1.0) (default False).
    """

    def __init__(
        self,
        bits: int = 8,
        group_size: int = 16,
        budgets: Sequence[int] = REFERENCE_WEIGHT_BUDGETS,
        encoding: str = "naf",
        alpha: float | None = None,
        learnable_alpha: bool = False,
    ) -> None:
        super().__init__()
        if not 2 <= int(bits) <= 16:
            raise ValueError(f"quantized_term: bits {bits} out of range 2..16")
        if int(group_size) < 1:
            raise ValueError(f"quantized_term: group_size {group_size} must be at least 1")
        term_encodings.check_encoding(encoding)
        self.bits = int(bits)
        self.group_size = int(group_size)
        self.encoding = encoding
        self.init_resolutions(
            check_budgets(budgets, self.group_size * term_encodings.n_planes(self.bits), "quantized_term")
        )
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

    prequantized = None  # set by KernelBatch.use for one call of the model

    def budget_at(self, resolution=None):
        """The term budget at ``resolution`` (an index or int tensor; None: the current one)."""
        if resolution is None:
            return self.current_budget()
        return tf.gather(tf.constant(self.budgets, tf.int32), resolution)

    def __call__(self, x):
        if self.prequantized is not None:
            return self.prequantized
        x = tf.convert_to_tensor(x)
        # The scale gets no gradient (the kernel's is straight through to x), so even a learned alpha is
        # only read here; a clip from the data is computed inside the kernel.
        alpha = None if self.clip.from_peak else self.clip.raw_alpha(x)
        return quantize_weights(x, alpha, self.current_budget(), self.bits, self.group_size, self.encoding)

    def fixed_type(self, x):
        # A term at the top plane can round up past 2^bits - 1: sign + bits + 1.
        exponent = int(self.scale_exponent(tf.constant(x, tf.float32)).numpy())
        return FixedType(self.bits + 2, self.bits + 2 + exponent)

    def __str__(self):
        return f"quantized_term({self.bits},{self.group_size},{list(self.budgets)},'{self.encoding}')"

    def get_config(self):
        clip = self.clip
        return self.config_of(
            "bits", "group_size", "budgets", "encoding", alpha=clip.alpha, learnable_alpha=clip.learnable_alpha
        )
