"""hls4ml layers of the kit: data-term quantization and the mMAC Dense.

Both take a second input, the model's run-time ``resolution`` port.
Precisions are exact by construction (SPEC section 7: an unknown quantizer
would otherwise fall back to ``ap_fixed<16,6>``).
"""

import math

import numpy as np
from hls4ml.model.layers import Layer
from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

from mrfpga.training.base import frac_bits_of
from mrfpga.training.errors import ConversionError
from mrfpga.training.terms import group_terms

ENCODING_IDS = {"binary": 0, "naf": 1, "hese": 2}  # nnet::term_encoding
UNITS = ("term_pair", "weight_term")  # nnet::mmac_unit
# The weight-term unit has the better measured LUT x cycles, but its cycles ignore the data terms a, so
# (a=2, k=14) and (a=3, k=14) would cost the same: the term-pair unit's fall at every step (docs/estimates.md).
DEFAULT_UNIT = "term_pair"
# Layers whose outputs are some of their inputs' values, unchanged (max pooling too).
VALUE_PRESERVING = ("Reshape", "Transpose")


def bits_for(n):
    """Unsigned bits to hold values 0..n (at least 1)."""
    return max(1, math.ceil(math.log2(n + 1)))


class DataTerm(Layer):
    """Unsigned fixed point on a ``bits``/``integer`` grid, then the ``a`` most significant terms per value.

    Onion activations use the same layer: ``floors[r]`` low bits of the code
    are dropped at resolution r (the top bits of one code), and the grid
    rounds half to even as ``tf.round`` does (data terms round half up).
    """

    def initialize(self):
        bits, integer = self.get_attr("bits"), self.get_attr("integer")
        self.set_attr("n_in", self.get_input_variable().size())
        if self.get_attr("floors") is None:
            self.set_attr("floors", [0] * len(self.get_attr("budgets")))
        self.set_attr("rounding", "AP_RND_CONV" if self.get_attr("round_half_even") else "AP_RND")
        # A NAF top term can round a value up to 2^bits: one extra bit.
        self.set_attr("encoding_id", ENCODING_IDS[self.get_attr("encoding")])
        out = FixedPrecisionType(width=bits + 1, integer=integer + 1, signed=False)
        self.add_output_variable(self.get_input_variable().shape, precision=out)

    @property
    def frac_bits(self):
        return self.get_attr("bits") - self.get_attr("integer")

    def core_spec(self):
        """The layer as plain data (docs/mmac_core.md): what the Verilog twin is built from."""
        source = self.get_input_variable().type.precision
        return {
            "kind": "data_term",
            "name": self.name,
            "n_in": self.get_attr("n_in"),
            "bits": self.get_attr("bits"),
            "frac": self.frac_bits,
            "encoding": self.get_attr("encoding"),
            "budgets": list(self.get_attr("budgets")),
            "floors": list(self.get_attr("floors")),
            "round_half_even": bool(self.get_attr("round_half_even")),
            "in_width": source.width,
            "in_frac": source.width - source.integer,
            "in_signed": bool(source.signed),
        }


