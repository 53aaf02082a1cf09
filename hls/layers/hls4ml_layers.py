"""hls4ml's own layers in a kit model: what the kit adds to them, and their cost model.

- Fixed-point kit kernels or biases (``quantized_fixed``, a ``quantized_pot`` kernel outside the mMAC's
  QDense and QConv2D): hls4ml's own handler, with the kit's quantizers swapped for exactly typed hls4ml
  ones; the QKeras layers no family takes are refused here with a clear message.
- A power-of-two (``quantized_po2``) layer's accumulator that holds its sum exactly (hls4ml infers none).
- Cycles and resources of hls4ml's own layers (Latency strategy; docs/estimates.md).
"""

import math

import numpy as np
import tensorflow as tf
from hls4ml.converters.keras_v2_to_hls import get_layer_handlers, get_weights_data
from hls4ml.model.quantizers import Quantizer
from hls4ml.model.types import FixedPrecisionType

from mrfpga.hls.twin.spec import STREAM_MAX_POOL_STAGES
from mrfpga.training.errors import ConversionError

from .common import activation_class, kernel_class, kit_quantizer
from .streaming import is_stream, pack_loop_cycles, pack_size

# hls4ml's multipliers: a DSP48E1 when both operands are wider than this many bits.
DSP_MIN_WIDTH = 10
# hls4ml's multiply-accumulate by a constant (docs/estimates.md, "hls4ml's constant-weight products").
CONSTANT_PRODUCT_LUT_PER_BIT = 7.43
CONSTANT_PRODUCT_LUT_OFFSET = -4.2
CONSTANT_PRODUCT_FF = 1.25  # the output register, shared by the products of a sum
PIPELINE_EXTRA = 2
MULTIPLYING = ("Dense", "Conv1D", "Conv2D", "DepthwiseConv2D", "BatchNormalization")
ELEMENTWISE = ("Activation", "ReLU", "LeakyReLU", "HardActivation", "ParametrizedActivation", "Pooling1D", "Pooling2D")


class KitQuantizer(Quantizer):
    """An hls4ml Quantizer around one of the kit's quantizers, typed exactly for the data it quantizes."""

    def __init__(self, quantizer, data):
        self.quantizer = quantizer
        t = quantizer.fixed_type(np.asarray(data, np.float32))
        super().__init__(quantizer.bits, FixedPrecisionType(width=t.width, integer=t.integer, signed=t.signed))

    def __call__(self, data):
        return self.quantizer(tf.constant(np.asarray(data, np.float32))).numpy()


def with_exact_types(original):
    """hls4ml's own handler, with our quantizers swapped for exactly typed hls4ml ones."""

    def handler(keras_layer, input_names, input_shapes, data_reader):
        layer, shape = original(keras_layer, input_names, input_shapes, data_reader)
        name = keras_layer["config"]["name"]
        for key, weight in (("kernel_quantizer", "kernel"), ("depthwise_quantizer", "depthwise_kernel")):
            quantizer = kit_quantizer(keras_layer, key, data_reader)
            if quantizer is not None:
                target = "weight_quantizer" if key == "kernel_quantizer" else "depthwise_quantizer"
                layer[target] = KitQuantizer(quantizer, get_weights_data(data_reader, name, weight))
        quantizer = kit_quantizer(keras_layer, "bias_quantizer", data_reader)
        if quantizer is not None:
            layer["bias_quantizer"] = KitQuantizer(quantizer, get_weights_data(data_reader, name, "bias"))
        return layer, shape

    return handler


def kit_parser(keras_class, keras_layer):
    """The last resort for a kit-marked QKeras layer no family took: hls4ml's own layer with exact types,
    or a ``ConversionError`` for what has no HLS layer."""
    name = keras_layer["config"]["name"]
    kernel = kernel_class(keras_layer)
    if keras_class == "QActivation":
        raise ConversionError(f"layer {name}: {activation_class(keras_layer)} as an activation has no HLS layer yet")
    if kernel in ("quantized_term", "quantized_onion", "quantized_rowwise"):
        raise ConversionError(
            f"layer {name}: {keras_class} with a {kernel} kernel has no HLS layer; the kit's cores take it in"
            " QDense and QConv2D"
        )
    return with_exact_types(get_layer_handlers()[keras_class])


