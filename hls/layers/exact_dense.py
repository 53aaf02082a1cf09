"""Dense and Conv2D layers on a kit core whose output is exact, the sum plus the bias on one fixed-point grid:
what the mMAC (``mmac``) and row-wise (``rowwise``) families share.

A family's Conv2D runs its Dense core over each output pixel's input patch; its config is the Dense core's
struct and the geometry struct that names it.
"""

import functools

import numpy as np
from hls4ml.converters.keras_v2_to_hls import get_weights_data
from hls4ml.model.layers import Layer
from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

from mrfpga.training.errors import ConversionError

from .common import (
    KitConfigTemplate,
    bits_for,
    config_struct,
    data_source,
    exact_bias,
    integer_code_type,
    kernel_class,
    kit_quantizer,
    parse_default,
    unsigned,
)

MAX_EXACT_BITS = 52  # the widest integer a double (the exact reference, hls4ml's predict) holds exactly


class ExactDense(Layer):
    """A Dense on a kit core: its fixed-point input read as its integer code, its output the exact sum plus
    the bias, in an accumulator that holds every sum."""

    def data_source(self):
        """The layer that sets this layer's input values, looking through value-preserving layers."""
        return data_source(self)

    def read_fixed_point_input(self, precision):
        """``data_bits``, ``data_frac`` and ``data_int_t`` of an input of type ``precision``."""
        if not isinstance(precision, (FixedPrecisionType, IntegerPrecisionType)):
            raise ConversionError(f"layer {self.name}: its input type {precision} is not fixed point")
        self.set_attr("data_bits", precision.width)
        self.set_attr("data_frac", precision.width - precision.integer)
        self.set_attr("data_int_t", integer_code_type(precision))

    def bias_on_grid(self, acc_frac):
        """The bias as integers on the output grid ``2^-acc_frac``."""
        bias = self.get_attr("bias_values") * 2.0**acc_frac
        if not np.array_equal(bias, np.round(bias)):
            raise ConversionError(f"layer {self.name}: bias is not on its quantizer's grid")
        return bias

    def set_accumulator(self, bound, acc_frac):
        """The accumulator of every sum up to ``bound`` (at most what a double holds exactly) and the output
        type, on the grid ``2^-acc_frac``."""
        width = bits_for(bound) + 1
        if width > MAX_EXACT_BITS:
            raise ConversionError(
                f"layer {self.name}: its accumulator needs {width} bits, more than a double holds exactly"
            )
        self.set_attr("acc_frac", acc_frac)
        self.set_attr("acc_width", width)
        self.set_attr("result_precision", FixedPrecisionType(width=width, integer=width - acc_frac, signed=True))

    def add_bias_table(self, bias):
        """The bias (``bias_on_grid``) as accumulator-wide integers."""
        self.add_weights_variable(
            name="bias",
            var_name="b{index}",
            type_name="bias{index}_t",
            precision=IntegerPrecisionType(width=self.get_attr("acc_width"), signed=True),
            data=bias.astype(np.int64),
        )

    def output_shape(self):
        return [self.get_attr("n_out")]

    def pixels(self):
        """The core's runs per frame: one per output pixel."""
        return 1

    def add_outputs(self):
        self.add_output_variable(self.output_shape(), precision=self.get_attr("result_precision"))


class ExactConv2D:
    """Mixed in before a family's ``ExactDense`` class: its Conv2D, that Dense over each output pixel's input
    patch (filter row, filter column, channel, flattened: the kernel's own order)."""

    def output_shape(self):
        return [self.get_attr("out_height"), self.get_attr("out_width"), self.get_attr("n_filt")]

    def pixels(self):
        return self.get_attr("out_height") * self.get_attr("out_width")


# Keras handlers.


