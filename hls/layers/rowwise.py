"""The row-wise family (docs/algorithms.md, row-wise mixed precision): QDense and QConv2D with a
``quantized_rowwise`` kernel, mixed schemes and precisions per row, on three cores per layer (``RowwiseDense``,
``RowwiseConv2D``: ``nnet::rowwise_dense``, ``nnet::rowwise_conv2d``).

Keras side: every row (a Dense neuron or a Conv filter) becomes integers: a power-of-two
step ``2^e_r`` and one integer code per weight, ``w = code_value * 2^e_r``:

- PoT-W4 rows: code 0 is a zero weight, ``±k`` is ``±2^(k-1)`` (k = 1..7: the
  seven magnitudes of the 4-bit PoT level set), so the product is a shift;
- Fixed-W4 / Fixed-W8 rows: the signed integer weight itself (±7 / ±127).

The step is the coarsest power of two that divides every weight of the row,
read from the quantized values of the live quantizer (its row assignment and
learned clips included), then checked against the scheme's code range: a
row that does not fit is not on its scheme's level set and is refused.

hls4ml side: the rows of each scheme go to their own core, with a compact weight table
holding only that scheme's rows: PoT-W4 rows (shift-add, in LUTs), Fixed-W4
and Fixed-W8 rows (multipliers, in DSP blocks). A core's row r sums
``x_i * code_ri`` on its own grid ``2^(e_r - data_frac)``; shifting it by
``row_shift = e_r - e_min (+ the bias's extra fraction bits)`` puts every row
on one output grid, and ``row_index`` puts it back at its original position.

The input is read as its integer code (the input's fixed-point type, any
sign), as the mMAC's shift mode does. Every kit layer takes the resolution
port as its second input; the row-wise layer has one design for every
resolution and ignores the value.

Cost model: weights are constants: at ``reuse_factor`` 1 they fold into the logic
(a PoT shift is wiring, a zero weight disappears), so only nonzero weights
cost anything (docs/estimates.md).
"""

import math

import numpy as np
import tensorflow as tf
from hls4ml.model.attributes import Attribute
from hls4ml.model.types import IntegerPrecisionType

from mrfpga.training.errors import ConversionError
from mrfpga.training.quantizers.base import frac_bits_of
from mrfpga.training.quantizers.rowwise import FIXED4, FIXED8, POT4, SCHEME_BITS, SCHEMES

from .common import (
    KitFunctionTemplate,
    bits_for,
    config_struct,
    include_lists,
    table_function,
    unsigned,
)
from .exact_dense import ExactConv2D, ExactDense, ExactDenseConfigTemplate, core_kit_parser

CORES = (("pot", POT4), ("fixed4", FIXED4), ("fixed8", FIXED8))


def code_magnitudes(codes, scheme):
    """|integer weight| of every code: PoT codes ±k stand for ±2^(k-1)."""
    codes = np.abs(codes)
    return np.where(codes == 0, 0, 2 ** np.maximum(codes - 1, 0)) if scheme == POT4 else codes


