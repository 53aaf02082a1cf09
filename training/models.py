"""Model builders in plain QKeras layers: an MLP, a small CNN, or a user's own function.

The quantization scheme decides the quantizers:

- ``term``: ``quantized_term`` kernels, ``quantized_data_term`` activations
  (one budget pair per resolution);
- ``onion``: ``quantized_onion`` kernels and activations (one precision per
  resolution);
- ``rowwise``: ``quantized_rowwise`` kernels, 4-bit fixed-point activations
  (a data-term quantizer that keeps every term: the A4 of
  docs/algorithms.md#row-wise-mixed-schemes);
- ``bitshare``: ``quantized_onion`` kernels (one precision per resolution)
  with the term scheme's data-term activations: the bit-sharing baseline;
- ``qkeras``: plain QKeras, ``quantized_bits`` (or ``quantized_po2``) kernels
  and ``quantized_relu`` activations, one resolution: the baseline that
  hls4ml converts with its own layers.

Batch normalization is switchable (one BN per resolution) whenever the
model has several resolutions.
"""

import importlib

import numpy as np
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_po2, quantized_relu

from .quantizers import quantized_data_term, quantized_onion, quantized_rowwise, quantized_term
from .switchable_bn import DEFAULT_SCALE_TERMS, SwitchableBatchNormalization


def weight_term_quantizer(q):
    return quantized_term(q.weight_bits, q.group_size, q.weight_budgets, q.encoding)


def data_term_quantizer(q):
    return quantized_data_term(q.activation_bits, q.activation_integer, q.data_budgets, q.encoding)


def bias_quantizer(q):
    # A plain QKeras fixed-point bias: step 2^(integer+1-bits), exact in hardware.
    return quantized_bits(q.bias_bits, q.bias_integer, alpha=1)


def kernel_quantizer(q):
    if q is None:
        return None
    if q.scheme in ("onion", "bitshare"):
        return quantized_onion(q.weight_bits, q.precisions)
    if q.scheme == "rowwise":
        return quantized_rowwise(tuple(q.ratio))
    if q.scheme == "qkeras":
        if q.qkeras_kernel == "quantized_po2":
            return quantized_po2(3, 1)  # small exponents: hls4ml's shift product keeps them exact
        return quantized_bits(q.weight_bits, 0, alpha=1)
    return weight_term_quantizer(q)


def activation_quantizer(q):
    if q.scheme == "onion":
        return quantized_onion(q.activation_bits, q.precisions, alpha=2.0**q.activation_integer, keep_negative=False)
    if q.scheme == "rowwise":
        return quantized_data_term(4, q.activation_integer, [5])
    if q.scheme == "qkeras":
        return quantized_relu(q.activation_bits, q.activation_integer)
    return data_term_quantizer(q)


def input_quantizer(q, grid):
    """The first layer's quantizer on the input grid (``training.data.InputGrid``); None: the activation's.

    A signed grid is sign and magnitude (``quantized_data_term(signed=True)``): the term schemes keep the
    data budgets' terms of the magnitude, the others every term (a plain symmetric fixed-point grid);
    ``qkeras`` uses QKeras's own ``quantized_bits`` (round half to even, saturating), hls4ml's layer.
    """
    if grid is None:
        return activation_quantizer(q)
    budgets = q.data_budgets if q.scheme in ("term", "bitshare") else [grid.bits + 1]
    if q.scheme == "qkeras":
        if grid.signed:
            return quantized_bits(grid.bits + 1, grid.integer, keep_negative=True, alpha=1)
        return quantized_relu(grid.bits, grid.integer)
    if q.scheme == "onion" and not grid.signed:
        return quantized_onion(grid.bits, q.precisions, alpha=2.0**grid.integer, keep_negative=False)
    return quantized_data_term(grid.bits, grid.integer, budgets, q.encoding, signed=grid.signed)


def scheme_input_bits(q):
    """The input grid's default magnitude bits: the scheme's activation width."""
    return 4 if q is not None and q.scheme == "rowwise" else 8 if q is None else q.activation_bits


def n_model_resolutions(q):
    if q is None:
        return 1
    return len(q.precisions) if q.scheme == "onion" else len(q.resolutions) if q.scheme in ("term", "bitshare") else 1


