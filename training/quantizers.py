"""Multi-resolution term quantizers in the QKeras quantizer contract.

Both quantizers hold a non-trainable resolution index (a ``tf.Variable``) and
a list of budgets, one per resolution. ``set_resolution`` assigns the index;
traced graphs read the variable, so switching never retraces.
"""

import tensorflow as tf
from qkeras.quantizers import BaseQuantizer

from . import terms


def _straight_through(x, quantized):
    return x + tf.stop_gradient(quantized - x)


def _check_budgets(budgets, max_terms, what):
    budgets = [int(b) for b in budgets]
    if not budgets:
        raise ValueError(f"{what}: at least one budget is needed")
    for b in budgets:
        if not 0 < b <= max_terms:
            raise ValueError(f"{what}: budget {b} out of range 1..{max_terms}")
    return budgets


class MultiResolutionQuantizer(BaseQuantizer):
    """Shared part: the budget list and the run-time resolution index."""

    def __init__(self, budgets, encoding):
        super().__init__()
        terms.check_encoding(encoding)
        self.encoding = encoding
        self.budgets = list(budgets)
        self.resolution = tf.Variable(len(self.budgets) - 1, dtype=tf.int32, trainable=False, name="resolution")

    @property
    def n_resolutions(self):
        return len(self.budgets)

    def set_resolution(self, index):
        if not 0 <= int(index) < self.n_resolutions:
            raise ValueError(f"resolution {index} out of range 0..{self.n_resolutions - 1}")
        self.resolution.assign(int(index))

    def current_budget(self):
        return tf.gather(tf.constant(self.budgets, tf.int32), self.resolution)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class quantized_term(MultiResolutionQuantizer):  # noqa: N801 (QKeras naming)
    """Term quantization of weights: ``budgets[r]`` power-of-two terms per group at resolution ``r``.

    ``w -> sign(w) * s * T_k(min(round(|w|/s), 2^bits - 1))`` with a per-tensor
    power-of-two scale ``s`` chosen so the largest weight fits in ``bits``
    bits, and ``T_k`` keeping the ``k`` most significant terms of every group
    of ``group_size`` consecutive inputs (axis -2 of the kernel).
    """

    def __init__(self, bits=8, group_size=16, budgets=(8, 10, 12, 14, 14, 16, 18, 20), encoding="naf"):
        if not 2 <= int(bits) <= 16:
            raise ValueError(f"quantized_term: bits {bits} out of range 2..16")
        if int(group_size) < 1:
            raise ValueError(f"quantized_term: group_size {group_size} must be at least 1")
        self.bits = int(bits)
        self.group_size = int(group_size)
        max_terms = self.group_size * terms.n_planes(self.bits)
        super().__init__(_check_budgets(budgets, max_terms, "quantized_term"), encoding)
        self.keep_negative = True

    def scale_exponent(self, x):
        """log2 of the power-of-two scale: the smallest s with max|x| <= s * (2^bits - 1)."""
        peak = tf.maximum(tf.reduce_max(tf.abs(x)), 1e-30)
        return tf.math.ceil(tf.math.log(peak / (2.0**self.bits - 1)) / tf.math.log(2.0))

    def magnitudes(self, x):
        """Integer magnitudes q and the scale s (both as x's dtype)."""
        scale = tf.pow(tf.constant(2.0, x.dtype), tf.cast(self.scale_exponent(x), x.dtype))
        q = tf.minimum(tf.round(tf.abs(x) / scale), 2.0**self.bits - 1)
        return q, scale

    def __call__(self, x):
        x = tf.convert_to_tensor(x)
        q, scale = self.magnitudes(x)
        kept = terms.truncate_groups(q, self.bits, self.current_budget(), self.group_size, self.encoding)
        return _straight_through(x, tf.sign(x) * scale * tf.cast(kept, x.dtype))

    def max(self):
        return 1.0

    def min(self):
        return -1.0

    def __str__(self):
        return f"quantized_term({self.bits},{self.group_size},{self.budgets},'{self.encoding}')"

    def get_config(self):
        return {"bits": self.bits, "group_size": self.group_size, "budgets": self.budgets, "encoding": self.encoding}


