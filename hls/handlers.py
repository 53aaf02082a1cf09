"""Keras-to-hls4ml handlers for QKeras layers that use the kit's quantizers.

hls4ml already handles ``QDense``, ``QConv2D`` and ``QActivation``; the kit's
handlers take a layer only when its quantizer is one of ours and hand every
other layer to hls4ml's original handler:

- term kernels -> ``MMACDense`` (term pairs, or shifts of the activation);
- power-of-two kernels -> ``MMACDense`` with one term per weight (shifts);
- onion kernels -> ``MMACDense`` over the binary terms of the full code, each
  resolution dropping the terms below its precision (truncation of the shared code);
- fixed-point kernels -> hls4ml's own layer, with our exact weight type;
- ``quantized_data_term`` activations -> ``DataTerm`` (``SignedDataTerm`` when signed); onion activations ->
  ``DataTerm`` that keeps the top ``p`` bits of the code at precision ``p``.
"""

import numpy as np
import tensorflow as tf
from hls4ml.converters.keras_v2_to_hls import get_layer_handlers, get_weights_data, parse_default_keras_layer
from hls4ml.model.quantizers import Quantizer
from hls4ml.model.types import FixedPrecisionType
from qkeras.quantizers import get_quantizer

from mrfpga.training.base import frac_bits_of
from mrfpga.training.errors import ConversionError
from mrfpga.training.quantizers import QUANTIZERS

MAX_BIAS_FRAC = 32
TERM_KERNELS = ("quantized_term", "quantized_pot", "quantized_onion")
# Onion weights have no term budget; a group only sets how many weights one term-serial unit walks.
ONION_GROUP_SIZE = 8


class KitQuantizer(Quantizer):
    """An hls4ml Quantizer around one of the kit's quantizers, typed exactly for the data it quantizes."""

    def __init__(self, quantizer, data):
        self.quantizer = quantizer
        t = quantizer.fixed_type(np.asarray(data, np.float32))
        super().__init__(quantizer.bits, FixedPrecisionType(width=t.width, integer=t.integer, signed=t.signed))

    def __call__(self, data):
        return self.quantizer(tf.constant(np.asarray(data, np.float32))).numpy()


LIVE_ATTRIBUTES = {
    "kernel_quantizer": "kernel_quantizer_internal",
    "bias_quantizer": "bias_quantizer_internal",
    "depthwise_quantizer": "depthwise_quantizer_internal",
    "activation": "quantizer",
}


def _quantizer(keras_layer, key, data_reader=None):
    """The kit's quantizer of a layer, or None.

    From the live Keras layer when the reader has the model: learned state
    (a trained alpha, a row assignment) lives there, not in the config.
    """
    config = keras_layer["config"].get(key)
    if not (isinstance(config, dict) and config.get("class_name") in QUANTIZERS):
        return None
    model = getattr(data_reader, "model", None)
    if model is not None:
        live = getattr(model.get_layer(keras_layer["config"]["name"]), LIVE_ATTRIBUTES[key], None)
        if type(live).__name__ == config["class_name"]:
            return live
    return QUANTIZERS[config["class_name"]].from_config(config["config"])


def _parse_default(keras_layer, input_names):
    layer = parse_default_keras_layer(keras_layer, input_names)
    # hls4ml appends an activation layer after any layer with an 'activation' key.
    layer.pop("activation", None)
    return layer


def _term_layer(keras_layer, kernel, bias, data_reader, kind):
    """What every mMAC layer reads from its Keras layer: the kernel's term view and the exact bias."""
    config = keras_layer["config"]
    name = config["name"]
    if config.get("activation") not in (None, "linear"):
        raise ConversionError(
            f"layer {name}: put the activation in a QActivation; an mMAC {kind} computes no activation"
        )
    return {
        "n_out": int(kernel.shape[-1]),
        "weight_signs": np.sign(kernel).astype(np.int64),
        **exact_bias(keras_layer, bias, int(kernel.shape[-1]), data_reader),
        **kernel_terms(_quantizer(keras_layer, "kernel_quantizer", data_reader), kernel),
    }


