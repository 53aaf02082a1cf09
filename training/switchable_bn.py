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
same values bit for bit. Training uses plain batch statistics.
"""

import tensorflow as tf

from .quantizers.base import pow2_exponent

FOLD_BITS = 16


def fold_to_grid(values, bits=FOLD_BITS):
    """Round to ``bits``-bit signed codes on the smallest power-of-two step that holds the largest value."""
    values = tf.cast(values, tf.float64)
    peak = tf.maximum(tf.reduce_max(tf.abs(values)), 1e-30)
    step = tf.pow(tf.constant(2.0, tf.float64), tf.stop_gradient(pow2_exponent(peak, 2.0 ** (bits - 1) - 1)))
    return tf.round(values / step) * step


@tf.keras.utils.register_keras_serializable(package="mrfpga")
class SwitchableBatchNormalization(tf.keras.layers.Layer):
    def __init__(self, n_resolutions, momentum=0.99, epsilon=1e-3, hardware_exact=True, **kwargs):
        super().__init__(**kwargs)
        self.hardware_exact = bool(hardware_exact)
        if int(n_resolutions) < 1:
            raise ValueError(f"SwitchableBatchNormalization: n_resolutions {n_resolutions} must be at least 1")
        self.n_resolutions = int(n_resolutions)
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

    def folded(self):
        """The selected resolution's (scale, shift) per channel, on their power-of-two grids (float64)."""

        def stacked(name):
            return tf.gather(tf.stack([getattr(n, name) for n in self.norms]), self.resolution)

        scale = tf.cast(stacked("gamma"), tf.float64) / tf.sqrt(
            tf.cast(stacked("moving_variance"), tf.float64) + self.epsilon
        )
        shift = tf.cast(stacked("beta"), tf.float64) - tf.cast(stacked("moving_mean"), tf.float64) * scale
        return fold_to_grid(scale), fold_to_grid(shift)

    def call(self, x, training=None):
        if training or not self.hardware_exact:
            branches = [lambda norm=norm: norm(x, training=training) for norm in self.norms]
            return tf.switch_case(tf.convert_to_tensor(self.resolution), branches)
        return tf.cast(self.apply_folded(tf.cast(x, tf.float64)), x.dtype)

    def apply_folded(self, x):
        scale, shift = self.folded()
        return x * scale + shift

    def get_config(self):
        return {**super().get_config(), "n_resolutions": self.n_resolutions, "momentum": self.momentum,
                "epsilon": self.epsilon, "hardware_exact": self.hardware_exact}  # fmt: skip


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
