"""The kit's QKeras quantizers, a module per family.

Term (``quantized_term``: ``term``; ``quantized_data_term``: ``data_term``), fixed point (``quantized_fixed``:
``fixed``), power of two (``quantized_pot``: ``pot``), onion/bit sharing (``quantized_onion``: ``onion``) and
row-wise mixed (``quantized_rowwise``: ``rowwise``); what they share in ``base``.
"""

import tensorflow as tf

from .data_term import quantized_data_term
from .fixed import quantized_fixed
from .onion import quantized_onion
from .pot import quantized_pot
from .rowwise import quantized_rowwise
from .term import quantized_term

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

    from ..switchable_bn import SwitchableBatchNormalization

    objects = register_custom_objects()
    _add_supported_quantized_objects(objects)
    objects["SwitchableBatchNormalization"] = SwitchableBatchNormalization
    return objects
