"""Term-quantized multi-resolution training for QKeras models."""

from .multires import accuracy_per_resolution, distillation_loss, train_multires
from .quantizers import (
    n_resolutions,
    quantized_data_term,
    quantized_term,
    register_custom_objects,
    set_resolution,
)

register_custom_objects()

__all__ = [
    "accuracy_per_resolution",
    "distillation_loss",
    "n_resolutions",
    "quantized_data_term",
    "quantized_term",
    "register_custom_objects",
    "set_resolution",
    "train_multires",
]