def activation(q, name):
    """The quantized activation, or for a float model (q None) a plain ReLU."""
    if q is None:
        return tf.keras.layers.Activation("relu", name=name)
    return QActivation(activation_quantizer(q), name=name)


def bias_or_none(q):
    return None if q is None else bias_quantizer(q)


def dense(units, q, name):
    """A QDense with the scheme's kernel and bias quantizers."""
    return QDense(units, kernel_quantizer=kernel_quantizer(q), bias_quantizer=bias_or_none(q), name=name)


def _input(input_shape):
    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    return tf.keras.Input(shape, name="features")


def input_layer(q, input_grid):
    """The first layer: the input put on its grid (for a float model, q None, the identity)."""
    if q is None:
        return tf.keras.layers.Activation("linear", name="input_terms")
    return QActivation(input_quantizer(q, input_grid), name="input_terms")


def build_mlp(input_shape, n_classes, hidden, quantization, seed=0, input_grid=None):
    """Input -> input grid -> [QDense -> activation] * len(hidden) -> QDense logits."""
    tf.keras.utils.set_random_seed(seed)
    x = _input(input_shape)
    h = tf.keras.layers.Flatten(name="flatten")(x) if len(x.shape) > 2 else x
    h = input_layer(quantization, input_grid)(h)
    for i, units in enumerate(hidden):
        h = dense(units, quantization, f"dense_{i}")(h)
        h = activation(quantization, f"terms_{i}")(h)
    return tf.keras.Model(x, dense(n_classes, quantization, "logits")(h), name="mlp")


def bn_scale_terms(q):
    """The switchable BN's scale terms (``quantization.bn_scale_terms``; a float model's BN keeps 16-bit scales)."""
    return None if q is None else getattr(q, "bn_scale_terms", DEFAULT_SCALE_TERMS)


def build_cnn(input_shape, n_classes, filters, quantization, seed=0, input_grid=None):
    """Input grid, then per block: QConv2D 3x3 -> switchable BN -> activation (ReLU) -> 2x2 max pooling;
    then a QDense."""
    tf.keras.utils.set_random_seed(seed)
    n_res = n_model_resolutions(quantization)
    x = _input(input_shape)
    h = input_layer(quantization, input_grid)(x)
    for i, n_filters in enumerate(filters):
        h = QConv2D(n_filters, 3, padding="same", kernel_quantizer=kernel_quantizer(quantization), use_bias=False,
                    name=f"conv_{i}")(h)  # fmt: skip
        h = SwitchableBatchNormalization(n_res, scale_terms=bn_scale_terms(quantization), name=f"bn_{i}")(h)
        h = activation(quantization, f"terms_{i}")(h)
        if min(h.shape[1:3]) >= 2:
            h = tf.keras.layers.MaxPooling2D(2, name=f"pool_{i}")(h)
    h = tf.keras.layers.Flatten(name="flatten")(h)
    return tf.keras.Model(x, dense(n_classes, quantization, "logits")(h), name="cnn")


def load_builder(spec):
    """``module:function`` -> the function."""
    module_name, sep, function_name = spec.partition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(f"model.builder {spec!r} must be 'module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"model.builder: cannot import {module_name!r}: {err}") from None
    if not callable(getattr(module, function_name, None)):
        raise ValueError(f"model.builder: {module_name!r} has no function {function_name!r}")
    return getattr(module, function_name)


def build_model(model_config, input_shape, n_classes, quantization, seed=0, input_grid=None):
    """The configured model. A custom builder is called as ``f(input_shape, n_classes, quantization)``
    and makes its own input layer (``input_grid`` is for the kit's MLP and CNN)."""
    if model_config.kind == "mlp":
        return build_mlp(input_shape, n_classes, model_config.hidden, quantization, seed, input_grid)
    if model_config.kind == "cnn":
        return build_cnn(input_shape, n_classes, model_config.filters, quantization, seed, input_grid)
    tf.keras.utils.set_random_seed(seed)
    model = load_builder(model_config.builder)(tuple(input_shape), n_classes, quantization)
    if not isinstance(model, tf.keras.Model):
        raise ValueError(f"model.builder {model_config.builder!r} returned {type(model).__name__}, not a Keras Model")
    return model


def model_input(model, x):
    """``x`` (one flat row per sample) shaped as the model's input."""
    return np.reshape(x, (len(x), *model.input_shape[1:]))
