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
from qkeras import QActivation, QConv2D, QDense, QDepthwiseConv2D

from mrfpga.training.errors import ConversionError
from mrfpga.training.switchable_bn import SwitchableBatchNormalization


def _quantized(quantizer, value):
    # Weights are quantized in float32 exactly as Keras does, then widened.
    if quantizer is None:
        return np.asarray(value, np.float64)
    return quantizer(tf.constant(value, tf.float32)).numpy().astype(np.float64)


def _linear(layer, h):
    if isinstance(layer, QDense):
        out = tf.matmul(h, _quantized(layer.kernel_quantizer_internal, layer.kernel.numpy()))
    elif isinstance(layer, QDepthwiseConv2D):
        kernel = _quantized(layer.depthwise_quantizer_internal, layer.depthwise_kernel.numpy())
        out = tf.nn.depthwise_conv2d(
            h, kernel, (1, *layer.strides, 1), layer.padding.upper(), dilations=layer.dilation_rate
        )
    else:
        kernel = _quantized(layer.kernel_quantizer_internal, layer.kernel.numpy())
        out = tf.nn.convolution(h, kernel, layer.strides, layer.padding.upper(), dilations=layer.dilation_rate)
    if layer.use_bias:
        out = out + _quantized(layer.bias_quantizer_internal, layer.bias.numpy())
    if layer.activation not in (None, tf.keras.activations.linear):
        raise ConversionError(f"layer {layer.name}: the exact reference needs activations in their own QActivation")
    return out


def _layer(layer, h):
    if isinstance(layer, QActivation):
        # QKeras's own quantizers may answer in float32 (exact: their grids are narrow); keep float64.
        return tf.cast(layer.quantizer(h), tf.float64)
    if isinstance(layer, (QDense, QConv2D, QDepthwiseConv2D)):
        return _linear(layer, h)
    if isinstance(layer, SwitchableBatchNormalization) and layer.hardware_exact:
        return layer.apply_folded(h)  # float64 all the way: no rounding back to float32
    if isinstance(layer, tf.keras.layers.Flatten):
        return tf.reshape(h, (tf.shape(h)[0], -1))
    if isinstance(layer, tf.keras.layers.MaxPooling2D):
        return tf.nn.max_pool2d(h, layer.pool_size, layer.strides, layer.padding.upper())
    raise ConversionError(f"layer {layer.name} ({type(layer).__name__}) is not supported by the exact reference")


def exact_forward(model, x):
    """Logits of ``model`` at its current resolution, in float64 without rounding (a chain of layers)."""
    h = tf.constant(np.asarray(x, np.float64))
    for layer in model.layers:
        if not isinstance(layer, tf.keras.layers.InputLayer):
            h = _layer(layer, h)
    return h.numpy()
