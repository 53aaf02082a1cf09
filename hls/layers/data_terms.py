"""The data-term family: activations put on a fixed-point grid, then cut to their most significant terms.

- ``DataTerm`` (``nnet::data_terms``): an unsigned ``quantized_data_term`` activation (its ``a`` top terms
  per value), and an unsigned onion activation (the top ``p`` bits of one code at precision ``p``);
- ``SignedDataTerm`` (``nnet::signed_data_terms``): a network's first layer on a sign-and-magnitude grid
  (``quantized_data_term`` with ``signed=True``). Its output is a signed fixed-point value, not a term code,
  so the mMAC layer after it runs in shift mode (each weight term shifts the whole input), and hls4ml's own
  layers take it as any fixed-point input.

Both take a second input, the model's run-time ``resolution`` port. Precisions are exact by construction:
hls4ml would give a quantizer it does not know ``ap_fixed<16,6>``, and the C++ would round where Keras does
not.
"""

import dataclasses

import numpy as np
from hls4ml.model.attributes import Attribute, ChoiceAttribute
from hls4ml.model.layers import Layer
from hls4ml.model.types import FixedPrecisionType

from mrfpga.hls.twin.spec import (
    DATA_TERM_LANES,
    STREAM_DATA_TERM_STAGES,
    DataTermCore,
    stream_chunks,
    stream_data_term_lanes,
)
from mrfpga.training.errors import ConversionError

from .common import (
    KitConfigTemplate,
    KitFunctionTemplate,
    activation_class,
    budget_function,
    config_struct,
    include_lists,
    kit_quantizer,
    node_attributes,
    parse_default,
    unsigned,
)
from .streaming import is_stream, pack_loop_cycles, pack_size
from .unit_costs import data_term_resources

ENCODING_IDS = {"binary": 0, "naf": 1, "hese": 2}  # nnet::term_encoding


class TermGrid(Layer):
    """What both data-term layers share: each value's magnitude on the unsigned ``bits``/``integer`` grid, its
    ``budgets[r]`` most significant terms kept at resolution r. Subclasses set ``SIGNED``."""

    SIGNED = None
    _expected_attributes = [
        Attribute("n_in"),
        Attribute("bits"),
        Attribute("integer"),
        Attribute("budgets", value_type=list),
        ChoiceAttribute("encoding", list(ENCODING_IDS), configurable=False),
    ]

    def initialize(self):
        bits, integer = self.get_attr("bits"), self.get_attr("integer")
        self.set_attr("n_in", self.get_input_variable().size())
        self.set_attr("encoding_id", ENCODING_IDS[self.get_attr("encoding")])
        # A NAF top term can round a magnitude up to 2^bits: one extra bit, and the sign when signed.
        extra = 2 if self.SIGNED else 1
        out = FixedPrecisionType(width=bits + extra, integer=integer + extra, signed=self.SIGNED)
        self.add_output_variable(self.get_input_variable().shape, precision=out)


class DataTerm(TermGrid):
    """Unsigned fixed point on a ``bits``/``integer`` grid, then the ``a`` most significant terms per value.

    Onion activations use the same layer: ``floors[r]`` low bits of the code
    are dropped at resolution r (the top bits of one code), and the grid
    rounds half to even as ``tf.round`` does (data terms round half up).
    """

    SIGNED = False
    _expected_attributes = [
        Attribute("floors", value_type=list),
        Attribute("round_half_even", value_type=bool, default=False),
    ]

    def initialize(self):
        if self.get_attr("floors") is None:
            self.set_attr("floors", [0] * len(self.get_attr("budgets")))
        self.set_attr("rounding", "AP_RND_CONV" if self.get_attr("round_half_even") else "AP_RND")
        super().initialize()

    @property
    def frac_bits(self):
        return self.get_attr("bits") - self.get_attr("integer")

    def core_spec(self):
        """The layer's core (docs/mmac_core.md): what the Verilog twin and the cost model are built from."""
        source = self.get_input_variable().type.precision
        return DataTermCore(
            name=self.name,
            frac=self.frac_bits,
            round_half_even=bool(self.get_attr("round_half_even")),
            in_width=source.width,
            in_frac=source.width - source.integer,
            in_signed=bool(source.signed),
            lanes=lanes(self),
            **node_attributes(self, "n_in bits encoding budgets floors"),
        )


class SignedDataTerm(TermGrid):
    """Sign and magnitude: the magnitude on the unsigned ``bits``/``integer`` grid (round half up,
    saturate), its ``a`` most significant terms kept, the sign put back."""

    SIGNED = True


LAYERS = {"DataTerm": DataTerm, "SignedDataTerm": SignedDataTerm}


# Keras handlers.


def _data_term_layer(keras_layer, input_names, input_shapes, **attributes):
    layer = parse_default(keras_layer, input_names)
    layer.update(class_name="DataTerm", **attributes)
    return layer, list(input_shapes[0])


