"""Idempotent registration of the kit's handlers, layers, templates and sources with hls4ml.

hls4ml raises when a handler or pass is registered twice (SPEC section 7),
so each step checks what is already there.
"""

from hls4ml.backends import get_backend
from hls4ml.converters import register_keras_v2_layer_handler
from hls4ml.converters.keras_v2_to_hls import get_layer_handlers
from hls4ml.model.layers import layer_map, register_layer
from hls4ml.model.optimizer.optimizer import optimizer_map

from . import hls4ml_workarounds
from .handlers import KIT_CLASSES, kit_handler, parse_switchable_bn
from .layers import DataTerm, MMACConv2D, MMACDense, SwitchableScaleShift
from .project import WriteKitProject
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


def install():
    # hls4ml's own handlers stay as they are: the kit's conversion renames the layers that use its
    # quantizers (handlers.KIT_CLASSES), and only those reach the kit's handlers.
    handlers = get_layer_handlers()
    for kit_class, keras_class in KIT_CLASSES.items():
        if kit_class not in handlers:
            register_keras_v2_layer_handler(kit_class, kit_handler(keras_class))
    for keras_class, handler in NEW_HANDLERS.items():
        if keras_class not in handlers:
            register_keras_v2_layer_handler(keras_class, handler)
    for name, cls in LAYERS.items():
        if layer_map.get(name) is not cls:
            register_layer(name, cls)
    hls4ml_workarounds.install()
    for backend_name in BACKENDS:
        backend = get_backend(backend_name)
        for template_cls in TEMPLATES + ROWWISE_TEMPLATES + SIGNED_INPUT_TEMPLATES:
            if f"{backend_name.lower()}:{template_cls().get_name()}" not in optimizer_map:
                backend.register_template(template_cls)
        # The kit's part of a project, written by hls4ml's own write flow (so compile() leaves it too).
        writer = WriteKitProject().name
        if f"{backend_name.lower()}:{writer}" not in optimizer_map:
            backend.register_pass(writer, WriteKitProject, flow=f"{backend_name.lower()}:write")
