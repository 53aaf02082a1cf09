"""Exact types hls4ml does not infer itself."""

import math

import numpy as np
from hls4ml.model.types import FixedPrecisionType

from mrfpga.training.errors import ConversionError


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
        raise ConversionError(
            f"layer {node.name}: weights down to 2^{low} need {frac} fraction bits, hls4ml's power-of-two product "
            f"keeps {kept}: the result would not match Keras; use fewer quantized_po2 bits"
        )
    integer = x.integer + high + math.ceil(math.log2(max(n_ops, 2))) + (0 if x.signed else 1)
    bias = node.types["bias_t"].precision
    if isinstance(bias, FixedPrecisionType):
        frac = max(frac, bias.width - bias.integer)
        integer = max(integer, bias.integer) + 1
    return FixedPrecisionType(integer + frac, integer, True)
