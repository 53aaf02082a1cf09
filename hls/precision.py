"""hls4ml's precision inference as the kit's conversion needs it (Model precision 'auto', exact types)."""

import math

import numpy as np
from hls4ml.model.optimizer.passes.infer_precision import InferPrecisionTypes
from hls4ml.model.types import ExponentPrecisionType, FixedPrecisionType, UnspecifiedPrecisionType


class InferPrecisionOrAttributeDefault(InferPrecisionTypes):
    """hls4ml's precision inference, except that a type it cannot infer (an activation's lookup table) takes
    its attribute's default when the model's default precision is 'auto', as the kit's conversion sets it.
    hls4ml would give it 'auto' again and retry it forever."""

    def _infer_default_type(self, node, type_name):
        config = node.model.config
        default = config.backend.convert_precision_string(config.model_precision["default"])
        if not isinstance(default, UnspecifiedPrecisionType):
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
        if isinstance(weight, ExponentPrecisionType) and "accum_t" in inferred:
            exact = exact_po2_accumulator(node, n_ops)
            for name in ("accum_t", "result_t"):
                if name in inferred and isinstance(node.types[name].precision, UnspecifiedPrecisionType):
                    node.types[name].precision = exact
        return inferred


def exact_po2_accumulator(node, n_ops):
    """The fixed-point type that holds a power-of-two layer's sum exactly: products ``x * 2^e`` over the
    exponents actually in the weights, ``n_ops`` of them, plus the bias (hls4ml infers none for them)."""
    data = np.abs(node.weights["weight"].data)
    exponents = np.log2(data[data > 0]) if (data > 0).any() else np.zeros(1)
    low, high = int(exponents.min()), int(exponents.max())
    x = node.get_input_variable().type.precision
    frac = x.width - x.integer - low
    kept = node.types["weight_t"].precision.width + x.width  # nnet::product::weight_exponential's fraction bits
    if frac > kept:
        raise ValueError(
            f"layer {node.name}: weights down to 2^{low} need {frac} fraction bits, hls4ml's power-of-two product "
            f"keeps {kept}: the result would not match Keras; use fewer quantized_po2 bits"
        )
    integer = x.integer + high + math.ceil(math.log2(max(n_ops, 2))) + (0 if x.signed else 1)
    bias = node.types["bias_t"].precision
    if isinstance(bias, FixedPrecisionType):
        frac = max(frac, bias.width - bias.integer)
        integer = max(integer, bias.integer) + 1
    return FixedPrecisionType(integer + frac, integer, True)