class MMACDense(Layer):
    """Dense layer on the multi-resolution term MAC.

    The term table stores, per (output, group), up to ``max(budgets)`` terms
    sorted by significance; resolution r reads the first ``budgets[r]``.
    After a ``DataTerm`` layer, products are term pairs ``±2^(w_exp + d_exp)``;
    after any other layer (shift mode) each weight term shifts the whole
    activation. Output = the sum plus the bias, as an integer on the grid
    ``2^-acc_frac``, exactly.
    """

    def data_source(self):
        """The layer that sets this layer's input values, looking through value-preserving layers."""
        node = self.get_input_node(self.inputs[0])
        while node.class_name in VALUE_PRESERVING or (
            node.class_name.startswith("Pooling") and node.get_attr("pool_op") == "Max"
        ):
            node = node.get_input_node(node.inputs[0])
        return node

    def initialize(self):
        source = self.data_source()
        n_res = len(self.get_attr("weight_budgets"))
        if isinstance(source, DataTerm):
            self.set_attr("unit", self.get_attr("mmac_unit") or DEFAULT_UNIT)
            self.set_attr("data_bits", source.get_attr("bits") + 1)
            self.set_attr("data_frac", source.frac_bits)
            self.set_attr("data_budgets", list(source.get_attr("budgets")))
            self.set_attr("data_int_t", f"ap_uint<{source.get_attr('bits') + 1}>")
        else:
            precision = source.get_output_variable().type.precision
            if not isinstance(precision, (FixedPrecisionType, IntegerPrecisionType)):
                raise ConversionError(f"layer {self.name}: its input type {precision} is not fixed point")
            # Any fixed-point input: each weight term shifts the whole value.
            self.set_attr("unit", "weight_term")
            self.set_attr("data_bits", precision.width)
            self.set_attr("data_frac", precision.width - precision.integer)
            self.set_attr("data_budgets", [1] * n_res)
            self.set_attr("data_int_t", f"ap_{'' if precision.signed else 'u'}int<{precision.width}>")
        if self.get_attr("unit") not in UNITS:
            raise ConversionError(
                f"layer {self.name}: mmac_unit {self.get_attr('unit')!r} is not one of {', '.join(UNITS)}"
            )
        self.set_attr("unit_id", UNITS.index(self.get_attr("unit")))
        self.set_attr("data_signed", bool(source.get_output_variable().type.precision.signed))
        if self.get_attr("weight_floors") is None:
            self.set_attr("weight_floors", [0] * len(self.get_attr("weight_budgets")))
        # A single-resolution side follows the other side's resolution count.
        data, weight = self.get_attr("data_budgets"), self.get_attr("weight_budgets")
        if len(weight) == 1 and len(data) > 1:
            self.set_attr("weight_budgets", weight * len(data))
            self.set_attr("weight_floors", self.get_attr("weight_floors") * len(data))
        elif len(data) == 1 and len(weight) > 1:
            self.set_attr("data_budgets", data * len(weight))
        elif len(data) != len(weight):
            raise ConversionError(
                f"layer {self.name}: {source.name} and its kernel disagree on the number of resolutions"
            )
        self._build_term_table()
        self.add_outputs()

    def add_outputs(self):
        self.add_output_variable([self.get_attr("n_out")], precision=self.get_attr("result_precision"))

    def group_spans(self, n_in):
        """(first input, members) of every group: consecutive inputs along the fan-in."""
        g = self.get_attr("group_size")
        return [(start, min(g, n_in - start)) for start in range(0, n_in, g)]

    def _build_term_table(self):
        q = self.get_attr("weight_magnitudes").reshape(-1, self.get_attr("n_out"))  # int (fan-in, n_out)
        sign = self.get_attr("weight_signs").reshape(q.shape)
        n_in, n_out = q.shape
        spans = self.group_spans(n_in)
        n_groups, max_k = len(spans), max(self.get_attr("weight_budgets"))
        index_bits = bits_for(self.get_attr("group_size") - 1)
        exponent_bits = bits_for(self.get_attr("weight_bits"))
        valid_bit = 1 << (index_bits + exponent_bits + 1)
        groups = np.zeros((n_out * n_groups, max_k), dtype=np.int64)  # flat group f = output * n_groups + group
        for o in range(n_out):
            for j, (start, size) in enumerate(spans):
                kept = group_terms(q[start : start + size, o], self.get_attr("encoding"))[:max_k]
                for t, (exp, digit, idx) in enumerate(kept):
                    negative = (digit < 0) != (sign[start + idx, o] < 0)
                    groups[o * n_groups + j, t] = (
                        idx | exp << index_bits | int(negative) << (index_bits + exponent_bits) | valid_bit
                    )
        # reuse rounds: unit u serves flat group round * n_units + u (docs/mmac_core.md). A layer uses at most
        # one round per group: more would only add idle rounds.
        reuse = max(1, min(self.model.config.get_reuse_factor(self), len(groups)))
        n_units = -(-len(groups) // reuse)
        table = np.zeros((reuse * n_units, max_k), dtype=np.int64)
        table[: len(groups)] = groups
        table = table.reshape(reuse, n_units, max_k).transpose(0, 2, 1)  # [round][term slot][unit]
        # Every group walks the same term slots in lock step: per resolution, the fullest group's terms at or
        # above the exponent floor, at most the budget.
        valid = (groups & valid_bit).astype(bool)
        exponents = groups >> index_bits & ((1 << exponent_bits) - 1)
        self.set_attr(
            "group_terms",
            [
                min(k, int((valid & (exponents >= floor)).sum(axis=1).max(initial=0)))
                for k, floor in zip(self.get_attr("weight_budgets"), self.get_attr("weight_floors"), strict=True)
            ],
        )
        self.set_attr("rounds", reuse)  # the layer's own reuse: hls4ml keeps reuse_factor as configured
        self.set_attr("n_units", n_units)
        self.set_attr("group_bases", [start for start, _ in spans])
        self.set_attr("patch_size", n_in)
        self.set_attr("n_groups", n_groups)
        self.set_attr("max_weight_terms", max_k)
        self.set_attr("index_bits", index_bits)
        self.set_attr("exponent_bits", exponent_bits)
        self.add_weights_variable(
            name="terms",
            var_name="t{index}",
            type_name="terms{index}_t",
            precision=IntegerPrecisionType(width=index_bits + exponent_bits + 2, signed=False),
            data=table.reshape(-1),
        )
        self._build_accumulator(q)

    def core_spec(self):
        """The layer's lock-step core as plain data (docs/mmac_core.md): what the Verilog twin is built from."""
        reuse, n_units, max_k = (self.get_attr(a) for a in ("rounds", "n_units", "max_weight_terms"))
        table = self.get_weights("terms").data.reshape(reuse * max_k, n_units)
        return {
            "kind": "mmac_dense",
            "name": self.name,
            "n_in": self.get_attr("patch_size"),
            "n_out": self.get_attr("n_out"),
            "group_size": self.get_attr("group_size"),
            "n_groups": self.get_attr("n_groups"),
            "group_bases": list(self.get_attr("group_bases")),
            "reuse": reuse,
            "n_units": n_units,
            "max_terms": max_k,
            "table": table.tolist(),
            "index_bits": self.get_attr("index_bits"),
            "exponent_bits": self.get_attr("exponent_bits"),
            "mode": self.get_attr("unit"),
            "data_bits": self.get_attr("data_bits"),
            "data_signed": bool(self.get_attr("data_signed")),
            "data_frac": self.get_attr("data_frac"),
            "max_data_terms": max(self.get_attr("data_budgets")),
            "weight_budgets": list(self.get_attr("weight_budgets")),
            "weight_floors": list(self.get_attr("weight_floors")),
            "data_budgets": list(self.get_attr("data_budgets")),
            "group_terms": list(self.get_attr("group_terms")),
            "acc_width": self.get_attr("acc_width"),
            "acc_shift": self.get_attr("acc_shift"),
            "bias": [int(b) for b in self.get_weights("bias").data],
            "out_frac": self.get_attr("acc_frac"),
        }

    def _build_accumulator(self, q):
        # Product grid: 2^(scale_exp - data_frac). The bias may need a finer grid.
        product_frac = self.get_attr("data_frac") - self.get_attr("scale_exponent")
        acc_frac = max(product_frac, self.get_attr("bias_frac"))
        bias = self.get_attr("bias_values") * 2.0**acc_frac
        if not np.array_equal(bias, np.round(bias)):
            raise ConversionError(f"layer {self.name}: bias is not on its quantizer's grid")
        # Bound: every weight term pair at its largest, from every input.
        max_data = 2 ** self.get_attr("data_bits")  # covers signed codes too
        max_weight = int(np.max(np.sum(np.abs(q), axis=0) * 2)) or 1
        bound = max_weight * max_data * 2 ** (acc_frac - product_frac) + int(np.max(np.abs(bias), initial=0))
        width = bits_for(bound) + 1
        if width > 52:
            raise ConversionError(
                f"layer {self.name}: accumulator needs {width} bits; more than a double holds exactly"
            )
        self.set_attr("acc_shift", acc_frac - product_frac)
        self.set_attr("acc_frac", acc_frac)
        self.set_attr("acc_width", width)
        self.set_attr("result_precision", FixedPrecisionType(width=width, integer=width - acc_frac, signed=True))
        self.add_weights_variable(
            name="bias",
            var_name="b{index}",
            type_name="bias{index}_t",
            precision=IntegerPrecisionType(width=width, signed=True),
            data=bias.astype(np.int64),
        )


class MMACConv2D(MMACDense):
    """Conv2D on the mMAC (io_parallel): each output pixel is an mMAC Dense over its input patch.

    The patch is (filter row, filter column, channel), flattened; a group is
    ``group_size`` consecutive input channels at one kernel position (SPEC
    section 1), so a position's last group is short when the channel count
    is not a multiple of the group size.
    """

    def group_spans(self, n_in):
        g, n_chan = self.get_attr("group_size"), self.get_attr("n_chan")
        positions = self.get_attr("filt_height") * self.get_attr("filt_width")
        return [(p * n_chan + c, min(g, n_chan - c)) for p in range(positions) for c in range(0, n_chan, g)]

    def add_outputs(self):
        shape = [self.get_attr("out_height"), self.get_attr("out_width"), self.get_attr("n_filt")]
        self.add_output_variable(shape, precision=self.get_attr("result_precision"))


class SwitchableScaleShift(Layer):
    """A meta model's switchable BN, folded per resolution: ``y = x * s[r, c] + t[r, c]``, exactly.

    Scales and shifts arrive already on power-of-two grids (the Keras layer's
    hardware-exact inference); here they become integer tables on one grid
    per kind, and the output type holds every product and sum exactly.
    """

    def initialize(self):
        precision = self.get_input_variable().type.precision
        if not isinstance(precision, FixedPrecisionType):
            raise ConversionError(
                f"layer {self.name}: needs a fixed-point input (an mMAC layer before it), got {precision}"
            )
        scales, shifts = self.get_attr("scales"), self.get_attr("shifts")  # (n_res, n_chan) float64
        x_frac = precision.width - precision.integer
        s_frac, t_frac = _frac_bits(scales, self.name), _frac_bits(shifts, self.name)
        frac = max(x_frac + s_frac, t_frac)
        s_int = np.round(scales * 2.0**s_frac).astype(np.int64)
        t_int = np.round(shifts * 2.0**t_frac).astype(np.int64)
        x_max = 2 ** (precision.width - (1 if precision.signed else 0))
        bound = x_max * int(np.abs(s_int).max()) * 2 ** (frac - x_frac - s_frac) + int(np.abs(t_int).max()) * 2 ** (
            frac - t_frac
        )
        width = bits_for(bound) + 1
        self.set_attr("n_in", self.get_input_variable().size())
        self.set_attr("n_resolutions", scales.shape[0])
        self.set_attr("scale_up", frac - x_frac - s_frac)
        self.set_attr("shift_up", frac - t_frac)
        self.set_attr("acc_width", width)
        self.set_attr("data_int_t", f"ap_{'' if precision.signed else 'u'}int<{precision.width}>")
        for name, table in (("scales", s_int), ("shifts", t_int)):
            self.add_weights_variable(
                name=name,
                var_name=f"{name[:2]}{{index}}",
                type_name=f"{name}{{index}}_t",
                precision=IntegerPrecisionType(width=bits_for(int(np.abs(table).max())) + 1, signed=True),
                data=table.reshape(-1),
            )
        out = FixedPrecisionType(width=width, integer=width - frac, signed=True)
        self.add_output_variable(self.get_input_variable().shape, precision=out)


def _frac_bits(values, name):
    frac = frac_bits_of(values, lowest=-64)
    if frac is None:
        raise ConversionError(f"layer {name}: batch-norm scale/shift are not on a power-of-two grid")
    return frac
