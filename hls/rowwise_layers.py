"""hls4ml layers for row-wise mixed schemes and precisions (SPEC section 4): three cores per layer.

The rows of each scheme go to their own core, with a compact weight table
holding only that scheme's rows: PoT-W4 rows (shift-add, in LUTs), Fixed-W4
and Fixed-W8 rows (multipliers, in DSP blocks). A core's row r sums
``x_i * code_ri`` on its own grid ``2^(e_r - data_frac)``; shifting it by
``row_shift = e_r - e_min (+ the bias's extra fraction bits)`` puts every row
on one output grid, and ``row_index`` puts it back at its original position.

The input is read as its integer code (the input's fixed-point type, any
sign), as the mMAC's shift mode does. Every kit layer takes the resolution
port as its second input; the row-wise layer has one design for every
resolution and ignores the value.
"""

import numpy as np
from hls4ml.model.layers import Layer
from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

from mrfpga.training.errors import ConversionError
from mrfpga.training.rowwise import FIXED4, FIXED8, POT4, SCHEME_BITS

from .layers import MMACDense, bits_for

CORES = (("pot", POT4), ("fixed4", FIXED4), ("fixed8", FIXED8))
MAX_EXACT_BITS = 52  # the widest integer a double (the exact reference, hls4ml's predict) holds exactly


def code_magnitudes(codes, scheme):
    """|integer weight| of every code: PoT codes ±k stand for ±2^(k-1)."""
    codes = np.abs(codes)
    return np.where(codes == 0, 0, 2 ** np.maximum(codes - 1, 0)) if scheme == POT4 else codes


class RowwiseDense(Layer):
    """Dense layer on three row-wise cores; output = the exact sum plus the bias, on one fixed-point grid."""

    def initialize(self):
        # Look through flatten/max pooling: their output types are only inferred later.
        precision = MMACDense.data_source(self).get_output_variable().type.precision
        if not isinstance(precision, (FixedPrecisionType, IntegerPrecisionType)):
            raise ConversionError(f"layer {self.name}: its input type {precision} is not fixed point")
        self.set_attr("data_bits", precision.width)
        self.set_attr("data_frac", precision.width - precision.integer)
        self.set_attr("data_int_t", f"ap_{'' if precision.signed else 'u'}int<{precision.width}>")
        # The largest input code magnitude.
        self.set_attr("data_max", 2 ** (precision.width - 1) if precision.signed else 2**precision.width - 1)
        self._build_cores()
        self.add_outputs()

    def add_outputs(self):
        self.add_output_variable([self.get_attr("n_out")], precision=self.get_attr("result_precision"))

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
        bias = self.get_attr("bias_values") * 2.0**acc_frac
        if not np.array_equal(bias, np.round(bias)):
            raise ConversionError(f"layer {self.name}: bias is not on its quantizer's grid")
        row_sums = np.zeros(n_out, np.int64)  # sum of |integer weight| per row
        for _, scheme in CORES:
            rows = schemes == scheme
            row_sums[rows] = code_magnitudes(codes[:, rows], scheme).sum(axis=0)
        # Python integers: the bound itself may pass what a double holds.
        bound = max((data_max * int(s) << int(k)) + abs(int(b)) for s, k, b in zip(row_sums, shifts, bias, strict=True))
        width = bits_for(bound) + 1
        if width > MAX_EXACT_BITS:
            raise ConversionError(f"layer {self.name}: its output needs {width} bits, more than a double holds exactly")
        self.set_attr("acc_width", width)
        self.set_attr("result_precision", FixedPrecisionType(width=width, integer=width - acc_frac, signed=True))
        self.set_attr("n_fixed_rows", int(np.sum(schemes != POT4)))
        for name, scheme in CORES:
            self._build_core(name, scheme, np.flatnonzero(schemes == scheme), codes, shifts, row_sums)
        self.add_weights_variable(
            name="bias",
            var_name="b{index}",
            type_name="bias{index}_t",
            precision=IntegerPrecisionType(width=width, signed=True),
            data=bias.astype(np.int64),
        )

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


class RowwiseConv2D(RowwiseDense):
    """Conv2D on the row-wise cores: each output pixel is a ``RowwiseDense`` over its input patch.

    The patch is (filter row, filter column, channel), flattened: the kernel's own order.
    """

    def add_outputs(self):
        shape = [self.get_attr("out_height"), self.get_attr("out_width"), self.get_attr("n_filt")]
        self.add_output_variable(shape, precision=self.get_attr("result_precision"))