def exact_bias(keras_layer, bias, n_out, data_reader):
    """The quantized bias (zeros without one) in float64 and the fraction bits that hold it exactly."""
    config = keras_layer["config"]
    if bias is None:
        bias = np.zeros(n_out, np.float32)
    elif config.get("bias_quantizer") is not None:
        quantizer = _quantizer(keras_layer, "bias_quantizer", data_reader) or get_quantizer(config["bias_quantizer"])
        bias = quantizer(tf.constant(bias)).numpy()
    bias = bias.astype(np.float64)
    bias_frac = frac_bits_of(bias, highest=MAX_BIAS_FRAC)
    if bias_frac is None:
        name = config["name"]
        raise ConversionError(
            f"bias of layer {name} is not on a fixed-point grid; give it a fixed-point bias_quantizer"
        )
    return {"bias_values": bias, "bias_frac": bias_frac}


def kernel_terms(quantizer, kernel):
    """The integer term view of a quantized kernel: value = sign * 2^scale_exponent * T(magnitude)."""
    x = tf.constant(kernel, tf.float32)
    if quantizer.__class__.__name__ == "quantized_onion":
        return onion_terms(quantizer, x)
    if quantizer.__class__.__name__ == "quantized_term":
        magnitudes, _ = quantizer.magnitudes(x)
        return {
            "weight_magnitudes": magnitudes.numpy().astype(np.int64),
            "scale_exponent": int(quantizer.scale_exponent(x).numpy()),
            "weight_bits": quantizer.bits,
            "group_size": quantizer.group_size,
            "encoding": quantizer.encoding,
            "weight_budgets": list(quantizer.budgets),
        }
    # Power of two: one term per weight, each product a single shift.
    low, _ = quantizer.exponent_range()
    scale_exponent = int(quantizer.clip.step_exponent(x, 1).numpy()) + low
    magnitudes = np.abs(quantizer(x).numpy()) * 2.0**-scale_exponent
    if not np.array_equal(magnitudes, np.round(magnitudes)):
        raise ConversionError("power-of-two kernel is not on its level set; use hardware_exact=True")
    return {
        "weight_magnitudes": magnitudes.astype(np.int64),
        "scale_exponent": scale_exponent,
        "weight_bits": -low,
        "group_size": 1,
        "encoding": "binary",
        "weight_budgets": [1],
    }


def onion_terms(quantizer, x):
    """The full code's binary terms; precision p keeps the exponents >= bits - p (the code's top p bits)."""
    codes, _ = quantizer.codes(x)
    return {
        "weight_magnitudes": np.round(np.abs(codes.numpy())).astype(np.int64),
        "scale_exponent": int(quantizer.clip.step_exponent(x, quantizer.n_steps).numpy()),
        "weight_bits": quantizer.bits,
        "group_size": ONION_GROUP_SIZE,
        "encoding": "binary",
        "weight_budgets": [quantizer.magnitude_bits * ONION_GROUP_SIZE] * quantizer.n_resolutions,
        "weight_floors": [quantizer.bits - p for p in quantizer.precisions],
    }


def parse_term_dense(keras_layer, input_names, input_shapes, data_reader):
    kernel, bias = get_weights_data(data_reader, keras_layer["config"]["name"], ["kernel", "bias"])
    layer = _parse_default(keras_layer, input_names)
    layer.update(class_name="MMACDense", n_in=int(kernel.shape[0]))
    layer.update(_term_layer(keras_layer, kernel, bias, data_reader, "Dense"))
    return layer, [input_shapes[0][0], int(kernel.shape[1])]


