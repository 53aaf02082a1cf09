"""Three hls4ml 1.3.0 optimizer passes the kit needs changed, where hls4ml has no public hook.

hls4ml keeps one instance of each pass in its optimizer map for every model, so the kit puts a subclass
there. Each subclass behaves exactly as hls4ml's own pass for any model the kit did not convert
(``is_kit_model``): a plain hls4ml conversion in the same process writes the same project, byte for byte
(tests/test_hls_registry.py). For the kit's models:

- precision inference: a type hls4ml cannot infer under the kit's ``auto`` default precision (an
  activation's lookup table) takes its attribute's default (hls4ml 1.3.0 would give it ``auto`` again and
  retry forever), and a power-of-two layer gets an accumulator that holds its sum exactly;
- type transformation and stream cloning: in io_stream the resolution port stays a plain value that every
  layer reads, not a stream (hls4ml clones a stream per reader).
"""

from hls4ml.backends.fpga.passes.clone import CloneOutput
from hls4ml.backends.vivado.passes.transform_types import TransformTypes
from hls4ml.model.optimizer.optimizer import optimizer_map
from hls4ml.model.optimizer.passes.infer_precision import InferPrecisionTypes
from hls4ml.model.types import ExponentPrecisionType, FixedPrecisionType, UnspecifiedPrecisionType

from .common import KIT_CONFIG_KEY, RESOLUTION_PORT
from .hls4ml_layers import exact_po2_accumulator


def is_kit_model(model):
    """Converted by ``mrfpga.hls.project.convert`` (its config names the board)."""
    return model.config.get_config_value(KIT_CONFIG_KEY) is not None


class KitInferPrecisionTypes(InferPrecisionTypes):
    def _infer_default_type(self, node, type_name):
        config = node.model.config
        default = config.backend.convert_precision_string(config.model_precision["default"])
        if not is_kit_model(node.model) or not isinstance(default, UnspecifiedPrecisionType):
            return super()._infer_default_type(node, type_name)
        attribute = next((a for a in node.expected_attributes if a.name == type_name), None)
        precision = getattr(attribute, "default", None) or FixedPrecisionType(16, 6)
        node.types[type_name].precision = precision
        weight_name = type_name.removesuffix("_t")
        if weight_name in node.weights:
            node.weights[weight_name].update_precision(precision)

    def _infer_common_precision(self, node, types_to_infer, n_ops):
        inferred = super()._infer_common_precision(node, types_to_infer, n_ops)
        weight = node.types["weight_t"].precision
        if is_kit_model(node.model) and isinstance(weight, ExponentPrecisionType) and "accum_t" in inferred:
            exact = exact_po2_accumulator(node, n_ops)
            for name in ("accum_t", "result_t"):
                if name in inferred and isinstance(node.types[name].precision, UnspecifiedPrecisionType):
                    node.types[name].precision = exact
        return inferred


def _is_stream_resolution_port(model, node):
    return (
        is_kit_model(model) and node.name == RESOLUTION_PORT and model.config.get_config_value("IOType") == "io_stream"
    )


class KitTransformTypes(TransformTypes):
    def transform(self, model, node):
        if _is_stream_resolution_port(model, node):
            for out_name, var in node.variables.items():
                node.set_attr(out_name, self.array_var_converter.convert(var, pragma="reshape"))
            for t_name, t in node.types.items():
                node.set_attr(t_name, self.type_converter.convert(t))
            return False
        return super().transform(model, node)


class KitCloneOutput(CloneOutput):
    def match(self, node):
        return not _is_stream_resolution_port(node.model, node) and super().match(node)


PASSES = {
    "infer_precision_types": KitInferPrecisionTypes,
    "vivado:transform_types": KitTransformTypes,
    "vitis:transform_types": KitTransformTypes,
    "vivado:clone_output": KitCloneOutput,
}


def install():
    for name, cls in PASSES.items():
        if name in optimizer_map and not isinstance(optimizer_map[name], cls):
            optimizer_map[name] = cls()