def exact_po2_accumulator(node, n_ops):
    """The fixed-point type that holds a power-of-two layer's sum exactly: products ``x * 2^e`` over the
    exponents actually in the weights, ``n_ops`` of them, plus the bias (hls4ml infers none for them)."""
    data = np.abs(node.weights["weight"].data)
    exponents = np.log2(data[data > 0]) if (data > 0).any() else np.zeros(1)
    low, high = int(exponents.min()), int(exponents.max())
    x = node.get_input_variable().type.precision
    frac = x.width - x.integer - low
    kept = node.types["weight_t"].precision.width + x.width  # nnet::product::weight_exponential's fraction bits
    if frac > kept:
        raise ConversionError(
            f"layer {node.name}: weights down to 2^{low} need {frac} fraction bits, hls4ml's power-of-two product "
            f"keeps {kept}: the result would not match Keras; use fewer quantized_po2 bits"
        )
    integer = x.integer + high + math.ceil(math.log2(max(n_ops, 2))) + (0 if x.signed else 1)
    bias = node.types["bias_t"].precision
    if isinstance(bias, FixedPrecisionType):
        frac = max(frac, bias.width - bias.integer)
        integer = max(integer, bias.integer) + 1
    return FixedPrecisionType(integer + frac, integer, True)


# Cost model (docs/estimates.md).


def multipliers(node):
    """(multipliers, (weight bits, input bits)) of one of hls4ml's multiplying layers."""
    kind, reuse = node.class_name, node.get_attr("reuse_factor", 1)
    name = "scale" if kind == "BatchNormalization" else "weight" if "weight" in node.weights else "depthwise"
    weights = node.get_weights(name)
    n = node.get_attr("n_in") if kind == "BatchNormalization" else weights.data_length  # BN: one per value
    count = -(-n // reuse) - weights.nzeros // reuse  # hls4ml's multiplier_limit
    return count, (weights.type.precision.width, node.get_input_variable().type.precision.width)


def cycles(node):
    """Latency strategy: a Dense ``reuse + 2``, a Conv ``pixels * reuse + 2``, a batch norm ``reuse + 1``,
    an activation or pooling layer 1."""
    kind, reuse = node.class_name, node.get_attr("reuse_factor", 1)
    if kind == "Dense":
        return reuse + PIPELINE_EXTRA
    if kind in ("Conv1D", "Conv2D", "DepthwiseConv2D"):
        pixels = node.get_output_variable().size() // node.get_output_variable().shape[-1]
        return pixels * reuse + PIPELINE_EXTRA
    if kind == "BatchNormalization":
        return reuse + 1
    if kind == "Pooling2D" and is_stream(node):  # a pixel a cycle through the streaming twin's two stages
        # ... up to the last pixel that completes a window (rows and columns past the last window give none)
        rows, cols = node.get_attr("in_height"), node.get_attr("in_width")
        last_row = rows // node.get_attr("pool_height") * node.get_attr("pool_height") - 1
        last_col = cols // node.get_attr("pool_width") * node.get_attr("pool_width") - 1
        return last_row * cols + last_col + 1 + STREAM_MAX_POOL_STAGES
    if kind in ELEMENTWISE and is_stream(node):  # hls4ml's streaming layers: one input word per cycle
        return pack_loop_cycles(node)
    return 1 if kind in ELEMENTWISE else 0


def resources(node):
    """``multiplier_limit`` multipliers: a DSP48E1 each when both operands are wider than ``DSP_MIN_WIDTH``
    bits, else a constant product in LUTs as measured with Yosys."""
    kind = node.class_name
    if kind in MULTIPLYING:
        count, operands = multipliers(node)
        if min(operands) > DSP_MIN_WIDTH:
            return {"DSP48E1": count}
        return {"LUT": round(count * constant_product_lut(operands[0])), "FF": round(count * CONSTANT_PRODUCT_FF)}
    if kind in ELEMENTWISE:
        out = node.get_output_variable()
        values = pack_size(out) if is_stream(node) else out.size()  # io_stream: one stream word's logic
        return {"LUT": values * out.type.precision.width}
    return {}


def constant_product_lut(weight_bits):
    """LUT of one hls4ml multiply-accumulate by a constant weight, its share of the adder tree included:
    measured with Yosys at 4, 6 and 8 weight bits (25.5, 38.5, 55.2), fitted affinely."""
    return CONSTANT_PRODUCT_LUT_PER_BIT * weight_bits + CONSTANT_PRODUCT_LUT_OFFSET
