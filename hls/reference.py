"""Exact (float64) reference of a quantized Keras model's forward pass.

Keras sums in float32. Every product of a quantized weight and a quantized
activation is exact, but a float32 sum is exact only while the accumulator
stays below 2^24 steps of its grid (the grid is 2^(scale - data_frac), see
``MMACDense``); wide layers can pass that and round. This reference repeats
the forward pass with the same quantized weights in float64, where the sums
of the kit's layers are exact (the converter refuses accumulators past 52
bits), so C-simulation outputs can be compared with ``==``.
"""

import numpy as np
import tensorflow as tf
from qkeras import QActivation, QDense


def _quantized(quantizer, value):
    # Weights are quantized in float32 exactly as Keras does, then widened.
    if quantizer is None:
        return np.asarray(value, np.float64)
    return quantizer(tf.constant(value, tf.float32)).numpy().astype(np.float64)


def exact_forward(model, x):
    """Logits of ``model`` at its current resolution, in float64 without rounding."""
    h = tf.constant(np.asarray(x, np.float64))
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.InputLayer):
            continue
        if isinstance(layer, QActivation):
            h = layer.quantizer(h)
        elif isinstance(layer, QDense):
            kernel = _quantized(layer.kernel_quantizer_internal, layer.kernel.numpy())
            h = tf.matmul(h, kernel)
            if layer.use_bias:
                h = h + _quantized(layer.bias_quantizer_internal, layer.bias.numpy())
            if layer.activation not in (None, tf.keras.activations.linear):
                raise ValueError(f"layer {layer.name}: the exact reference supports linear QDense only")
        else:
            raise ValueError(f"layer {layer.name} ({type(layer).__name__}) is not supported by the exact reference")
    return h.numpy()
