"""Keras-to-hls4ml handlers for QDense and QConv2D with a ``quantized_rowwise`` kernel (SPEC section 4).

Every row (a Dense neuron or a Conv filter) becomes integers: a power-of-two
step ``2^e_r`` and one integer code per weight, ``w = code_value * 2^e_r``:

- PoT-W4 rows: code 0 is a zero weight, ``±k`` is ``±2^(k-1)`` (k = 1..7: the
  seven magnitudes of the 4-bit PoT level set), so the product is a shift;
- Fixed-W4 / Fixed-W8 rows: the signed integer weight itself (±7 / ±127).

The step is the coarsest power of two that divides every weight of the row,
read from the quantized values of the live quantizer (its row assignment and
learned clips included), then checked against the scheme's code range: a
row that does not fit is not on its scheme's level set and is refused.
"""

import numpy as np
import tensorflow as tf
from hls4ml.converters.keras_v2_to_hls import get_weights_data

from mrfpga.training.base import frac_bits_of
from mrfpga.training.errors import ConversionError
from mrfpga.training.rowwise import POT4, SCHEME_BITS, SCHEMES

from .handlers import _parse_default, _quantizer, exact_bias

POT_MAX_SHIFT = 2 ** (SCHEME_BITS[POT4] - 1) - 2  # 4-bit PoT: magnitudes 2^-6 .. 2^0 of the row's alpha


def row_integers(values, scheme):
    """(e, codes) with ``values == weight(codes) * 2^e``; e is None for a row of zeros."""
    nonzero = values[values != 0]
    if nonzero.size == 0:
        return None, np.zeros(values.shape, np.int64)
    frac = frac_bits_of(nonzero, lowest=-64, highest=160)  # float32 weights: always found
    ints = np.round(values * 2.0**frac).astype(np.int64)
    if scheme == POT4:
        magnitudes = np.abs(ints)
        shifts = np.log2(np.maximum(magnitudes, 1)).astype(np.int64)
        codes = np.where(magnitudes == 0, 0, np.sign(ints) * (shifts + 1))
        fits = np.all((magnitudes == 0) | (magnitudes == 2**shifts)) and shifts.max() <= POT_MAX_SHIFT
    else:
        codes = ints
        fits = np.abs(ints).max() <= 2 ** (SCHEME_BITS[scheme] - 1) - 1
    if not fits:
        raise ConversionError(
            f"a {SCHEMES[scheme]} row is not on its level set: {sorted(set(values.tolist()))[:8]} ..."
        )
    return -frac, codes


def rowwise_attributes(keras_layer, kernel, bias, data_reader):
    """The node attributes of a row-wise layer: schemes, steps and codes of every row, and the exact bias."""
    config = keras_layer["config"]
    name = config["name"]
    if config.get("activation") not in (None, "linear"):
        raise ConversionError(f"layer {name}: put the activation in a QActivation; a row-wise layer computes none")
    quantizer = _quantizer(keras_layer, "kernel_quantizer", data_reader)
    x = tf.constant(kernel, tf.float32)
    n_out = int(kernel.shape[-1])
    schemes = [int(s) for s in quantizer.row_codes(x).numpy()]
    values = quantizer(x).numpy().astype(np.float64).reshape(-1, n_out)
    codes = np.zeros(values.shape, np.int64)
    exponents = []
    for r, scheme in enumerate(schemes):
        try:
            exponent, codes[:, r] = row_integers(values[:, r], scheme)
        except ValueError as err:
            raise ConversionError(f"layer {name}, row {r}: {err}") from None
        exponents.append(exponent)
    return {
        "n_out": n_out,
        "row_schemes": schemes,
        "row_exponents": exponents,
        "weight_codes": codes,  # (fan-in, n_out)
        **exact_bias(keras_layer, bias, n_out, data_reader),
    }


def parse_rowwise_dense(keras_layer, input_names, input_shapes, data_reader):
    kernel, bias = get_weights_data(data_reader, keras_layer["config"]["name"], ["kernel", "bias"])
    layer = _parse_default(keras_layer, input_names)
    layer.update(class_name="RowwiseDense", n_in=int(kernel.shape[0]))
    layer.update(rowwise_attributes(keras_layer, kernel, bias, data_reader))
    return layer, [input_shapes[0][0], int(kernel.shape[1])]


def parse_rowwise_conv2d(keras_layer, input_names, input_shapes, data_reader):
    from hls4ml.converters.keras.convolution import parse_conv2d_layer

    config = keras_layer["config"]
    if config.get("data_format", "channels_last") != "channels_last":
        raise ConversionError(f"layer {config['name']}: the row-wise Conv2D supports channels_last only")
    if tuple(config.get("dilation_rate", (1, 1))) != (1, 1):
        raise ConversionError(f"layer {config['name']}: the row-wise Conv2D supports undilated convolutions only")
    layer, output_shape = parse_conv2d_layer(keras_layer, input_names, input_shapes, data_reader)
    layer.pop("activation", None)
    kernel, bias = layer.pop("weight_data"), layer.pop("bias_data")
    layer["class_name"] = "RowwiseConv2D"
    layer.update(rowwise_attributes(keras_layer, kernel, bias, data_reader))
    return layer, output_shape


PARSERS = {"QDense": parse_rowwise_dense, "QConv2D": parse_rowwise_conv2d}


def parse_rowwise(keras_class, keras_layer, input_names, input_shapes, data_reader):
    return PARSERS[keras_class](keras_layer, input_names, input_shapes, data_reader)