def parse_term_conv2d(keras_layer, input_names, input_shapes, data_reader):
    from hls4ml.converters.keras.convolution import parse_conv2d_layer

    config = keras_layer["config"]
    channels_last = config.get("data_format", "channels_last") == "channels_last"
    if not channels_last or tuple(config.get("dilation_rate", (1, 1))) != (1, 1):
        raise ConversionError(f"layer {config['name']}: the mMAC Conv2D supports channels_last, undilated convolutions")
    layer, output_shape = parse_conv2d_layer(keras_layer, input_names, input_shapes, data_reader)
    layer.pop("activation", None)
    kernel, bias = layer.pop("weight_data"), layer.pop("bias_data")
    layer["class_name"] = "MMACConv2D"
    layer.update(_term_layer(keras_layer, kernel, bias, data_reader, "Conv2D"))
    return layer, output_shape


def parse_switchable_bn(keras_layer, input_names, input_shapes, data_reader):
    """The folded (scale, shift) of every resolution, read from the live layer."""
    name = keras_layer["config"]["name"]
    model = getattr(data_reader, "model", None)
    if model is None:
        raise ConversionError(f"layer {name}: converting a switchable batch norm needs the Keras model object")
    live = model.get_layer(name)
    if not live.hardware_exact:
        raise ConversionError(f"layer {name}: set hardware_exact=True to convert a switchable batch norm")
    current = int(live.resolution.numpy())
    folds = []
    for r in range(live.n_resolutions):
        live.resolution.assign(r)
        folds.append([v.numpy() for v in live.folded()])
    live.resolution.assign(current)
    layer = _parse_default(keras_layer, input_names)
    layer.update(
        class_name="SwitchableScaleShift",
        n_chan=int(input_shapes[0][-1]),
        scales=np.stack([s for s, _ in folds]),
        shifts=np.stack([t for _, t in folds]),
    )
    return layer, list(input_shapes[0])


def _data_term_layer(keras_layer, input_names, input_shapes, **attributes):
    layer = _parse_default(keras_layer, input_names)
    layer.update(class_name="DataTerm", **attributes)
    return layer, list(input_shapes[0])


def parse_data_term(keras_layer, input_names, input_shapes, data_reader):
    quantizer = _quantizer(keras_layer, "activation", data_reader)
    if quantizer.signed:  # a signed input grid: sign and magnitude (signed_input.SignedDataTerm)
        layer = _parse_default(keras_layer, input_names)
        layer.update(class_name="SignedDataTerm", bits=quantizer.bits, integer=quantizer.integer,
                     budgets=list(quantizer.budgets), encoding=quantizer.encoding)  # fmt: skip
        return layer, list(input_shapes[0])
    return _data_term_layer(
        keras_layer, input_names, input_shapes,
        bits=quantizer.bits,
        integer=quantizer.integer_bits,  # a learned clip moves the grid
        budgets=list(quantizer.budgets),
        encoding=quantizer.encoding,
    )  # fmt: skip


def parse_onion_activation(keras_layer, input_names, input_shapes, data_reader):
    """An unsigned onion code: round half to even onto the grid, then keep its top ``p`` bits."""
    quantizer = _quantizer(keras_layer, "activation", data_reader)
    name = keras_layer["config"]["name"]
    if quantizer.keep_negative:
        raise ConversionError(f"layer {name}: an onion activation must be unsigned (keep_negative=False)")
    return _data_term_layer(
        keras_layer, input_names, input_shapes,
        bits=quantizer.bits,
        integer=quantizer.fixed_type(np.zeros(1, np.float32)).integer,
        budgets=quantizer.precisions,  # a p-bit code has at most p binary terms
        encoding="binary",
        floors=[quantizer.bits - p for p in quantizer.precisions],
        round_half_even=True,  # tf.round
    )  # fmt: skip


