"""Row-wise mixed schemes and precisions (RMSMP; docs/algorithms.md#row-wise-mixed-schemes).

Every output row (the last kernel axis: a Dense neuron or a Conv filter)
uses one of three schemes, each with its own power-of-two scale taken from
the row's largest weight:

    0 = PoT-W4, 1 = Fixed-W4, 2 = Fixed-W8

The assignment is model state: a non-trainable variable inside the
quantizer, written by the training code (``assign``), and saved with the
model through ``get_config``. Until something assigns it, rows are assigned
by ``default_assignment``: Fixed-W8 to the rows of largest importance (the
Hessian's top eigenvalue when training supplies it, weight variance here),
then PoT to the rows of smallest variance, the rest Fixed-W4.

The ratio is met exactly in every layer by largest remainders: each scheme
gets ``floor(ratio * n_rows)`` rows, and the rows left over go, one each,
to the schemes with the largest fractional parts (ties: the larger ratio).
"""

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from .base import FixedType, KitQuantizer, frac_bits_of, pow2_exponent
from .fixed import fixed_levels
from .pot import pot_levels

SCHEMES = ("pot4", "fixed4", "fixed8")
POT4, FIXED4, FIXED8 = range(3)
SCHEME_BITS = (4, 4, 8)


def row_counts(n_rows, ratio):
    """Rows per scheme, summing to ``n_rows``, by largest remainders."""
    ratio = np.asarray(ratio, np.float64)
    if ratio.shape != (3,) or (ratio < 0).any() or ratio.sum() <= 0:
        raise ValueError(f"row-wise ratio {tuple(ratio)} must be three non-negative shares (PoT4, Fixed4, Fixed8)")
    exact = ratio / ratio.sum() * n_rows
    counts = np.floor(exact).astype(int)
    order = sorted(range(3), key=lambda s: (-(exact[s] - counts[s]), -ratio[s], s))
    for s in order[: n_rows - counts.sum()]:
        counts[s] += 1
    return [int(c) for c in counts]


def _row_reduce(x):
    return [a for a in range(len(x.shape) - 1)]


def default_assignment(kernel, ratio, importance=None):
    """Scheme code per row: Fixed8 by importance, then PoT by smallest variance, the rest Fixed4."""
    kernel = tf.convert_to_tensor(kernel)
    n_rows = int(kernel.shape[-1])
    n_pot, _, n_f8 = row_counts(n_rows, ratio)
    variance = tf.math.reduce_variance(kernel, axis=_row_reduce(kernel))
    importance = variance if importance is None else tf.convert_to_tensor(importance, variance.dtype)
    codes = tf.fill([n_rows], FIXED4)
    top = tf.math.top_k(importance, k=n_f8).indices
    codes = tf.tensor_scatter_nd_update(codes, top[:, None], tf.fill([n_f8], FIXED8))
    candidates = tf.where(codes == FIXED8, tf.constant(np.inf, variance.dtype), variance)
    calm = tf.math.top_k(-candidates, k=n_pot).indices
    return tf.tensor_scatter_nd_update(codes, calm[:, None], tf.fill([n_pot], POT4))


