"""Idempotent registration of the kit's handlers, layers, templates and sources with hls4ml.

hls4ml raises when a handler or pass is registered twice (SPEC section 7),
so each step checks what is already there.
"""

import math

import numpy as np
from hls4ml.backends import get_backend
from hls4ml.backends.fpga.passes.clone import CloneOutput
from hls4ml.backends.vivado.passes.transform_types import TransformTypes
from hls4ml.converters.keras_v2_to_hls import get_layer_handlers
from hls4ml.model.layers import layer_map, register_layer
from hls4ml.model.optimizer.optimizer import optimizer_map
from hls4ml.model.optimizer.passes.infer_precision import InferPrecisionTypes
from hls4ml.model.types import ExponentPrecisionType, FixedPrecisionType, UnspecifiedPrecisionType

from .convert_names import RESOLUTION_PORT
from .handlers import OVERRIDES, dispatching_handler, parse_switchable_bn
from .layers import DataTerm, MMACConv2D, MMACDense, SwitchableScaleShift
from .resources import package_dir
from .rowwise_layers import RowwiseConv2D, RowwiseDense
from .rowwise_templates import TEMPLATES as ROWWISE_TEMPLATES
from .templates import TEMPLATES

BACKENDS = ("Vivado", "Vitis")
LAYERS = {
    "DataTerm": DataTerm,
    "MMACDense": MMACDense,
    "MMACConv2D": MMACConv2D,
    "SwitchableScaleShift": SwitchableScaleShift,
    "RowwiseDense": RowwiseDense,
    "RowwiseConv2D": RowwiseConv2D,
}
NEW_HANDLERS = {"SwitchableBatchNormalization": parse_switchable_bn}
SOURCES = ("nnet_mmac.h", "nnet_rowwise.h")


class ResolutionPortTypes(TransformTypes):
    """hls4ml's type transformation, except that in io_stream the resolution port stays an array:
    every layer reads it (more than hls4ml's stream clones can serve), once per inference."""

    def transform(self, model, node):
        if node.name == RESOLUTION_PORT and model.config.get_config_value("IOType") == "io_stream":
            for out_name, var in node.variables.items():
                node.set_attr(out_name, self.array_var_converter.convert(var, pragma="reshape"))
            for t_name, t in node.types.items():
                node.set_attr(t_name, self.type_converter.convert(t))
            return False
        return super().transform(model, node)


class CloneOutputExceptResolution(CloneOutput):
    """hls4ml's stream cloning, except for the resolution port, which stays an array every layer reads."""

    def match(self, node):
        return node.name != RESOLUTION_PORT and super().match(node)


class InferPrecisionOrAttributeDefault(InferPrecisionTypes):
    """hls4ml's precision inference, except that a type it cannot infer (an activation's lookup table) takes
    its attribute's default when the model's default precision is 'auto', as the kit's conversion sets it.
    hls4ml would give it 'auto' again and retry it forever."""

    def _infer_default_type(self, node, type_name):
        config = node.model.config
        default = config.backend.convert_precision_string(config.model_precision["default"])
        if not isinstance(default, UnspecifiedPrecisionType):
            return super()._infer_default_type(node, type_name)
        attribute = next((a for a in node.expected_attributes if a.name == type_name), None)
        precision = getattr(attribute, "default", None) or FixedPrecisionType(16, 6)
        node.types[type_name].precision = precision
        weight_name = type_name.removesuffix("_t")
        if weight_name in node.weights:
            node.weights[weight_name].update_precision(precision)

    def _infer_common_precision(self, node, types_to_infer, n_ops):
        inferred = super()._infer_common_precision(node, types_to_infer, n_ops)
        weight = node.types["weight_t"].precision
        if isinstance(weight, ExponentPrecisionType) and "accum_t" in inferred:
            exact = exact_po2_accumulator(node, n_ops)
            for name in ("accum_t", "result_t"):
                if name in inferred and isinstance(node.types[name].precision, UnspecifiedPrecisionType):
                    node.types[name].precision = exact
        return inferred


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
        raise ValueError(
            f"layer {node.name}: weights down to 2^{low} need {frac} fraction bits, hls4ml's power-of-two product "
            f"keeps {kept}: the result would not match Keras; use fewer quantized_po2 bits"
        )
    integer = x.integer + high + math.ceil(math.log2(max(n_ops, 2))) + (0 if x.signed else 1)
    bias = node.types["bias_t"].precision
    if isinstance(bias, FixedPrecisionType):
        frac = max(frac, bias.width - bias.integer)
        integer = max(integer, bias.integer) + 1
    return FixedPrecisionType(integer + frac, integer, True)


def install():
    handlers = get_layer_handlers()
    for keras_class in OVERRIDES:
        if not hasattr(handlers[keras_class], "mrfpga_original"):
            handlers[keras_class] = dispatching_handler(keras_class, handlers[keras_class])
    for keras_class, handler in NEW_HANDLERS.items():
        handlers.setdefault(keras_class, handler)
    for name, cls in LAYERS.items():
        if layer_map.get(name) is not cls:
            register_layer(name, cls)
    for name, cls in (
        ("infer_precision_types", InferPrecisionOrAttributeDefault),
        ("vivado:transform_types", ResolutionPortTypes),
        ("vitis:transform_types", ResolutionPortTypes),
        ("vivado:clone_output", CloneOutputExceptResolution),
    ):
        if name in optimizer_map and not isinstance(optimizer_map[name], cls):
            optimizer_map[name] = cls()
    for backend_name in BACKENDS:
        backend = get_backend(backend_name)
        for template_cls in TEMPLATES + ROWWISE_TEMPLATES:
            if f"{backend_name.lower()}:{template_cls().get_name()}" not in optimizer_map:
                backend.register_template(template_cls)
        for source in SOURCES:
            backend.register_source(package_dir("templates") / source)
