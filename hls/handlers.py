"""Keras-to-hls4ml handlers for QKeras layers that use the kit's quantizers.

hls4ml already handles ``QDense`` and ``QActivation``; the kit's handlers
take a layer only when its quantizer is one of ours and hand every other
layer to hls4ml's original handler.
"""

import numpy as np
import tensorflow as tf
from hls4ml.converters.keras_v2_to_hls import get_weights_data, parse_default_keras_layer
from qkeras.quantizers import get_quantizer

from mrfpga.training.quantizers import quantized_data_term, quantized_term

MAX_BIAS_FRAC = 32


def _quantizer_class(keras_layer, key):
    config = keras_layer["config"].get(key)
    return config.get("class_name") if isinstance(config, dict) else None


def _dyadic_frac_bits(values, what):
    """Smallest number of fraction bits that holds every value exactly."""
    for frac in range(MAX_BIAS_FRAC + 1):
        scaled = values * 2.0**frac
        if np.array_equal(scaled, np.round(scaled)):
            return frac
    raise ValueError(f"{what} is not on a fixed-point grid; give the layer a fixed-point bias_quantizer")


def _parse_default(keras_layer, input_names):
    layer = parse_default_keras_layer(keras_layer, input_names)
    # hls4ml appends an activation layer after any layer with an 'activation' key.
    layer.pop("activation", None)
    return layer


def parse_term_dense(keras_layer, input_names, input_shapes, data_reader):
    config = keras_layer["config"]
    name = config["name"]
    if config.get("activation") not in (None, "linear"):
        raise ValueError(f"layer {name}: put the activation in a QActivation; an mMAC Dense computes no activation")
    quantizer = quantized_term(**config["kernel_quantizer"]["config"])
    kernel, bias = get_weights_data(data_reader, name, ["kernel", "bias"])
    kernel_t = tf.constant(kernel, tf.float32)
    magnitudes, _ = quantizer.magnitudes(kernel_t)
    if bias is None:
        bias = np.zeros(kernel.shape[1], np.float32)
    elif config.get("bias_quantizer") is not None:
        bias = get_quantizer(config["bias_quantizer"])(tf.constant(bias)).numpy()
    bias = bias.astype(np.float64)
    layer = _parse_default(keras_layer, input_names)
    layer.update(
        class_name="MMACDense",
        n_in=int(kernel.shape[0]),
        n_out=int(kernel.shape[1]),
        weight_bits=quantizer.bits,
        group_size=quantizer.group_size,
        encoding=quantizer.encoding,
        weight_budgets=list(quantizer.budgets),
        weight_magnitudes=magnitudes.numpy().astype(np.int64),
        weight_signs=np.sign(kernel).astype(np.int64),
        scale_exponent=int(quantizer.scale_exponent(kernel_t).numpy()),
        bias_values=bias,
        bias_frac=_dyadic_frac_bits(bias, f"bias of layer {name}"),
    )
    return layer, [input_shapes[0][0], int(kernel.shape[1])]


def parse_data_term(keras_layer, input_names, input_shapes, data_reader):
    quantizer = quantized_data_term(**keras_layer["config"]["activation"]["config"])
    layer = _parse_default(keras_layer, input_names)
    layer.update(
        class_name="DataTerm",
        bits=quantizer.bits,
        integer=quantizer.integer,
        budgets=list(quantizer.budgets),
        encoding=quantizer.encoding,
        naf=quantizer.encoding == "naf",
    )
    return layer, list(input_shapes[0])


# Keras class -> (config key of the quantizer, our quantizer's class, our handler)
OVERRIDES = {
    "QDense": ("kernel_quantizer", "quantized_term", parse_term_dense),
    "QActivation": ("activation", "quantized_data_term", parse_data_term),
}


def dispatching_handler(keras_class, original):
    key, our_class, ours = OVERRIDES[keras_class]

    def handler(keras_layer, input_names, input_shapes, data_reader):
        if _quantizer_class(keras_layer, key) == our_class:
            return ours(keras_layer, input_names, input_shapes, data_reader)
        return original(keras_layer, input_names, input_shapes, data_reader)

    handler.mrfpga_original = original
    return handler
