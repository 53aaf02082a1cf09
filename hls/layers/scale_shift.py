"""The switchable scale/shift family: a meta model's ``SwitchableBatchNormalization``, folded per resolution
(``nnet::switchable_scale_shift``).
"""

import numpy as np
from hls4ml.model.attributes import Attribute
from hls4ml.model.layers import Layer
from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

from mrfpga.hls.twin.spec import STREAM_SCALE_SHIFT_STAGES, ScaleShiftCore
from mrfpga.training.errors import ConversionError
from mrfpga.training.quantizers.base import frac_bits_of

from .common import (
    KitConfigTemplate,
    KitFunctionTemplate,
    bits_for,
    config_struct,
    include_lists,
    integer_code_type,
    node_attributes,
    parse_default,
    unsigned,
)
from .streaming import is_stream, pack_loop_cycles, pack_size


class SwitchableScaleShift(Layer):
    """A meta model's switchable BN, folded per resolution: ``y = x * s[r, c] + t[r, c]``, exactly.

    Scales and shifts arrive already on power-of-two grids (the Keras layer's
    hardware-exact inference); here they become integer tables on one grid
    per kind, and the output type holds every product and sum exactly.
    """

    _expected_attributes = [
        Attribute("scales", value_type=None),  # (n_res, n_chan), float64 on power-of-two grids
        Attribute("shifts", value_type=None),
    ]

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
        self.set_attr("data_int_t", integer_code_type(precision))
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

    def core_spec(self):
        """The layer's description for the Verilog twin (``spec.ScaleShiftCore``)."""
        n_res, n_chan = self.get_attr("n_resolutions"), self.get_attr("n_chan")
        precision = self.get_input_variable().type.precision
        return ScaleShiftCore(
            name=self.name,
            in_width=precision.width,
            in_signed=bool(precision.signed),
            scales=self.get_weights("scales").data.reshape(n_res, n_chan),
            shifts=self.get_weights("shifts").data.reshape(n_res, n_chan),
            **node_attributes(self, "n_in n_chan scale_up shift_up acc_width"),
        )


def _frac_bits(values, name):
    frac = frac_bits_of(values, lowest=-64)
    if frac is None:
        raise ConversionError(f"layer {name}: batch-norm scale/shift are not on a power-of-two grid")
    return frac


LAYERS = {"SwitchableScaleShift": SwitchableScaleShift}


# Keras handler.


def parse_switchable_bn(keras_layer, input_names, input_shapes, data_reader):
    """The folded (scale, shift) of every resolution, read from the live layer."""
    name = keras_layer["config"]["name"]
    model = getattr(data_reader, "model", None)
    if model is None:
        raise ConversionError(f"layer {name}: converting a switchable batch norm needs the Keras model object")
    live = model.get_layer(name)
    if not live.hardware_exact:
        raise ConversionError(f"layer {name}: set hardware_exact=True to convert a switchable batch norm")
    current = int(live.resolution.numpy())
    folds = []
    for r in range(live.n_resolutions):
        live.resolution.assign(r)
        folds.append([v.numpy() for v in live.folded()])
    live.resolution.assign(current)
    layer = parse_default(keras_layer, input_names)
    layer.update(
        class_name="SwitchableScaleShift",
        n_chan=int(input_shapes[0][-1]),
        scales=np.stack([s for s, _ in folds]),
        shifts=np.stack([t for _, t in folds]),
    )
    return layer, list(input_shapes[0])


KERAS_HANDLERS = {"SwitchableBatchNormalization": parse_switchable_bn}


def kit_parser(keras_class, keras_layer):
    """None: no QKeras layer converts to this family (its Keras layer is the kit's own class)."""
    return None


# Templates.

scale_shift_config_template = config_struct(
    "config{index}",
    "nnet::scale_shift_config",
    *unsigned("n_in n_chan n_resolutions scale_up shift_up"),
    "typedef {data_int_t} data_int_t;",
    "typedef {scales_t.name} scale_t;",
    "typedef {shifts_t.name} shift_t;",
    "typedef ap_int<{acc_width}> accum_t;",
)

scale_shift_include_lists = include_lists("nnet_scale_shift.h", "nnet_scale_shift_stream.h")

scale_shift_function_template = (
    "nnet::switchable_scale_shift<{input_t}, {output_t}, {config}>({input}, {output}, {scales}, {shifts}, "
    "{resolution});"
)


class ScaleShiftConfigTemplate(KitConfigTemplate):
    LAYER, TEMPLATE = SwitchableScaleShift, scale_shift_config_template

    def params(self, node, params):
        params["scales_t"] = node.get_weights("scales").type
        params["shifts_t"] = node.get_weights("shifts").type
        return params


class ScaleShiftFunctionTemplate(KitFunctionTemplate):
    LAYER, TEMPLATE, WEIGHTS = SwitchableScaleShift, scale_shift_function_template, ("scales", "shifts")
    INCLUDES = scale_shift_include_lists


TEMPLATES = (ScaleShiftConfigTemplate, ScaleShiftFunctionTemplate)


# Cost model (docs/estimates.md).


def cycles(node, resolution):
    """One cycle, at every resolution; io_stream: one stream word (a pixel's channels) per cycle, + its three
    register stages (the streaming twin's: the word, the products, the sums)."""
    return pack_loop_cycles(node, STREAM_SCALE_SHIFT_STAGES) if is_stream(node) else 1


def resources(node):
    # One multiplier per value (operands of 16 bits and more: a DSP48E1 each), then an adder; io_stream: per
    # value of one stream word (one per channel), shared by every pixel.
    n = pack_size(node.get_input_variable()) if is_stream(node) else node.get_attr("n_in")
    return {"DSP48E1": n, "LUT": n * node.get_attr("acc_width"), "FF": n * node.get_attr("acc_width")}
