"""Switchable batch normalization (docs/algorithms.md#switchable-batch-normalization): one BN per resolution,
nothing else per resolution.

The layer holds one ``BatchNormalization`` per resolution and a
non-trainable resolution index, the same switch as the quantizers':
``set_resolution(model, r)`` reaches it too, and a compiled graph only runs
(and only updates the statistics of) the selected branch.

Hardware-exact inference (the default): outside training the selected BN is
folded into ``y = x * s + t`` per channel, with ``s`` and ``t`` rounded to
``FOLD_BITS``-bit codes on power-of-two steps, and computed in float64
(exact for the kit's activations), so the HLS scale/shift tables give the
same values bit for bit.

``scale_terms``: None keeps each scale a 16-bit code (the hardware
multiplies); an integer ``K`` keeps each channel's scale to at most ``K``
signed powers of two on that code's grid (``round_to_terms``), so the
hardware adds ``K`` shifted copies of the value and needs no multiplier. The
shift is then folded from the rounded scale. Training sees the rounding: the
batch statistics' scale is rounded the same way, straight through.
"""

import tensorflow as tf

from .quantizers.base import exact_pow2, pow2_exponent

FOLD_BITS = 16
# A run configuration's quantization.bn_scale_terms when not given: 16-bit scales, multiplied, until the term
# form's hardware (shift-adds, no DSP48E1) is built and measured against them.
DEFAULT_SCALE_TERMS = None
MAX_SCALE_TERMS = FOLD_BITS  # every 16-bit code is a sum of at most 16 signed powers of two


def _grid_step(values, bits):
    """The smallest power-of-two step on which ``bits``-bit signed codes hold the largest magnitude."""
    peak = tf.maximum(tf.reduce_max(tf.abs(values)), 1e-30)
    return _pow2(pow2_exponent(peak, 2.0 ** (bits - 1) - 1), values.dtype)


def _pow2(exponent, dtype):
    # pow2_exponent's value is an integer up to the straight-through sum's rounding: round it, no gradient.
    return exact_pow2(tf.round(tf.stop_gradient(exponent)), dtype)


def fold_to_grid(values, bits=FOLD_BITS):
    """Round to ``bits``-bit signed codes on the smallest power-of-two step that holds the largest value."""
    values = tf.cast(values, tf.float64)
    step = _grid_step(values, bits)
    return tf.round(values / step) * step


def round_to_terms(values, terms, bits=FOLD_BITS):
    """Each value as at most ``terms`` signed powers of two on the grid of ``fold_to_grid``: its code's nearest
    power of two, then the remainder's, ``terms`` times (a tie goes to the smaller power). In the dtype of
    ``values``; no gradient."""
    values = tf.stop_gradient(tf.convert_to_tensor(values))
    step = _grid_step(values, bits)
    rest = tf.round(values / step)
    kept = tf.zeros_like(rest)
    for _ in range(terms):
        magnitude = tf.abs(rest)
        # The smallest power of two at or above the magnitude, and the one below it.
        upper = _pow2(pow2_exponent(tf.maximum(magnitude, 1.0), 1.0), values.dtype)
        term = tf.where(magnitude > 0.75 * upper, upper, upper / 2)
        term = tf.where(magnitude > 0, tf.sign(rest) * term, tf.zeros_like(rest))
        kept, rest = kept + term, rest - term
    return kept * step


def check_scale_terms(scale_terms, what="scale_terms"):
    """None, or the number of terms as an int in 1..MAX_SCALE_TERMS; a ValueError naming ``what`` otherwise."""
    if scale_terms is None:
        return None
    if isinstance(scale_terms, bool) or int(scale_terms) != scale_terms or not 1 <= scale_terms <= MAX_SCALE_TERMS:
        raise ValueError(
            f"{what}: {scale_terms!r} must be null (16-bit scales, multipliers) or a number of terms "
            f"1..{MAX_SCALE_TERMS}"
        )
    return int(scale_terms)


