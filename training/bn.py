"""Switchable batch normalization (SPEC section 2): one BN per resolution, nothing else per resolution.

The layer holds one ``BatchNormalization`` per resolution and a
non-trainable resolution index, the same switch as the quantizers':
``set_resolution(model, r)`` reaches it too, and a compiled graph only runs
(and only updates the statistics of) the selected branch.
"""

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="mrfpga")
class SwitchableBatchNormalization(tf.keras.layers.Layer):
    def __init__(self, n_resolutions, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
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

    def call(self, x, training=None):
        branches = [lambda norm=norm: norm(x, training=training) for norm in self.norms]
        return tf.switch_case(tf.convert_to_tensor(self.resolution), branches)

    def get_config(self):
        return {**super().get_config(), "n_resolutions": self.n_resolutions, "momentum": self.momentum,
                "epsilon": self.epsilon}  # fmt: skip
