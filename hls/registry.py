"""Idempotent registration of the kit's handlers, layers, templates and sources with hls4ml.

hls4ml raises when a handler or pass is registered twice (SPEC section 7),
so each step checks what is already there.
"""

from hls4ml.backends import get_backend
from hls4ml.converters.keras_v2_to_hls import get_layer_handlers
from hls4ml.model.layers import layer_map, register_layer
from hls4ml.model.optimizer.optimizer import optimizer_map

from .handlers import OVERRIDES, dispatching_handler, parse_switchable_bn
from .layers import DataTerm, MMACConv2D, MMACDense, SwitchableScaleShift
from .resources import package_dir
from .templates import TEMPLATES

BACKENDS = ("Vivado", "Vitis")
LAYERS = {
    "DataTerm": DataTerm,
    "MMACDense": MMACDense,
    "MMACConv2D": MMACConv2D,
    "SwitchableScaleShift": SwitchableScaleShift,
}
NEW_HANDLERS = {"SwitchableBatchNormalization": parse_switchable_bn}
SOURCES = ("nnet_mmac.h",)


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
    for backend_name in BACKENDS:
        backend = get_backend(backend_name)
        for template_cls in TEMPLATES:
            if f"{backend_name.lower()}:{template_cls().get_name()}" not in optimizer_map:
                backend.register_template(template_cls)
        for source in SOURCES:
            backend.register_source(package_dir("templates") / source)
