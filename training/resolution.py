"""The model-level resolution switch: every multi-resolution quantizer of a model and every switchable layer
(``switchable_bn``) hold a resolution index; ``set_resolution`` moves them all at once, without retracing."""

from .quantizers.base import KitQuantizer


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