def parse_data_term(keras_layer, input_names, input_shapes, data_reader):
    quantizer = kit_quantizer(keras_layer, "activation", data_reader)
    if quantizer.signed:  # a signed input grid: sign and magnitude (SignedDataTerm)
        layer = parse_default(keras_layer, input_names)
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
    quantizer = kit_quantizer(keras_layer, "activation", data_reader)
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


ACTIVATION_PARSERS = {"quantized_data_term": parse_data_term, "quantized_onion": parse_onion_activation}
KERAS_HANDLERS = {}  # no Keras classes of its own: QActivation layers marked by common.mark_kit_layers


def kit_parser(keras_class, keras_layer):
    """The parser of a kit-marked QKeras layer this family converts, or None."""
    if keras_class != "QActivation":
        return None
    return ACTIVATION_PARSERS.get(activation_class(keras_layer))


# Templates.

data_term_config_template = config_struct(
    "config{index}",
    "nnet::data_term_config",
    *unsigned("n_in lanes bits"),
    "static const int integer = {integer};",
    *unsigned("encoding=encoding_id n_resolutions"),
    "typedef ap_ufixed<{bits}, {integer}, {rounding}, AP_SAT> grid_t;",
    "{data_terms_function}",
    "{low_bits_function}",
)

data_term_include_lists = include_lists("nnet_data_terms.h", "nnet_data_terms_stream.h")

data_term_function_template = "nnet::data_terms<{input_t}, {output_t}, {config}>({input}, {output}, {resolution});"


# The same struct with round half up and no dropped bits.
signed_data_term_config_template = data_term_config_template.replace("{rounding}", "AP_RND").replace(
    "    {low_bits_function}\n", ""
)

signed_data_term_function_template = (
    "nnet::signed_data_terms<{input_t}, {output_t}, {config}>({input}, {output}, {resolution});"
)


class SignedDataTermConfigTemplate(KitConfigTemplate):
    LAYER, TEMPLATE = SignedDataTerm, signed_data_term_config_template

    def params(self, node, params):
        params["lanes"] = lanes(node)
        params["n_resolutions"] = len(node.get_attr("budgets"))
        params["data_terms_function"] = budget_function("data_terms", node.get_attr("budgets"))
        return params


class SignedDataTermFunctionTemplate(KitFunctionTemplate):
    LAYER, TEMPLATE, INCLUDES = SignedDataTerm, signed_data_term_function_template, data_term_include_lists


class DataTermConfigTemplate(SignedDataTermConfigTemplate):
    LAYER, TEMPLATE = DataTerm, data_term_config_template

    def params(self, node, params):
        params = super().params(node, params)
        params["low_bits_function"] = budget_function("dropped_bits", node.get_attr("floors"))
        return params


class DataTermFunctionTemplate(KitFunctionTemplate):
    LAYER, TEMPLATE, INCLUDES = DataTerm, data_term_function_template, data_term_include_lists


TEMPLATES = (
    DataTermConfigTemplate,
    DataTermFunctionTemplate,
    SignedDataTermConfigTemplate,
    SignedDataTermFunctionTemplate,
)


# Cost model (docs/estimates.md).


def lanes(node):
    """Values put on the grid per cycle: in io_parallel a group of the mMAC layer that reads them; in io_stream a
    word's values over at most ``STREAM_DATA_TERM_CHUNKS`` cycles (``spec.stream_data_term_lanes``)."""
    if is_stream(node):
        return stream_data_term_lanes(pack_size(node.get_input_variable()))
    return min(DATA_TERM_LANES, node.get_attr("n_in"))


def cycles(node, resolution):
    """io_parallel: one to latch the resolution, one per ``lanes`` values, four to drain the five-stage pipeline;
    io_stream: one stream word per cycle, + its four register stages (the streaming twin's); a word of more values
    than lanes takes ``chunks`` cycles, + the output word's register."""
    if is_stream(node):
        chunks = stream_chunks(pack_size(node.get_input_variable()), lanes(node))
        if chunks == 1:
            return pack_loop_cycles(node, STREAM_DATA_TERM_STAGES)
        return (pack_loop_cycles(node, 0) * chunks) + STREAM_DATA_TERM_STAGES + 1
    return 5 + -(-node.get_attr("n_in") // lanes(node))


def resources(node):
    # io_stream: the logic of one stream word, used by every word.
    n = pack_size(node.get_input_variable()) if is_stream(node) else node.get_attr("n_in")
    if node.class_name == "DataTerm":
        # Costs measured with Yosys on the Verilog twin (unit_costs); a stream word goes through the lanes.
        spec = node.core_spec()
        return data_term_resources(dataclasses.replace(spec, n_in=n) if is_stream(node) else spec)
    width, units = node.get_attr("bits") + 2, lanes(node) if is_stream(node) else n
    return {"LUT": units * width * 2, "FF": n * width}