class quantized_data_term(MultiResolutionQuantizer):  # noqa: N801 (QKeras naming)
    """Activation quantizer: unsigned fixed point, then ``budgets[r]`` most significant terms per value.

    ``x -> T_a(clip(floor(x * 2^f + 1/2), 0, 2^bits - 1)) * 2^-f`` with
    ``f = bits - integer``. Negative inputs become 0, so it is also the ReLU.
    Rounding is half-up, the HLS ``AP_RND`` mode; the top term of a NAF may
    round a value up to ``2^bits``, one more bit than the input grid.
    """

    def __init__(self, bits=8, integer=3, budgets=(2, 2, 2, 2, 3, 3, 3, 3), encoding="naf"):
        if not 1 <= int(bits) <= 16:
            raise ValueError(f"quantized_data_term: bits {bits} out of range 1..16")
        if not 0 <= int(integer) <= int(bits):
            raise ValueError(f"quantized_data_term: integer {integer} out of range 0..{bits}")
        self.bits = int(bits)
        self.integer = int(integer)
        super().__init__(_check_budgets(budgets, terms.n_planes(self.bits), "quantized_data_term"), encoding)
        self.keep_negative = False

    @property
    def frac_bits(self):
        return self.bits - self.integer

    def grid(self, x):
        """Integer codes on the unsigned input grid, before term truncation."""
        step = 2.0**self.frac_bits
        return tf.clip_by_value(tf.floor(x * step + 0.5), 0.0, 2.0**self.bits - 1)

    def __call__(self, x):
        x = tf.convert_to_tensor(x)
        kept = terms.truncate_values(self.grid(x), self.bits, self.current_budget(), self.encoding)
        quantized = tf.cast(kept, x.dtype) * 2.0**-self.frac_bits
        inside = tf.logical_and(x >= 0, x <= self.max())
        # Straight-through inside the clip range, zero gradient outside it.
        return tf.where(inside, _straight_through(x, quantized), tf.stop_gradient(quantized))

    def max(self):
        return (2.0**self.bits - 1) * 2.0**-self.frac_bits

    def min(self):
        return 0.0

    def __str__(self):
        return f"quantized_data_term({self.bits},{self.integer},{self.budgets},'{self.encoding}')"

    def get_config(self):
        return {"bits": self.bits, "integer": self.integer, "budgets": self.budgets, "encoding": self.encoding}


def multi_resolution_quantizers(model):
    """Every multi-resolution quantizer used by a Keras model's layers."""
    found = []
    for layer in _all_layers(model):
        candidates = list(getattr(layer, "quantizers", None) or [])
        candidates.append(getattr(layer, "quantizer", None))
        candidates.append(getattr(layer, "activation", None))
        for q in candidates:
            if isinstance(q, MultiResolutionQuantizer) and all(q is not f for f in found):
                found.append(q)
    return found


def _all_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
        yield layer


def n_resolutions(model):
    counts = {q.n_resolutions for q in multi_resolution_quantizers(model)}
    if len(counts) != 1:
        raise ValueError(f"model's quantizers disagree on the number of resolutions: {sorted(counts)}")
    return counts.pop()


def set_resolution(model, index):
    """Switch every multi-resolution quantizer of ``model`` to resolution ``index`` (no retracing)."""
    quantizers = multi_resolution_quantizers(model)
    if not quantizers:
        raise ValueError("model has no multi-resolution quantizer")
    n = n_resolutions(model)
    if not 0 <= int(index) < n:
        raise ValueError(f"resolution {index} out of range 0..{n - 1}")
    for q in quantizers:
        q.set_resolution(index)


def resolution_variables(model):
    return [q.resolution for q in multi_resolution_quantizers(model)]


def register_custom_objects():
    """Make models that use our quantizers loadable by Keras and QKeras."""
    objects = {"quantized_term": quantized_term, "quantized_data_term": quantized_data_term}
    tf.keras.utils.get_custom_objects().update(objects)
    return objects
