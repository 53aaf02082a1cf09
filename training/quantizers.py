"""The kit's QKeras quantizers, and the model-level resolution switch.

Term (``quantized_term``, ``quantized_data_term``), fixed point
(``quantized_fixed``), power of two (``quantized_pot``), onion
(``quantized_onion``) and row-wise mixed (``quantized_rowwise``).
"""

import tensorflow as tf

from .base import KitQuantizer
from .levels import quantized_fixed, quantized_pot
from .onion import quantized_onion
from .rowwise import quantized_rowwise
from .term import quantized_data_term, quantized_term

QUANTIZERS = {
    cls.__name__: cls
    for cls in (quantized_term, quantized_data_term, quantized_fixed, quantized_pot, quantized_onion, quantized_rowwise)
}


def register_custom_objects():
    """Make models that use the kit's quantizers loadable by Keras and QKeras; returns the objects."""
    tf.keras.utils.get_custom_objects().update(QUANTIZERS)
    return dict(QUANTIZERS)


def custom_objects():
    """Everything ``tf.keras.models.load_model`` needs for a model of the kit: QKeras's layers and ours."""
    from qkeras.utils import _add_supported_quantized_objects

    from .bn import SwitchableBatchNormalization

    objects = register_custom_objects()
    _add_supported_quantized_objects(objects)
    objects["SwitchableBatchNormalization"] = SwitchableBatchNormalization
    return objects


def _all_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
        yield layer


def kit_quantizers(model):
    """Every quantizer of the kit used by a Keras model's layers, once each."""
    found = []
    for layer in _all_layers(model):
        candidates = list(getattr(layer, "quantizers", None) or [])
        candidates += [getattr(layer, "quantizer", None), getattr(layer, "activation", None)]
        for q in candidates:
            if isinstance(q, KitQuantizer) and all(q is not f for f in found):
                found.append(q)
    return found


def multi_resolution_quantizers(model):
    """Everything the resolution switch drives: multi-resolution quantizers and switchable layers."""
    switchable = [layer for layer in _all_layers(model) if getattr(layer, "is_multi_resolution", False) is True]
    return [q for q in kit_quantizers(model) if q.is_multi_resolution] + switchable


def n_resolutions(model):
    """How many resolutions the model's multi-resolution quantizers have (1 when it has none)."""
    if not multi_resolution_quantizers(model):
        return 1
    counts = {q.n_resolutions for q in multi_resolution_quantizers(model)}
    if len(counts) != 1:
        raise ValueError(f"model's multi-resolution quantizers disagree on the number of resolutions: {sorted(counts)}")
    return counts.pop()


def set_resolution(model, index):
    """Switch every multi-resolution quantizer of ``model`` to resolution ``index`` (no retracing)."""
    n = n_resolutions(model)
    if not 0 <= int(index) < n:
        raise ValueError(f"resolution {index} out of range 0..{n - 1}")
    for q in multi_resolution_quantizers(model):
        q.set_resolution(index)


def resolution_variables(model):
    return [q.resolution for q in multi_resolution_quantizers(model)]
