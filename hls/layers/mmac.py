"""The mMAC family: Dense and Conv2D on the multi-resolution term MAC (docs/mmac_core.md).

QDense and QConv2D layers with a term, power-of-two or onion kernel become ``MMACDense`` / ``MMACConv2D``
(``nnet::mmac_dense``, ``nnet::mmac_conv2d``):

- term kernels: term pairs, or shifts of the activation;
- power-of-two kernels: one term per weight (shifts);
- onion kernels: the binary terms of the full code, each resolution dropping the terms below its
  precision (truncation of the shared code).
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf
from hls4ml.model.attributes import Attribute, ChoiceAttribute, WeightAttribute
from hls4ml.model.types import IntegerPrecisionType

from mrfpga.hls.twin.spec import (
    MMAC_FIXED_CYCLES,
    MMACDenseCore,
    conv_positions,
    held_terms,
    lane_steps,
    pack_group_terms,
    stream_group_ends,
    unit_table,
)
from mrfpga.hls.twin.spec import stream_conv_cycles as stream_conv_timing
from mrfpga.hls.twin.spec import stream_dense_cycles as stream_dense_timing
from mrfpga.training.errors import ConversionError

from .common import (
    KitFunctionTemplate,
    bits_for,
    budget_function,
    config_struct,
    include_lists,
    node_attributes,
    table_function,
    unsigned,
)
from .data_terms import DataTerm
from .exact_dense import ExactConv2D, ExactDense, ExactDenseConfigTemplate, core_kit_parser
from .streaming import (
    BRAM_MIN_BITS,
    bram_blocks,
    is_stream,
    line_buffer_resources,
    pack_size,
    packs,
)
from .unit_costs import LAYER_CONTROL_LUT, TERM_PAIR_EXTRACTION, mmac_dense_resources, mmac_unit_lut, mux_lut

UNITS = ("term_pair", "weight_term")  # nnet::mmac_unit
# The weight-term unit has the lower measured LUT x cycles at every resolution (docs/estimates.md): a step
# takes a whole weight term, a shift of the value, where a term pair takes one data term of it.
DEFAULT_UNIT = "weight_term"
TERM_KERNELS = ("quantized_term", "quantized_pot", "quantized_onion")
# Onion weights have no term budget; a group only sets how many weights one term-serial unit walks.
ONION_GROUP_SIZE = 8
# io_parallel holds a convolution's whole input and output frames in registers (and their data terms and BN
# unrolled over every value): above this many values (input plus output) the conversion refuses it and
# points to io_stream. About 20 bits a value: 4,096 values are ~80,000 FF, most of a Zynq-7020's 106,400.
IO_PARALLEL_CONV_MAX_VALUES = 4096


def lane_layout(table, blocks, max_terms, lanes):
    """A unit table (rows ``[round][group][slot]``, ``blocks`` = rounds * groups, one column per unit) as the C++
    reads it: ``[round][group][step][unit][lane]`` (``spec.lane_steps``)."""
    return lane_steps(table, blocks, max_terms, lanes).transpose(0, 1, 3, 2)


def slot_layout(data, blocks, max_terms, n_units, lanes):
    """``lane_layout``'s inverse: rows ``[round][group][slot]``, one column per unit."""
    steps = -(-max_terms // lanes)
    by_slot = np.asarray(data).reshape(blocks, steps, n_units, lanes).transpose(0, 1, 3, 2)
    return by_slot.reshape(blocks, steps * lanes, n_units)[:, :max_terms].reshape(-1, n_units)


class MMACDense(ExactDense):
    """Dense layer on the multi-resolution term MAC.

    The term table stores, per (output, group), up to ``max(budgets)`` terms
    sorted by significance; resolution r reads the first ``budgets[r]``.
    Each weight term shifts the whole activation (the weight-term unit, the
    default); the term-pair unit takes ``±2^(w_exp + d_exp)`` after a
    ``DataTerm`` layer. Output = the sum plus the bias, as an integer on the
    grid ``2^-acc_frac``, exactly.
    """

    _expected_attributes = [
        Attribute("n_out"),
        Attribute("group_size"),
        Attribute("weight_bits"),
        Attribute("weight_budgets", value_type=list),
        Attribute("weight_floors", value_type=list),
        Attribute("encoding", value_type=str),
        ChoiceAttribute("unit", UNITS, configurable=False),
        Attribute("data_bits"),
        Attribute("data_budgets", value_type=list),
        Attribute("rounds"),
        Attribute("n_units"),
        Attribute("term_lanes", default=1),
        Attribute("n_groups"),
        Attribute("group_terms", value_type=list),
        Attribute("acc_width"),
        WeightAttribute("terms"),
        WeightAttribute("bias"),
    ]

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
            self.read_fixed_point_input(source.get_output_variable().type.precision)
            # Any fixed-point input: each weight term shifts the whole value.
            self.set_attr("unit", "weight_term")
            self.set_attr("data_budgets", [1] * n_res)
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

    def group_spans(self, n_in):
        """(first input, members) of every group: consecutive inputs along the fan-in."""
        g = self.get_attr("group_size")
        return [(start, min(g, n_in - start)) for start in range(0, n_in, g)]

    def _build_term_table(self):
        q = self.get_attr("weight_magnitudes").reshape(-1, self.get_attr("n_out"))  # int (fan-in, n_out)
        sign = self.get_attr("weight_signs").reshape(q.shape)
        n_in, n_out = q.shape
        spans = self.group_spans(n_in)
        max_k = max(self.get_attr("weight_budgets"))
        index_bits = bits_for(self.get_attr("group_size") - 1)
        exponent_bits = bits_for(self.get_attr("weight_bits"))
        entries = pack_group_terms(q, sign, spans, self.get_attr("encoding"), max_k, index_bits, exponent_bits)
        # Units own whole outputs (docs/mmac_core.md): R rounds of ceil(n_out / R) units; more rounds than outputs
        # would only idle. The streaming Dense takes the groups as they arrive, the io_parallel core round by round.
        reuse = max(1, min(self.model.config.get_reuse_factor(self), n_out))
        lanes = int(self.get_attr("term_lanes") or 1)
        if lanes < 1 or (lanes > 1 and (self.streams_groups() or self.get_attr("unit") != "weight_term")):
            raise ConversionError(
                f"layer {self.name}: TermLanes {lanes}: several term slots a cycle are for the weight-term units of "
                "a convolution or an io_parallel Dense (at least 1)"
            )
        self.set_attr("term_lanes", lanes)
        table = unit_table(entries, reuse, groups_outer=self.streams_groups())
        self.set_attr(
            "group_terms",
            held_terms(
                entries, index_bits, exponent_bits, self.get_attr("weight_budgets"), self.get_attr("weight_floors")
            ),
        )
        self.set_attr("rounds", reuse)  # the layer's own reuse: hls4ml keeps reuse_factor as configured
        self.set_attr("n_units", table.shape[1])
        self.set_attr("group_bases", [start for start, _ in spans])
        self.set_attr("patch_size", n_in)
        self.set_attr("n_groups", len(spans))
        self.set_attr("max_weight_terms", max_k)
        self.set_attr("index_bits", index_bits)
        self.set_attr("exponent_bits", exponent_bits)
        self.add_weights_variable(
            name="terms",
            var_name="t{index}",
            type_name="terms{index}_t",
            precision=IntegerPrecisionType(width=index_bits + exponent_bits + 2, signed=False),
            data=lane_layout(table, reuse * len(spans), max_k, lanes).reshape(-1),
        )
        self._build_accumulator(q)

    def streams_groups(self):
        """An io_stream Dense: it takes its input word by word and accumulates group by group (nnet::mmac_dense on
        streams); a streaming convolution runs the io_parallel core per pixel."""
        return self.class_name == "MMACDense" and is_stream(self)

    def core_spec(self):
        """The layer's lock-step core (docs/mmac_core.md): what the Verilog twin and the cost model are built from.
        Its table is in the io_parallel order, rows [round][group][slot], whichever order the layer stores (the
        streaming Dense's twin, ``mrfpga.hls.twin.stream``, lays it out as the groups arrive)."""
        reuse, n_units = self.get_attr("rounds"), self.get_attr("n_units")
        lanes, blocks = self.get_attr("term_lanes"), reuse * self.get_attr("n_groups")
        table = slot_layout(self.get_weights("terms").data, blocks, self.get_attr("max_weight_terms"), n_units, lanes)
        if self.streams_groups():
            shape = (self.get_attr("n_groups"), reuse, self.get_attr("max_weight_terms"), n_units)
            table = table.reshape(shape).transpose(1, 0, 2, 3).reshape(-1, n_units)
        return MMACDenseCore(
            name=self.name,
            n_in=self.get_attr("patch_size"),
            reuse=reuse,
            max_terms=self.get_attr("max_weight_terms"),
            table=table,
            mode=self.get_attr("unit"),
            data_signed=bool(self.get_attr("data_signed")),
            max_data_terms=max(self.get_attr("data_budgets")),
            bias=[int(b) for b in self.get_weights("bias").data],
            out_frac=self.get_attr("acc_frac"),
            lanes=lanes,
            **node_attributes(
                self,
                "n_out group_size group_bases index_bits exponent_bits data_bits data_frac weight_budgets "
                "weight_floors data_budgets group_terms acc_width acc_shift",
            ),
        )

    def _build_accumulator(self, q):
        # Product grid: 2^(scale_exp - data_frac). The bias may need a finer grid.
        product_frac = self.get_attr("data_frac") - self.get_attr("scale_exponent")
        acc_frac = max(product_frac, self.get_attr("bias_frac"))
        bias = self.bias_on_grid(acc_frac)
        # Bound: every weight term pair at its largest, from every input.
        max_data = 2 ** self.get_attr("data_bits")  # covers signed codes too
        max_weight = int(np.max(np.sum(np.abs(q), axis=0) * 2)) or 1
        bound = max_weight * max_data * 2 ** (acc_frac - product_frac) + int(np.max(np.abs(bias), initial=0))
        self.set_attr("acc_shift", acc_frac - product_frac)
        self.set_accumulator(bound, acc_frac)
        self.add_bias_table(bias)


class MMACConv2D(ExactConv2D, MMACDense):
    """Conv2D on the mMAC: each output pixel is an mMAC Dense over its input patch (io_parallel: over the
    frame in registers; io_stream: over the window of a line buffer, docs/mmac_core.md).

    The patch is (filter row, filter column, channel), flattened; a group is
    ``group_size`` consecutive input channels at one kernel position, so a
    position's last group is short when the channel count is not a multiple
    of the group size.
    """

    def initialize(self):
        values = self.get_input_variable().size() + self.get_attr("out_height") * self.get_attr(
            "out_width"
        ) * self.get_attr("n_filt")
        if self.model.config.get_config_value("IOType") == "io_parallel" and values > IO_PARALLEL_CONV_MAX_VALUES:
            raise ConversionError(
                f"layer {self.name}: in io_parallel a convolution holds its whole input and output frames in "
                f"registers ({values} values; at most {IO_PARALLEL_CONV_MAX_VALUES}); convert with "
                "io_type='io_stream' (hls.io_type: io_stream in a run configuration), which streams the frame "
                "through a line buffer"
            )
        super().initialize()

    def group_spans(self, n_in):
        g, n_chan = self.get_attr("group_size"), self.get_attr("n_chan")
        positions = self.get_attr("filt_height") * self.get_attr("filt_width")
        return [(p * n_chan + c, min(g, n_chan - c)) for p in range(positions) for c in range(0, n_chan, g)]


LAYERS = {"MMACDense": MMACDense, "MMACConv2D": MMACConv2D}


# Keras handlers.


def term_attributes(name, quantizer, kernel):
    """What an mMAC layer reads from its kernel: its term view."""
    return {"weight_signs": np.sign(kernel).astype(np.int64), **kernel_terms(quantizer, kernel)}


def kernel_terms(quantizer, kernel):
    """The integer term view of a quantized kernel: value = sign * 2^scale_exponent * T(magnitude)."""
    x = tf.constant(kernel, tf.float32)
    if quantizer.__class__.__name__ == "quantized_onion":
        return onion_terms(quantizer, x)
    if quantizer.__class__.__name__ == "quantized_term":
        magnitudes, _ = quantizer.magnitudes(x)
        return {
            "weight_magnitudes": magnitudes.numpy().astype(np.int64),
            "scale_exponent": int(quantizer.scale_exponent(x).numpy()),
            "weight_bits": quantizer.bits,
            "group_size": quantizer.group_size,
            "encoding": quantizer.encoding,
            "weight_budgets": list(quantizer.budgets),
        }
    # Power of two: one term per weight, each product a single shift.
    low, _ = quantizer.exponent_range()
    scale_exponent = int(quantizer.clip.step_exponent(x, 1).numpy()) + low
    magnitudes = np.abs(quantizer(x).numpy()) * 2.0**-scale_exponent
    if not np.array_equal(magnitudes, np.round(magnitudes)):
        raise ConversionError("power-of-two kernel is not on its level set; use hardware_exact=True")
    return {
        "weight_magnitudes": magnitudes.astype(np.int64),
        "scale_exponent": scale_exponent,
        "weight_bits": -low,
        "group_size": 1,
        "encoding": "binary",
        "weight_budgets": [1],
    }


def onion_terms(quantizer, x):
    """The full code's binary terms; precision p keeps the exponents >= bits - p (the code's top p bits)."""
    codes, _ = quantizer.codes(x)
    return {
        "weight_magnitudes": np.round(np.abs(codes.numpy())).astype(np.int64),
        "scale_exponent": int(quantizer.clip.step_exponent(x, quantizer.n_steps).numpy()),
        "weight_bits": quantizer.bits,
        "group_size": ONION_GROUP_SIZE,
        "encoding": "binary",
        "weight_budgets": [quantizer.magnitude_bits * ONION_GROUP_SIZE] * quantizer.n_resolutions,
        "weight_floors": [quantizer.bits - p for p in quantizer.precisions],
    }


kit_parser = core_kit_parser("MMAC", TERM_KERNELS, term_attributes)


KERAS_HANDLERS = {}  # no Keras classes of its own: QDense and QConv2D layers marked by common.mark_kit_layers


# Templates.

mmac_dense_config_template = config_struct(
    "config{index}{suffix}",
    "nnet::mmac_dense_config",
    *unsigned("n_in=patch_size n_out group_size n_groups max_weight_terms max_data_terms data_bits unit=unit_id"),
    "typedef {data_int_t} data_int_t;",
    *unsigned("index_bits exponent_bits acc_shift reuse_factor=rounds n_units lanes=term_lanes n_resolutions"),
    "typedef {terms_t.name} term_t;",
    "typedef ap_int<{acc_width}> accum_t;",
    "typedef {bias_t.name} bias_t;",
    "{weight_terms_function}",
    "{weight_floor_function}",
    "{data_terms_function}",
    "{group_terms_function}",
    "{group_base_function}",
)

mmac_dense_include_lists = include_lists("nnet_mmac_dense.h", "nnet_mmac_dense_stream.h")

mmac_dense_function_template = (
    "nnet::mmac_dense<{input_t}, {output_t}, {config}>({input}, {output}, {terms}, {bias}, {resolution});"
)


class MMACDenseConfigTemplate(ExactDenseConfigTemplate):
    LAYER, TEMPLATE, FAMILY = MMACDense, mmac_dense_config_template, "mmac"

    def params(self, node, params):
        params["terms_t"] = node.get_weights("terms").type
        params["bias_t"] = node.get_weights("bias").type
        params["max_data_terms"] = max(node.get_attr("data_budgets"))
        params["n_resolutions"] = len(node.get_attr("weight_budgets"))
        params["weight_terms_function"] = budget_function("weight_terms", node.get_attr("weight_budgets"))
        params["weight_floor_function"] = budget_function("weight_floor", node.get_attr("weight_floors"))
        params["data_terms_function"] = budget_function("data_terms", node.get_attr("data_budgets"))
        params["group_terms_function"] = budget_function("group_terms", node.get_attr("group_terms"))
        params["group_base_function"] = table_function("group_base", node.get_attr("group_bases"))
        return params


class MMACDenseFunctionTemplate(KitFunctionTemplate):
    LAYER, TEMPLATE, WEIGHTS = MMACDense, mmac_dense_function_template, ("terms", "bias")
    INCLUDES = mmac_dense_include_lists


mmac_conv2d_include_lists = include_lists("nnet_mmac_conv2d.h", "nnet_mmac_conv2d_stream.h")

mmac_conv2d_function_template = (
    "nnet::mmac_conv2d<{input_t}, {output_t}, {config}>({input}, {output}, {terms}, {bias}, {resolution});"
)


class MMACConv2DConfigTemplate(MMACDenseConfigTemplate):
    LAYER, CONV2D = MMACConv2D, True


class MMACConv2DFunctionTemplate(KitFunctionTemplate):
    LAYER, TEMPLATE, WEIGHTS = MMACConv2D, mmac_conv2d_function_template, ("terms", "bias")
    INCLUDES = mmac_conv2d_include_lists


TEMPLATES = (
    MMACDenseConfigTemplate,
    MMACDenseFunctionTemplate,
    MMACConv2DConfigTemplate,
    MMACConv2DFunctionTemplate,
)


# Cost model (docs/estimates.md).


def group_steps(node, resolution):
    """Lock-step iterations per group: rounds * K * a, or rounds * ceil(K / lanes) for the weight-term unit. A
    layer with fewer resolutions than the model (one PoT kernel) uses its last for the others, as its C++ budget
    tables do."""
    slots = node.get_attr("group_terms")
    r = min(resolution, len(slots) - 1)
    a = node.get_attr("data_budgets")[r] if node.get_attr("unit") == "term_pair" else 1
    return node.get_attr("rounds") * -(-slots[r] // node.get_attr("term_lanes")) * a


def mmac_steps(node, resolution):
    """Lock-step iterations of one io_parallel mmac_dense call (docs/mmac_core.md): every group, every round."""
    return node.get_attr("n_groups") * group_steps(node, resolution)


def stream_dense_cycles(node, resolution):
    """``(latency, interval)`` of the streaming Dense, its two DATAFLOW processes overlapping
    (``spec.stream_dense_schedule``, the timing its Verilog twin keeps): the groups cut from the input words as
    they come, ``n_groups * R * K_r * a_r`` steps (at least one per group), 3 drain cycles, the output words."""
    pack = pack_size(node.get_input_variable())
    ends = stream_group_ends(node.get_attr("patch_size"), node.get_attr("group_size"), pack)
    return stream_dense_timing(ends, group_steps(node, resolution) or 1, packs(node.get_output_variable()))


def _conv_timing(node, core_steps):
    """``(latency, interval)`` of the streaming convolution whose core takes ``core_steps`` lock-step iterations
    a pixel: its walk over the padded positions and its core overlapping (``spec.stream_conv_cycles``, the timing
    its Verilog twin keeps)."""
    a = node.get_attr
    positions = conv_positions(
        a("in_height"), a("in_width"), a("filt_height"), a("filt_width"), a("stride_height"), a("stride_width"),
        a("pad_top"), a("pad_left"), a("out_height"), a("out_width"),
    )  # fmt: skip
    return stream_conv_timing(positions, core_steps + MMAC_FIXED_CYCLES)


def stream_conv_cycles(node, resolution):
    """``(latency, interval)`` of the streaming convolution at ``resolution`` (``_conv_timing``)."""
    return _conv_timing(node, mmac_steps(node, resolution))


# The most term slots a unit walks a cycle that reuse_factor auto tries: stage B's sum of that many shifted terms
# stays a short path, as the twin's other stages are.
MAX_TERM_LANES = 4


def takes_lanes(node):
    """A streaming convolution of weight-term units, at one term slot a cycle: reuse_factor auto also tries it
    with more (``lane_estimates``)."""
    return (
        node.class_name == "MMACConv2D"
        and is_stream(node)
        and node.get_attr("unit") == "weight_term"
        and node.get_attr("term_lanes") == 1
    )


def lane_estimates(node, lanes, n_resolutions):
    """``(interval at the slowest resolution, resources)`` of a streaming convolution (``takes_lanes``) with its units
    walking ``lanes`` term slots a cycle, from its core description: no conversion needed."""
    core = dataclasses.replace(node.core_spec(), lanes=lanes)
    interval = max(_conv_timing(node, core.steps(r))[1] for r in range(n_resolutions))
    return interval, conv_stream_resources(node, core)


def cycles(node, resolution):
    """``(rounds * groups * K_r * a_r + 4)`` per output pixel (``rounds * groups * K_r + 4`` for the weight-term
    unit); in io_stream the convolution's walk and the Dense's groups overlap their cores
    (``stream_conv_cycles``, ``stream_dense_cycles``)."""
    if node.streams_groups():
        return stream_dense_cycles(node, resolution)[0]
    if node.class_name == "MMACConv2D" and is_stream(node):
        return stream_conv_cycles(node, resolution)[0]
    return (mmac_steps(node, resolution) + MMAC_FIXED_CYCLES) * node.pixels()


def interval(node, resolution):
    """Cycles between frames: the two processes of a streaming convolution or Dense overlap, the slower sets
    it."""
    if node.streams_groups():
        return stream_dense_cycles(node, resolution)[1]
    if node.class_name == "MMACConv2D" and is_stream(node):
        return stream_conv_cycles(node, resolution)[1]
    return cycles(node, resolution)


def stream_dense_resources(node):
    """The streaming Dense (docs/estimates.md): ``n_units = ceil(n_out / R)`` units at the unit costs measured on
    the Verilog twin (each selects among one group's values), their ROMs of ``n_groups * R * max_terms`` entries
    in BRAM_18K from BRAM_MIN_BITS on, one accumulator per round and unit (the groups arrive one after another),
    the word window and its per-phase group multiplexers, the FIFO of groups."""
    mode, width = node.get_attr("unit"), node.get_attr("acc_width")
    reuse, n_units, size = node.get_attr("rounds"), node.get_attr("n_units"), node.get_attr("group_size")
    entry_bits = node.get_attr("index_bits") + node.get_attr("exponent_bits") + 2
    rom_words = node.get_attr("n_groups") * reuse * node.get_attr("max_weight_terms")
    rom_bits = rom_words * entry_bits
    value_bits = node.get_input_variable().type.precision.width
    res = {"LUT": 0, "FF": 0, "BRAM_18K": 0, "DSP48E1": 0}
    block = rom_bits >= BRAM_MIN_BITS
    if block:
        res["BRAM_18K"] = n_units * bram_blocks(rom_words, entry_bits)
    unit_lut = mmac_unit_lut(width, node.get_attr("data_bits"), size, 0 if block else rom_bits)
    extraction = TERM_PAIR_EXTRACTION if mode == "term_pair" else {"LUT": 0.0, "FF": 0.0}
    pack = pack_size(node.get_input_variable())
    window_words = (size - 1 + pack - 1) // pack + 1
    phases = min(pack // math.gcd(pack, size), node.get_attr("n_groups")) + 1  # + the last group's slice
    res["LUT"] = round(
        n_units * (unit_lut + mux_lut(reuse, width))  # each round's accumulator selected
        + size * extraction["LUT"]
        + size * mux_lut(phases, value_bits)
        + size * value_bits  # the FIFO of groups: shift registers
        + LAYER_CONTROL_LUT
    )
    res["FF"] = round(
        n_units * reuse * width
        + size * extraction["FF"]
        + window_words * pack * value_bits
        + node.get_attr("n_out") * width  # the output register
    )
    return res


def resources(node):
    """From the layer's core description with the unit costs measured on the Verilog twin (rtl_costs); a
    streaming convolution adds its line buffers and window registers; the streaming Dense has its own
    (``stream_dense_resources``)."""
    if node.streams_groups():
        return stream_dense_resources(node)
    if node.class_name == "MMACConv2D" and is_stream(node):
        return conv_stream_resources(node, node.core_spec())
    return mmac_dense_resources(node.core_spec())


def conv_stream_resources(node, core):
    """A streaming convolution: its core's, then its line buffers and window registers."""
    res = mmac_dense_resources(core)
    for key, value in line_buffer_resources(node).items():
        res[key] = res.get(key, 0) + value
    return res