class quantized_rowwise(KitQuantizer):  # noqa: N801 (QKeras naming)
    """Per output row one of PoT-W4, Fixed-W4, Fixed-W8, in the ratio ``ratio`` (percent).

    Attributes:
        ratio: the shares of the rows for PoT-W4, Fixed-W4 and Fixed-W8, non-negative, met exactly in every
            layer by largest remainders (default (65, 30, 5)).
        assignment: the scheme code of every output row (0 PoT-W4, 1 Fixed-W4, 2 Fixed-W8); None: Fixed-W8 to
            the rows of largest variance, then PoT-W4 to those of smallest, until ``assign`` sets it
            (default None).
        learnable_alpha: if true, every row learns its own clip, started at its largest weight (default False).
    """

    def __init__(
        self,
        ratio: Sequence[float] = (65, 30, 5),
        assignment: Sequence[int] | np.ndarray | None = None,
        learnable_alpha: bool = False,
    ) -> None:
        super().__init__()
        row_counts(1, ratio)  # validates
        self.ratio = tuple(float(r) for r in ratio)
        self.bits = 8
        self.keep_negative = True
        self.learnable_alpha = bool(learnable_alpha)
        self.row_alpha = None  # learnable: one clip per row, started at the row's peak on the first call
        self.assignment = None
        if assignment is not None:
            self._make_assignment(len(assignment), assignment)

    @staticmethod
    def _checked(values):
        values = [int(v) for v in np.asarray(values).reshape(-1)]
        if any(v not in (-1, POT4, FIXED4, FIXED8) for v in values):
            raise ValueError(f"quantized_rowwise: scheme codes must be 0 (PoT4), 1 (Fixed4) or 2 (Fixed8): {values}")
        return values

    def _make_assignment(self, n_rows, values=None):
        values = [-1] * n_rows if values is None else self._checked(values)
        with tf.init_scope():
            self.assignment = tf.Variable(values, dtype=tf.int32, trainable=False, name="row_schemes")

    def assign(self, codes):
        """Set the scheme of every row (0 PoT4, 1 Fixed4, 2 Fixed8)."""
        codes = self._checked(codes)
        if self.assignment is None:
            self._make_assignment(len(codes), codes)
        elif len(codes) != self.assignment.shape[0]:
            raise ValueError(f"quantized_rowwise: {len(codes)} codes for {self.assignment.shape[0]} rows")
        else:
            self.assignment.assign(codes)

    def row_codes(self, x):
        if self.assignment is None:
            self._make_assignment(int(x.shape[-1]))
        return tf.where(self.assignment >= 0, self.assignment, default_assignment(x, self.ratio))

    @staticmethod
    def _row_peak(x):
        return tf.stop_gradient(tf.maximum(tf.reduce_max(tf.abs(x), axis=_row_reduce(x)), 1e-30))

    @property
    def trainable_variables(self):
        return (self.row_alpha,) if self.row_alpha is not None else ()

    def _clip(self, x):
        """Per-row clip: the row's peak, or the learned one (hardware-exact steps either way)."""
        if not self.learnable_alpha:
            return self._row_peak(tf.convert_to_tensor(x))
        if self.row_alpha is None:
            with tf.init_scope():
                start = self._row_peak(x.read_value()) if isinstance(x, tf.Variable) else tf.ones([x.shape[-1]])
                self.row_alpha = tf.Variable(start, trainable=True, name="row_alpha")
        return tf.abs(self.row_alpha) + 1e-12

    @staticmethod
    def _step(peak, n_steps):
        return tf.pow(2.0, pow2_exponent(peak, n_steps))

    def __call__(self, x):
        peak = self._clip(x)
        x = tf.convert_to_tensor(x)
        codes = self.row_codes(x)
        pot = pot_levels(x, 4, self._step(peak, 1.0))
        fixed4 = fixed_levels(x, 4, self._step(peak, 7.0))
        fixed8 = fixed_levels(x, 8, self._step(peak, 127.0))
        return tf.where(codes == POT4, pot, tf.where(codes == FIXED4, fixed4, fixed8))

    def fixed_type(self, x):
        """One type for every row: from the largest row scale down to the finest step."""
        values = np.abs(self(tf.constant(x, tf.float32)).numpy())
        nonzero = values[values > 0]
        if nonzero.size == 0:
            return FixedType(2, 1)
        integer = int(np.floor(np.log2(nonzero.max()))) + 2  # sign, then up to the top bit
        frac = frac_bits_of(nonzero)
        return FixedType(integer + frac, integer)

    def max(self):
        return 1.0

    def min(self):
        return -1.0

    def __str__(self):
        return f"quantized_rowwise({self.ratio})"

    def get_config(self):
        assignment = None
        if self.assignment is not None and bool(tf.reduce_all(self.assignment >= 0)):
            assignment = [int(v) for v in self.assignment.numpy()]
        return {"ratio": list(self.ratio), "assignment": assignment, "learnable_alpha": self.learnable_alpha}
