"""Idempotent registration of the kit's handlers, layers, templates and sources with hls4ml.

hls4ml raises when a handler or pass is registered twice (SPEC section 7),
so each step checks what is already there.
"""

from hls4ml.backends import get_backend
from hls4ml.backends.fpga.passes.clone import CloneOutput
from hls4ml.backends.vivado.passes.transform_types import TransformTypes
from hls4ml.converters.keras_v2_to_hls import get_layer_handlers
from hls4ml.model.layers import layer_map, register_layer
from hls4ml.model.optimizer.optimizer import optimizer_map

from .convert_names import RESOLUTION_PORT
from .handlers import OVERRIDES, dispatching_handler, parse_switchable_bn
from .layers import DataTerm, MMACConv2D, MMACDense, SwitchableScaleShift
from .precision import InferPrecisionOrAttributeDefault
from .resources import package_dir
from .rowwise_layers import RowwiseConv2D, RowwiseDense
from .rowwise_templates import TEMPLATES as ROWWISE_TEMPLATES
from .signed_input import TEMPLATES as SIGNED_INPUT_TEMPLATES
from .signed_input import SignedDataTerm
from .templates import TEMPLATES

BACKENDS = ("Vivado", "Vitis")
LAYERS = {
    "DataTerm": DataTerm,
    "MMACDense": MMACDense,
    "MMACConv2D": MMACConv2D,
    "SwitchableScaleShift": SwitchableScaleShift,
    "RowwiseDense": RowwiseDense,
    "RowwiseConv2D": RowwiseConv2D,
    "SignedDataTerm": SignedDataTerm,
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
        for template_cls in TEMPLATES + ROWWISE_TEMPLATES + SIGNED_INPUT_TEMPLATES:
            if f"{backend_name.lower()}:{template_cls().get_name()}" not in optimizer_map:
                backend.register_template(template_cls)
        for source in SOURCES:
            backend.register_source(package_dir("templates") / source)
