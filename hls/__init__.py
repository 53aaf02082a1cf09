"""hls4ml conversion of multi-resolution models: ``config_from_keras_model``, ``convert_from_keras_model``."""

from .api import MultiResolutionModel, config_from_keras_model, convert_from_keras_model

__all__ = ["MultiResolutionModel", "config_from_keras_model", "convert_from_keras_model"]