class RowwiseDense(ExactDense):
    """Dense layer on three row-wise cores; output = the exact sum plus the bias, on one fixed-point grid."""

    _expected_attributes = [
        Attribute("n_out"),
        Attribute("weight_codes", value_type=None),  # integer codes, (fan-in, n_out)
        Attribute("row_schemes", value_type=None),  # per row: PoT4, Fixed4 or Fixed8
        Attribute("row_exponents", value_type=None),  # per row: its step's exponent (None: a row of zeros)
        Attribute("data_bits"),
        Attribute("acc_width"),
    ]

    def initialize(self):
        # Look through flatten/max pooling: their output types are only inferred later.
        precision = self.data_source().get_output_variable().type.precision
        self.read_fixed_point_input(precision)
        # The largest input code magnitude.
        self.set_attr("data_max", 2 ** (precision.width - 1) if precision.signed else 2**precision.width - 1)
        self._build_cores()
        self.add_outputs()

    def _build_cores(self):
        n_out = self.get_attr("n_out")
        codes = np.asarray(self.get_attr("weight_codes"), np.int64).reshape(-1, n_out)
        self.set_attr("patch_size", codes.shape[0])
        schemes = np.asarray(self.get_attr("row_schemes"))
        exponents = [e for e in self.get_attr("row_exponents") if e is not None]
        e_min = min(exponents, default=0)
        # A row of zeros contributes nothing: any step will do.
        row_exp = np.array([e_min if e is None else e for e in self.get_attr("row_exponents")], np.int64)
        data_frac, data_max = self.get_attr("data_frac"), self.get_attr("data_max")
        acc_frac = max(data_frac - e_min, self.get_attr("bias_frac"))
        shifts = acc_frac - data_frac + row_exp
        bias = self.bias_on_grid(acc_frac)
        row_sums = np.zeros(n_out, np.int64)  # sum of |integer weight| per row
        for _, scheme in CORES:
            rows = schemes == scheme
            row_sums[rows] = code_magnitudes(codes[:, rows], scheme).sum(axis=0)
        # Python integers: the bound itself may pass what a double holds.
        bound = max((data_max * int(s) << int(k)) + abs(int(b)) for s, k, b in zip(row_sums, shifts, bias, strict=True))
        self.set_accumulator(bound, acc_frac)
        self.set_attr("n_fixed_rows", int(np.sum(schemes != POT4)))
        for name, scheme in CORES:
            self._build_core(name, scheme, np.flatnonzero(schemes == scheme), codes, shifts, row_sums)
        self.add_bias_table(bias)

    def _build_core(self, name, scheme, rows, codes, shifts, row_sums):
        """One scheme's compact table (its rows, row-major) and where each of its rows goes."""
        table = codes[:, rows].T.reshape(-1)
        self.set_attr(f"{name}_rows", len(rows))
        self.set_attr(f"{name}_index", [int(r) for r in rows])
        self.set_attr(f"{name}_shift", [int(shifts[r]) for r in rows])
        # The core's own accumulator: the largest |row sum| before the shift onto the output grid.
        self.set_attr(f"{name}_acc_width", bits_for(self.get_attr("data_max") * int(row_sums[rows].max(initial=0))) + 1)
        self.set_attr(f"{name}_nonzero", int(np.count_nonzero(table)))
        self.add_weights_variable(
            name=f"{name}_weights",
            var_name=f"w{name}_{{index}}",
            type_name=f"{name}_weights{{index}}_t",
            precision=IntegerPrecisionType(width=SCHEME_BITS[scheme], signed=True),
            data=table if table.size else np.zeros(1, np.int64),  # C++ has no empty arrays
        )


class RowwiseConv2D(ExactConv2D, RowwiseDense):
    """Conv2D on the row-wise cores: each output pixel is a ``RowwiseDense`` over its input patch."""


LAYERS = {"RowwiseDense": RowwiseDense, "RowwiseConv2D": RowwiseConv2D}


# Keras handlers.

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


def rowwise_attributes(name, quantizer, kernel):
    """What a row-wise layer reads from its kernel: the scheme, step and codes of every row."""
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
    return {"row_schemes": schemes, "row_exponents": exponents, "weight_codes": codes}  # codes: (fan-in, n_out)


kit_parser = core_kit_parser("Rowwise", ("quantized_rowwise",), rowwise_attributes)


KERAS_HANDLERS = {}  # no Keras classes of its own: QDense and QConv2D layers marked by common.mark_kit_layers


# Templates.

rowwise_include_lists = include_lists("nnet_rowwise.h")  # one header, both io types

rowwise_core_template = """struct {name} : nnet::rowwise_core_config {{
        static const unsigned n_in = {n_in};
        static const unsigned n_rows = {n_rows};
        static const unsigned table_size = {table_size};
        typedef {weight_t} weight_t;
        typedef ap_int<{acc_width}> accum_t;
        typedef ap_int<{product_width}> product_t;
        {row_index_function}
        {row_shift_function}
    }};"""

rowwise_dense_config_template = config_struct(
    "config{index}{suffix}",
    "nnet::rowwise_dense_config",
    *unsigned("n_in n_out reuse_factor=reuse multiplier_limit"),
    "typedef {data_int_t} data_int_t;",
    "typedef ap_int<{acc_width}> accum_t;",
    "typedef {bias_t} bias_t;",
    "{cores}",
)