@tf.keras.utils.register_keras_serializable(package="mrfpga")
class SwitchableBatchNormalization(tf.keras.layers.Layer):
    def __init__(self, n_resolutions, momentum=0.99, epsilon=1e-3, hardware_exact=True, scale_terms=None, **kwargs):
        super().__init__(**kwargs)
        self.hardware_exact = bool(hardware_exact)
        if int(n_resolutions) < 1:
            raise ValueError(f"SwitchableBatchNormalization: n_resolutions {n_resolutions} must be at least 1")
        self.n_resolutions = int(n_resolutions)
        # None (a saved model from before the key): 16-bit scales, as then.
        self.scale_terms = check_scale_terms(scale_terms, "SwitchableBatchNormalization: scale_terms")
        self.momentum = momentum
        self.epsilon = epsilon
        self.norms = [
            tf.keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon, name=f"bn_{r}")
            for r in range(self.n_resolutions)
        ]

    # The same protocol as the multi-resolution quantizers.
    is_multi_resolution = True

    def set_resolution(self, index):
        if not 0 <= int(index) < self.n_resolutions:
            raise ValueError(f"resolution {index} out of range 0..{self.n_resolutions - 1}")
        self.resolution.assign(int(index))

    def build(self, input_shape):
        # Scoped names: the per-resolution weights must not collide in an .h5 file.
        self.resolution = self.add_weight(
            name="resolution",
            shape=(),
            dtype=tf.int32,
            trainable=False,
            initializer=tf.keras.initializers.Constant(self.n_resolutions - 1),
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
        for norm in self.norms:
            with tf.name_scope(norm.name):
                norm.build(input_shape)
        super().build(input_shape)

    def round_scale(self, scale):
        """The scale as the hardware holds it: a 16-bit code, or at most ``scale_terms`` powers of two."""
        return fold_to_grid(scale) if self.scale_terms is None else round_to_terms(scale, self.scale_terms)

    def folded(self):
        """The selected resolution's (scale, shift) per channel, on their power-of-two grids (float64)."""

        def stacked(name):
            return tf.gather(tf.stack([getattr(n, name) for n in self.norms]), self.resolution)

        scale = tf.cast(stacked("gamma"), tf.float64) / tf.sqrt(
            tf.cast(stacked("moving_variance"), tf.float64) + self.epsilon
        )
        rounded = self.round_scale(scale)
        # 16-bit scales keep their original fold (saved models behave as before); a term scale is coarse, so
        # the shift is folded from the rounded scale: the channel's mean still maps to beta.
        applied = scale if self.scale_terms is None else rounded
        shift = tf.cast(stacked("beta"), tf.float64) - tf.cast(stacked("moving_mean"), tf.float64) * applied
        return rounded, fold_to_grid(shift)

    def _branch(self, norm, x, training):
        y = norm(x, training=training)
        if self.scale_terms is None:
            return y
        # The rounding of the scale, straight through: y's scale becomes round_to_terms of it.
        if training:
            mean, variance = tf.nn.moments(x, axes=list(range(len(x.shape) - 1)))
        else:
            mean, variance = norm.moving_mean, norm.moving_variance
        scale = norm.gamma * tf.math.rsqrt(variance + self.epsilon)
        return y + (x - mean) * tf.stop_gradient(round_to_terms(scale, self.scale_terms) - scale)

    def call(self, x, training=None):
        if training or not self.hardware_exact:
            branches = [lambda norm=norm: self._branch(norm, x, training) for norm in self.norms]
            return tf.switch_case(tf.convert_to_tensor(self.resolution), branches)
        return tf.cast(self.apply_folded(tf.cast(x, tf.float64)), x.dtype)

    def apply_folded(self, x):
        scale, shift = self.folded()
        return x * scale + shift

    def get_config(self):
        return {**super().get_config(), "n_resolutions": self.n_resolutions, "momentum": self.momentum,
                "epsilon": self.epsilon, "hardware_exact": self.hardware_exact,
                "scale_terms": self.scale_terms}  # fmt: skip


def calibrate_switchable_bn(model, x, batch_size=256):
    """Set every switchable BN's statistics, at every resolution, to those of its input over ``x``.

    A multi-resolution step updates only the teacher's and one student's branch, so a student branch sees
    about 1/(n - 1) of the steps: with momentum 0.99 its moving averages are still far from the data after
    a short training (20 epochs of digits: about half way from their initial 0 and 1), and even a branch
    updated every step lags its changing weights. After training, every model of the kit with switchable
    BN (one resolution or several, so that the baselines are treated alike) gets the population mean and
    (biased) variance of each branch's input over the training set, layer by layer in order, the earlier
    layers at inference (their calibrated, folded BN). Affine parameters are untouched.
    """
    from .resolution import n_resolutions, set_resolution

    layers = [layer for layer in model.layers if isinstance(layer, SwitchableBatchNormalization)]
    if not layers:
        return
    for r in range(n_resolutions(model)):
        set_resolution(model, r)
        for layer in layers:
            probe = tf.keras.Model(model.inputs, layer.input)
            h = probe.predict(x, batch_size=batch_size, verbose=0).astype("float64")
            axes = tuple(range(h.ndim - 1))
            layer.norms[r].moving_mean.assign(h.mean(axis=axes))
            layer.norms[r].moving_variance.assign(h.var(axis=axes))
