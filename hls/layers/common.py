"""What the kit's layer families share: the names of the resolution port and the kit's config key, exact
integer widths, the Keras-side reading of a layer and its quantizers, the config structs and C++ table helpers of
the templates, and the marking of the QKeras layers that use a kit quantizer.

Each family module (``data_terms``, ``scale_shift``, ``mmac``, ``rowwise``, ``hls4ml_layers``) imports this
one; this one imports none of them. The Dense and Conv2D families (``mmac``, ``rowwise``) share more, in
``exact_dense``.
"""

import numpy as np
import tensorflow as tf
from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
from hls4ml.converters.keras_v2_to_hls import parse_default_keras_layer
from qkeras.quantizers import get_quantizer

from mrfpga.hls.twin.spec import bits_for  # noqa: F401 (the families' one definition)
from mrfpga.training.errors import ConversionError
from mrfpga.training.quantizers import QUANTIZERS
from mrfpga.training.quantizers.base import frac_bits_of

RESOLUTION_PORT = "resolution"
KIT_CONFIG_KEY = "MrfpgaBoard"  # in a converted model's hls4ml config: the kit converted it, for this board

# Layers whose outputs are some of their inputs' values, unchanged (max pooling too).
VALUE_PRESERVING = ("Reshape", "Transpose")
MAX_BIAS_FRAC = 32


def include_lists(parallel, stream=None):
    """A layer's kit headers by io type, as hls4ml's include lists name them (``nnet_utils/...``): ``parallel``
    in io_parallel, ``stream`` in io_stream (the same header when the family has one for both). Each header
    includes what it needs itself."""
    return {"io_parallel": [f"nnet_utils/{parallel}"], "io_stream": [f"nnet_utils/{stream or parallel}"]}


def integer_code_type(precision):
    """The C++ type of a fixed-point value's integer code (the value without its binary point)."""
    return f"ap_{'' if precision.signed else 'u'}int<{precision.width}>"


def node_attributes(node, names):
    """``{name: node.get_attr(name)}`` for each of the space-separated ``names``."""
    return {name: node.get_attr(name) for name in names.split()}


def data_source(node):
    """The layer that sets ``node``'s input values, looking through value-preserving layers."""
    source = node.get_input_node(node.inputs[0])
    while source.class_name in VALUE_PRESERVING or (
        source.class_name.startswith("Pooling") and source.get_attr("pool_op") == "Max"
    ):
        source = source.get_input_node(source.inputs[0])
    return source


# Keras side.

LIVE_ATTRIBUTES = {
    "kernel_quantizer": "kernel_quantizer_internal",
    "bias_quantizer": "bias_quantizer_internal",
    "depthwise_quantizer": "depthwise_quantizer_internal",
    "activation": "quantizer",
}


def kit_quantizer(keras_layer, key, data_reader=None):
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


def parse_default(keras_layer, input_names):
    layer = parse_default_keras_layer(keras_layer, input_names)
    # hls4ml appends an activation layer after any layer with an 'activation' key.
    layer.pop("activation", None)
    return layer


def exact_bias(keras_layer, bias, n_out, data_reader):
    """The quantized bias (zeros without one) in float64 and the fraction bits that hold it exactly."""
    config = keras_layer["config"]
    if bias is None:
        bias = np.zeros(n_out, np.float32)
    elif config.get("bias_quantizer") is not None:
        quantizer = kit_quantizer(keras_layer, "bias_quantizer", data_reader) or get_quantizer(config["bias_quantizer"])
        bias = quantizer(tf.constant(bias)).numpy()
    bias = bias.astype(np.float64)
    bias_frac = frac_bits_of(bias, highest=MAX_BIAS_FRAC)
    if bias_frac is None:
        name = config["name"]
        raise ConversionError(
            f"bias of layer {name} is not on a fixed-point grid; give it a fixed-point bias_quantizer"
        )
    return {"bias_values": bias, "bias_frac": bias_frac}


def kernel_class(keras_layer):
    for key in ("kernel_quantizer", "depthwise_quantizer"):
        config = keras_layer["config"].get(key)
        if isinstance(config, dict):
            return config.get("class_name")
    return None


def activation_class(keras_layer):
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


# Templates.


def config_struct(name, base, *members):
    """A config struct's template (filled by ``str.format``): ``struct name : base`` with ``members``, one C++
    line each (``unsigned`` writes the constants)."""
    body = "".join(f"    {member}\n" for member in members)
    return f"struct {name} : {base} {{{{\n{body}}}}};\n"


def unsigned(names):
    """``static const unsigned`` members of a config struct, from space-separated names: ``n`` is ``n = {n}``,
    ``n=p`` is ``n = {p}`` (the template parameter ``p``)."""
    members = []
    for entry in names.split():
        name, _, param = entry.partition("=")
        members.append(f"static const unsigned {name} = {{{param or name}}};")
    return members


def _lookup_function(name, argument, values, index):
    body = ", ".join(str(v) for v in values)
    return (
        f"static unsigned {name}(unsigned {argument}) {{\n"
        f"        static const unsigned table[{len(values)}] = {{{body}}};\n"
        f"        return table[{index}];\n"
        f"    }}"
    )


def budget_function(name, budgets):
    """A C++ lookup of one value per resolution; a higher resolution reads the last."""
    last = len(budgets) - 1
    return _lookup_function(name, "resolution", budgets, f"resolution < {len(budgets)} ? resolution : {last}")


def table_function(name, values):
    """A C++ lookup of ``values[i]``."""
    return _lookup_function(name, "i", values, "i")


def resolution_name(node):
    return node.get_input_variable(node.inputs[1]).name


class KitConfigTemplate(LayerConfigTemplate):
    """A kit layer's config struct: ``TEMPLATE`` filled with hls4ml's parameters and the layer's own
    (``params``). Subclasses set ``LAYER`` and ``TEMPLATE``."""

    LAYER = TEMPLATE = None

    def __init__(self):
        super().__init__(self.LAYER)
        self.template = self.TEMPLATE

    def params(self, node, params):
        """hls4ml's parameters ``params`` and the layer's own."""
        return params

    def format(self, node):
        return self.template.format(**self.params(node, self._default_config_params(node)))


class KitFunctionTemplate(FunctionCallTemplate):
    """A kit layer's call: hls4ml's parameters, the names of the layer's ``WEIGHTS`` and the resolution port.
    Subclasses set ``LAYER``, ``TEMPLATE`` and ``INCLUDES`` (``include_lists``: the kit header that has the
    function, by io type)."""

    LAYER = TEMPLATE = INCLUDES = None
    WEIGHTS = ()

    def __init__(self):
        super().__init__(self.LAYER)
        self.template = self.TEMPLATE

    def transform(self, model, node):
        # hls4ml's include_header is one list for every io type; the kit's layer takes its own io type's, which
        # hls4ml then collects, with the other layers' lists, into parameters.h.
        result = super().transform(model, node)
        node.set_attr("include_header", list(self.INCLUDES[model.config.get_config_value("IOType")]))
        return result

    def format(self, node):
        params = self._default_function_params(node)
        params.update({name: node.get_weights(name).name for name in self.WEIGHTS})
        params["resolution"] = resolution_name(node)
        # C simulation records the cycles each kit layer counted (nothing under synthesis).
        return self.template.format(**params) + " MRFPGA_LAYER_DONE();"
