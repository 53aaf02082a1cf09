"""QKeras quantizers and multi-resolution training of the kit."""

from .quantizers import (
    quantized_data_term,
    quantized_fixed,
    quantized_onion,
    quantized_pot,
    quantized_rowwise,
    quantized_term,
    register_custom_objects,
)
from .resolution import n_resolutions, set_resolution
from .steps import accuracy_per_resolution, distillation_loss, train_multires

register_custom_objects()

__all__ = [
    "accuracy_per_resolution",
    "distillation_loss",
    "n_resolutions",
    "quantized_data_term",
    "quantized_fixed",
    "quantized_onion",
    "quantized_pot",
    "quantized_rowwise",
    "quantized_term",
    "register_custom_objects",
    "set_resolution",
    "train_multires",
]