rowwise_function_template = (
    "nnet::{function}<{{input_t}}, {{output_t}}, {{config}}>({{input}}, {{output}}, {{pot_weights}}, "
    "{{fixed4_weights}}, {{fixed8_weights}}, {{bias}}, {{resolution}});"
)


def _nested(function):
    return function.replace("\n", "\n    ")


def _core_config(node, name, n_in):
    n_rows = node.get_attr(f"{name}_rows")
    weights = node.get_weights(f"{name}_weights")
    return rowwise_core_template.format(
        name=name,
        n_in=n_in,
        n_rows=n_rows,
        table_size=max(1, n_rows * n_in),
        weight_t=weights.type.name,
        acc_width=node.get_attr(f"{name}_acc_width"),
        product_width=node.get_attr("data_bits") + weights.type.precision.width + 1,
        # An empty core still gets one entry: C++ has no empty arrays, and the core never reads it.
        row_index_function=_nested(table_function("row_index", node.get_attr(f"{name}_index") or [0])),
        row_shift_function=_nested(table_function("row_shift", node.get_attr(f"{name}_shift") or [0])),
    )


class RowwiseDenseConfigTemplate(ExactDenseConfigTemplate):
    LAYER, TEMPLATE, FAMILY = RowwiseDense, rowwise_dense_config_template, "rowwise"

    def params(self, node, params):
        n_in = node.get_attr("patch_size")
        params.update(
            n_in=n_in,
            multiplier_limit=max(1, -(-n_in * node.get_attr("n_fixed_rows") // node.get_attr("reuse_factor"))),
            bias_t=node.get_weights("bias").type.name,
            cores="\n    ".join(_core_config(node, name, n_in) for name, _ in CORES),
        )
        return params


class RowwiseDenseFunctionTemplate(KitFunctionTemplate):
    LAYER, TEMPLATE, INCLUDES = (
        RowwiseDense,
        rowwise_function_template.format(function="rowwise_dense"),
        rowwise_include_lists,
    )
    WEIGHTS = (*(f"{name}_weights" for name, _ in CORES), "bias")


class RowwiseConv2DConfigTemplate(RowwiseDenseConfigTemplate):
    LAYER, CONV2D = RowwiseConv2D, True


class RowwiseConv2DFunctionTemplate(RowwiseDenseFunctionTemplate):
    LAYER, TEMPLATE = RowwiseConv2D, rowwise_function_template.format(function="rowwise_conv2d")


TEMPLATES = (
    RowwiseDenseConfigTemplate,
    RowwiseDenseFunctionTemplate,
    RowwiseConv2DConfigTemplate,
    RowwiseConv2DFunctionTemplate,
)


# Cost model (docs/estimates.md).

LUTROM_BITS = 64
FIXED_CORES = ("fixed4", "fixed8")


def cycles(node, resolution):
    """``pixels * (reuse_factor + ceil(log2(fan-in)) + 1)``: products, adder tree, shift and bias."""
    fan_in = node.get_attr("patch_size")
    tree = math.ceil(math.log2(fan_in)) if fan_in > 1 else 0
    return node.pixels() * (node.get_attr("reuse_factor") + tree + 1)


def resources(node):
    reuse = node.get_attr("reuse_factor")
    acc, n_out = node.get_attr("acc_width"), node.get_attr("n_out")
    multipliers = sum(node.get_attr(f"{core}_nonzero") for core in FIXED_CORES)
    # One adder per nonzero weight, as wide as its core's accumulator (one LUT a bit), plus the bias adders.
    adder_bits = sum(node.get_attr(f"{c}_nonzero") * node.get_attr(f"{c}_acc_width") for c in ("pot", *FIXED_CORES))
    lut = adder_bits + n_out * acc
    if reuse > 1:  # weights are read, not folded: LUT ROM
        lut += sum(-(-w.data_length * w.type.precision.width // LUTROM_BITS) for w in node.get_weights())
    return {"LUT": lut, "FF": n_out * acc, "BRAM_18K": 0, "DSP48E1": -(-multipliers // reuse)}