def _core_attributes(keras_layer, kernel, bias, data_reader, attributes):
    """The outputs, the exact bias and what the family reads from the kernel and its kit quantizer,
    ``attributes(name, quantizer, kernel)`` (``name``: the layer's, for its errors)."""
    config = keras_layer["config"]
    if config.get("activation") not in (None, "linear"):
        raise ConversionError(
            f"layer {config['name']}: put the activation in a QActivation; the kit's Dense and Conv2D compute none"
        )
    n_out = int(kernel.shape[-1])
    return {
        "n_out": n_out,
        **exact_bias(keras_layer, bias, n_out, data_reader),
        **attributes(config["name"], kit_quantizer(keras_layer, "kernel_quantizer", data_reader), kernel),
    }


def parse_dense(keras_layer, input_names, input_shapes, data_reader, class_name, attributes):
    """A QDense as the kit layer ``class_name``."""
    kernel, bias = get_weights_data(data_reader, keras_layer["config"]["name"], ["kernel", "bias"])
    layer = parse_default(keras_layer, input_names)
    layer.update(class_name=class_name, n_in=int(kernel.shape[0]))
    layer.update(_core_attributes(keras_layer, kernel, bias, data_reader, attributes))
    return layer, [input_shapes[0][0], int(kernel.shape[1])]


def parse_conv2d(keras_layer, input_names, input_shapes, data_reader, class_name, attributes):
    """A channels_last, undilated QConv2D as the kit layer ``class_name`` (hls4ml's own geometry)."""
    from hls4ml.converters.keras.convolution import parse_conv2d_layer

    config = keras_layer["config"]
    channels_last = config.get("data_format", "channels_last") == "channels_last"
    if not channels_last or tuple(config.get("dilation_rate", (1, 1))) != (1, 1):
        raise ConversionError(f"layer {config['name']}: {class_name} supports channels_last, undilated convolutions")
    layer, output_shape = parse_conv2d_layer(keras_layer, input_names, input_shapes, data_reader)
    layer.pop("activation", None)
    kernel, bias = layer.pop("weight_data"), layer.pop("bias_data")
    layer["class_name"] = class_name
    layer.update(_core_attributes(keras_layer, kernel, bias, data_reader, attributes))
    return layer, output_shape


def core_kit_parser(prefix, kernel_classes, attributes):
    """A family's ``kit_parser``: QDense and QConv2D whose kernel quantizer is one of ``kernel_classes`` become
    the kit layers ``<prefix>Dense`` and ``<prefix>Conv2D``, with the family's ``attributes`` (as
    ``_core_attributes`` calls them)."""
    parsers = {
        "QDense": functools.partial(parse_dense, class_name=f"{prefix}Dense", attributes=attributes),
        "QConv2D": functools.partial(parse_conv2d, class_name=f"{prefix}Conv2D", attributes=attributes),
    }

    def kit_parser(keras_class, keras_layer):
        """The parser of a kit-marked QKeras layer this family converts, or None."""
        return parsers.get(keras_class) if kernel_class(keras_layer) in kernel_classes else None

    return kit_parser


# Templates.


class ExactDenseConfigTemplate(KitConfigTemplate):
    """A Dense core's config: ``TEMPLATE``, the struct ``config{index}{suffix}``, filled by ``params``. A Conv2D's
    (``CONV2D``) is its core's struct, suffixed ``_<FAMILY>``, then the geometry struct whose ``dense_config`` it
    is. Subclasses set ``LAYER``, ``TEMPLATE``, ``FAMILY`` (the prefix of the C++ names) and ``CONV2D``."""

    FAMILY = None
    CONV2D = False

    def format(self, node):
        params = self._default_config_params(node)
        if not self.CONV2D:
            return self.template.format(**self.params(node, {**params, "suffix": ""}))
        dense = self.template.format(**self.params(node, {**params, "suffix": f"_{self.FAMILY}"}))
        geometry = config_struct(
            "config{index}",
            f"nnet::{self.FAMILY}_conv2d_config",
            *unsigned(
                "in_height in_width n_chan out_height out_width n_filt filt_height filt_width stride_height "
                "stride_width pad_top pad_left"
            ),
            f"typedef config{{index}}_{self.FAMILY} dense_config;",
        )
        return dense + "\n" + geometry.format(**params)
