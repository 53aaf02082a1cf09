"""What a layer family module provides (``data_terms``, ``scale_shift``, ``mmac``, ``rowwise``): the registry
(``mrfpga.hls.layers.registry``) registers these names with hls4ml, the estimates (``mrfpga.hls.cost``) read
the cost model. A new family is one module with these names, added to ``registry.FAMILIES``."""

from collections.abc import Callable, Mapping
from typing import Protocol

from hls4ml.backends.template import Template
from hls4ml.model.layers import Layer


class LayerFamily(Protocol):
    # hls4ml IR layers by class name; each declares its attributes in ``_expected_attributes``.
    LAYERS: Mapping[str, type[Layer]]
    # Config and function templates of the layers (the C++ they write into the project).
    TEMPLATES: tuple[type[Template], ...]
    # Handlers of Keras classes of the kit's own (a QKeras layer is routed through ``kit_parser``).
    KERAS_HANDLERS: Mapping[str, Callable]

    def kit_parser(self, keras_class: str, keras_layer: dict) -> Callable | None:
        """The parser of a QKeras layer marked as using a kit quantizer, when this family converts it."""

    def cycles(self, node: Layer, resolution: int) -> int:
        """Cycles one sample (a frame) takes in ``node`` at ``resolution``: what C simulation counts."""

    def resources(self, node: Layer) -> dict[str, int]:
        """Estimated LUT, FF, BRAM_18K and DSP48E1 of ``node`` (docs/estimates.md)."""