def with_exact_types(original):
    """hls4ml's own handler, with our quantizers swapped for exactly typed hls4ml ones."""

    def handler(keras_layer, input_names, input_shapes, data_reader):
        layer, shape = original(keras_layer, input_names, input_shapes, data_reader)
        name = keras_layer["config"]["name"]
        for key, weight in (("kernel_quantizer", "kernel"), ("depthwise_quantizer", "depthwise_kernel")):
            quantizer = _quantizer(keras_layer, key, data_reader)
            if quantizer is not None:
                target = "weight_quantizer" if key == "kernel_quantizer" else "depthwise_quantizer"
                layer[target] = KitQuantizer(quantizer, get_weights_data(data_reader, name, weight))
        quantizer = _quantizer(keras_layer, "bias_quantizer", data_reader)
        if quantizer is not None:
            layer["bias_quantizer"] = KitQuantizer(quantizer, get_weights_data(data_reader, name, "bias"))
        return layer, shape

    return handler


def _kernel_class(keras_layer):
    for key in ("kernel_quantizer", "depthwise_quantizer"):
        config = keras_layer["config"].get(key)
        if isinstance(config, dict):
            return config.get("class_name")
    return None


def _activation_class(keras_layer):
    config = keras_layer["config"].get("activation")
    return config.get("class_name") if isinstance(config, dict) else None


OVERRIDES = ("QDense", "QConv1D", "QConv2D", "QDepthwiseConv2D", "QActivation")
KIT_PREFIX = "Mrfpga"
# The class names the kit's conversion gives the QKeras layers that use its quantizers, and their own.
KIT_CLASSES = {KIT_PREFIX + keras_class: keras_class for keras_class in OVERRIDES}


def uses_kit_quantizer(keras_layer):
    config = keras_layer["config"]
    return any(
        isinstance(config.get(key), dict) and config[key].get("class_name") in QUANTIZERS
        for key in ("kernel_quantizer", "depthwise_quantizer", "bias_quantizer", "activation")
    )


def mark_kit_layers(model_arch):
    """Give every QKeras layer that uses a kit quantizer its kit class name, so that only the kit's
    handlers see it; every other layer goes through hls4ml's own handlers, untouched."""
    for layer in model_arch["config"]["layers"]:
        if layer["class_name"] in OVERRIDES and uses_kit_quantizer(layer):
            layer["class_name"] = KIT_PREFIX + layer["class_name"]


def kit_handler(keras_class):
    """The handler of a QKeras layer that uses a kit quantizer (its class name marked by ``mark_kit_layers``)."""

    def handler(keras_layer, input_names, input_shapes, data_reader):
        keras_layer = {**keras_layer, "class_name": keras_class}  # hls4ml's parsers read the QKeras name
        name = keras_layer["config"]["name"]
        kernel = _kernel_class(keras_layer)
        if keras_class == "QActivation":
            activation = _activation_class(keras_layer)
            if activation == "quantized_data_term":
                return parse_data_term(keras_layer, input_names, input_shapes, data_reader)
            if activation == "quantized_onion":
                return parse_onion_activation(keras_layer, input_names, input_shapes, data_reader)
            raise ConversionError(f"layer {name}: {activation} as an activation has no HLS layer yet")
        if kernel == "quantized_rowwise" and keras_class in ("QDense", "QConv2D"):
            from .rowwise_handlers import parse_rowwise  # it imports this module

            return parse_rowwise(keras_class, keras_layer, input_names, input_shapes, data_reader)
        if keras_class == "QDense" and kernel in TERM_KERNELS:
            return parse_term_dense(keras_layer, input_names, input_shapes, data_reader)
        if keras_class == "QConv2D" and kernel in TERM_KERNELS:
            return parse_term_conv2d(keras_layer, input_names, input_shapes, data_reader)
        if kernel in ("quantized_term", "quantized_onion", "quantized_rowwise"):
            raise ConversionError(
                f"layer {name}: {keras_class} with a {kernel} kernel has no HLS layer; the kit's cores take it in"
                " QDense and QConv2D"
            )
        # Fixed-point kit kernels or biases: hls4ml's own layer, with exact types.
        return with_exact_types(get_layer_handlers()[keras_class])(keras_layer, input_names, input_shapes, data_reader)

    return handler
