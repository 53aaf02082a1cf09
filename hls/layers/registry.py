"""Idempotent registration of the kit's layer families with hls4ml: handlers, layers, templates and the
workarounds (the project writer's pass: ``mrfpga.hls.project.writer.install``).

Each family module (``data_terms``, ``scale_shift``, ``mmac``, ``rowwise``) holds its Keras handlers, hls4ml
layers, templates and cost model, under the same names: ``LAYERS``, ``TEMPLATES``, ``KERAS_HANDLERS``
(Keras classes of the kit's own), ``kit_parser`` (which QKeras layers marked by ``common.mark_kit_layers``
it converts), ``cycles`` and ``resources``. ``hls4ml_layers`` takes whatever QKeras layer no family took.

hls4ml raises when a handler or pass is registered twice, so each step
checks what is already there.
"""

from hls4ml.backends import get_backend
from hls4ml.converters import register_keras_v2_layer_handler
from hls4ml.converters.keras_v2_to_hls import get_layer_handlers
from hls4ml.model.layers import layer_map, register_layer
from hls4ml.model.optimizer.optimizer import optimizer_map

from mrfpga.hls.settings import BACKENDS

from . import data_terms, hls4ml_layers, hls4ml_workarounds, mmac, rowwise, scale_shift
from .common import KIT_CLASSES
from .protocol import LayerFamily

FAMILIES: tuple[LayerFamily, ...] = (scale_shift, data_terms, mmac, rowwise)
LAYERS = {name: cls for family in FAMILIES for name, cls in family.LAYERS.items()}
FAMILY_OF = {name: family for family in FAMILIES for name in family.LAYERS}


def kit_handler(keras_class):
    """The handler of a QKeras layer that uses a kit quantizer (its class name marked by ``mark_kit_layers``):
    the first family that takes it, else hls4ml's own layer with exact types (``hls4ml_layers``)."""

    def handler(keras_layer, input_names, input_shapes, data_reader):
        keras_layer = {**keras_layer, "class_name": keras_class}  # hls4ml's parsers read the QKeras name
        for family in (*FAMILIES, hls4ml_layers):
            parse = family.kit_parser(keras_class, keras_layer)
            if parse is not None:
                return parse(keras_layer, input_names, input_shapes, data_reader)
        raise AssertionError("hls4ml_layers.kit_parser takes every layer")

    return handler


def install():
    # hls4ml's own handlers stay as they are: the kit's conversion renames the layers that use its
    # quantizers (common.KIT_CLASSES), and only those reach the kit's handlers.
    handlers = get_layer_handlers()
    for kit_class, keras_class in KIT_CLASSES.items():
        if kit_class not in handlers:
            register_keras_v2_layer_handler(kit_class, kit_handler(keras_class))
    for family in FAMILIES:
        for keras_class, handler in family.KERAS_HANDLERS.items():
            if keras_class not in handlers:
                register_keras_v2_layer_handler(keras_class, handler)
    for name, cls in LAYERS.items():
        if layer_map.get(name) is not cls:
            register_layer(name, cls)
    hls4ml_workarounds.install()
    for backend_name in BACKENDS:
        backend = get_backend(backend_name)
        for family in FAMILIES:
            for template_cls in family.TEMPLATES:
                if f"{backend_name.lower()}:{template_cls().get_name()}" not in optimizer_map:
                    backend.register_template(template_cls)
