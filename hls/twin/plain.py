"""The Verilog twin of a plain QKeras model (``scheme: qkeras``): the baseline the multi-resolution design is
compared with, in LUT x cycles, in the same flow.

The design is the folded, bit-parallel Dense that hls4ml's Resource strategy describes at a reuse factor R
(``nnet_dense_resource.h``): the layer's ``n_in * n_out`` products shared by ``P = ceil(n_in * n_out / R)``
lanes, each a signed b x b multiplier (LUTs, no DSP) with its own accumulator, the weights in ROM read one
word a cycle (``ARRAY_RESHAPE block factor=P`` puts every lane's weight of a cycle in one word; here each lane
holds its column of that ROM), the bias added once the lanes are done. Each QActivation (quantized_relu, or
the input's quantized_bits / quantized_relu) is a requantizing stage of one cycle: ReLU, round half to even,
saturate, as QKeras and hls4ml's ``ap_(u)fixed<.., AP_RND_CONV, AP_SAT>`` do.

Lane ``p`` computes the products ``f = p * S + c`` (``c = 0 .. S-1``, ``S = ceil(n_in * n_out / P)`` steps,
products numbered output-major: ``f = o * n_in + i``): one product a cycle from a fixed position of a
register of the inputs that rotates by one value a cycle, so lanes need no operand multiplexer. A lane whose
block crosses an output starts a new sum there (a "segment"); every segment is added to its output's sum at
the end. With hls4ml's valid reuse factors (``R`` divides ``n_in``, or ``n_in`` divides ``R``, and ``R``
divides ``n_in * n_out``) no segment is cut short and ``S = R``.

Cycles: a Dense layer takes ``S + 4`` (load, S ROM reads, the product and accumulate stages of the last
read, the output sum), a requantizing stage 1; the chain, their sum (``PlainDense.cycles``,
``PlainQuant.cycles``); Verilator counts them.

``from_hls_model`` reads the layers from hls4ml's converted model (its own ``Activation`` and ``Dense``
nodes), ``simulate_chain`` is the golden model in integers, ``write_verilog`` writes the top (``mrfpga_top``,
driven by ``templates/rtl/twin_tb.cpp`` unchanged; its resolution input is ignored) with the static
primitives of ``templates/rtl/mrfpga_plain_*.v`` (ROM, schedule, rotating operands, multiplier-accumulator,
requantizer) and one ``$readmemh`` ROM file per lane, ``run_twin`` simulates it in Verilator and
``synthesize`` sizes it with Yosys (LUT, FF, CARRY4, BRAM_18K and the longest combinational path) with the
multi-resolution twin's own command (``tools.SYNTH_OPTIONS``: no DSP48E1, the multipliers in LUTs; no LUT RAM)
and its ROM rule: a lane's ROM of ``verilog.ROM_BLOCK_BITS`` (1,024) bits or more is marked for block RAM, as
hls4ml's Resource strategy puts a large weight array in BRAM, and counts in BRAM_18K beside the LUTs; a smaller
one is logic of the address. ``synthesize_designs`` sizes the model at several reuse factors in one Yosys run,
each distinct layer once. ``reuse_for_cycles`` picks the reuse factor whose cycles come closest to a target (a
resolution of the multi-resolution design).

Exactness: QKeras's quantizers cast their input to float32; a Dense sum of more than 24 significant bits
before a QActivation could round there in Keras, not in the twin (``PlainDense.float32_exact``).
"""

import dataclasses
import functools
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from mrfpga.hls.layers.common import RESOLUTION_PORT
from mrfpga.hls.package_data import package_dir

from .spec import alias, bits_for, check_codes, require, run_chain
from .tools import (
    depth_commands,
    hierarchy_cells,
    mean_stand_ins,
    read_depth,
    rounded_resources,
    run_logged,
    run_testbench,
    synthesize_sources,
    verilator_build,
    with_widemux_fallback,
    write_files,
    yosys_command,
    yosys_version,
)
from .verilog import ROM_BLOCK_BITS, chain_lines, chain_ports, module_ports

TOP = "mrfpga_top"
RTL_DIR = package_dir("templates") / "rtl"
TESTBENCH = RTL_DIR / "twin_tb.cpp"
PRIMITIVES = (
    "mrfpga_rom.v",
    "mrfpga_plain_seq.v",
    "mrfpga_plain_rotator.v",
    "mrfpga_plain_mac.v",
    "mrfpga_plain_requant.v",
)
DENSE_OVERHEAD = 4  # load, product and accumulate stages of the last ROM read, the output sum
QUANT_CYCLES = 1
# Synthesis: tools.SYNTH_OPTIONS, the multi-resolution twin's command (no DSP48E1 for the multipliers, no LUT
# RAM; -flatten dissolves the primitives into the modules marked keep_hierarchy, each lane and each layer: a
# small ROM's constants reach its lane's multiplier, and lanes and layers are counted one by one).
MAX_ACC_WIDTH = 62  # the golden model's int64 and the testbench's 64-bit codes
FLOAT32_BITS = 24  # significant bits a float32 holds


def _magnitude(width, signed):
    """The largest magnitude of a ``width``-bit code."""
    return 1 << (width - 1) if signed else (1 << width) - 1


def _sum_bound(weights, bias, top, product_shift, bias_shift):
    """The largest magnitude of an output's sum: every input at ``top`` with its weight's sign."""
    column = np.abs(np.asarray(weights, np.int64)).sum(axis=0) * top
    sums = ((int(c) << product_shift) + (abs(int(b)) << bias_shift) for c, b in zip(column, bias, strict=True))
    return max(sums, default=0)


def _check(condition, name, problem):
    require(condition, name, problem, what="plain layer")


@dataclass(frozen=True)
class PlainLayer:
    """What every plain layer has: one resolution, and its input, ``n_in`` codes of ``in_width`` bits with
    ``in_frac`` fraction bits, signed or not (``check_chain`` matches it with the output before)."""

    n_resolutions: ClassVar[int] = 1
    name: str
    n_in: int
    in_width: int
    in_frac: int
    in_signed: bool


@dataclass(frozen=True)
class PlainQuant(PlainLayer):
    """A requantizing stage: ``n_in`` values from ``in_width``-bit codes with ``in_frac`` fraction bits to
    ``width``-bit codes with ``frac`` fraction bits (ReLU first when ``relu``; round half to even; saturate to
    the signed or unsigned range). One registered cycle."""

    kind: ClassVar[str] = "plain_quant"
    width: int
    frac: int
    signed: bool
    relu: bool

    def __post_init__(self):
        _check(self.n_in >= 1, self.name, f"{self.n_in} values")
        _check(1 <= self.in_width <= 64, self.name, f"input of {self.in_width} bits")
        _check(1 <= self.width <= 30, self.name, f"output of {self.width} bits (1..30)")
        _check(self.shift <= 30, self.name, f"{self.shift} fraction bits dropped (at most 30)")

    @property
    def shift(self):
        """Fraction bits dropped (negative: added)."""
        return self.in_frac - self.frac

    n_outputs = alias("n_in")
    out_width = alias("width")
    out_frac = alias("frac")
    out_signed = alias("signed")

    def cycles(self, r=0):
        return QUANT_CYCLES

    def golden(self, codes):
        return requantize(codes, self.shift, self.width, self.signed, self.relu)


@dataclass(frozen=True)
class PlainDense(PlainLayer):
    """A Dense layer folded at reuse factor ``reuse``: ``weights`` (n_in rows of n_out signed codes with
    ``weight_frac`` fraction bits, ``weight_width`` bits), ``bias`` (signed codes with ``bias_frac`` fraction
    bits) and an exact sum of ``acc_width`` bits with ``acc_frac`` fraction bits (the output codes)."""

    kind: ClassVar[str] = "plain_dense"
    n_out: int
    reuse: int
    weight_width: int
    weight_frac: int
    weights: tuple = dataclasses.field(repr=False)
    bias_frac: int
    bias: tuple = dataclasses.field(repr=False)
    acc_width: int
    acc_frac: int

    def __post_init__(self):
        name = self.name
        w = self.weight_matrix
        _check(w.shape == (self.n_in, self.n_out), name, f"weights of shape {w.shape}, not ({self.n_in}, {self.n_out})")
        _check(len(self.bias) == self.n_out, name, f"{len(self.bias)} biases for {self.n_out} outputs")
        low, high = -(1 << (self.weight_width - 1)), (1 << (self.weight_width - 1)) - 1
        _check(
            w.size == 0 or (w.min() >= low and w.max() <= high),
            name,
            f"weight codes outside {self.weight_width} signed bits",
        )
        _check(1 <= self.reuse <= self.n_products, name, f"reuse {self.reuse} outside 1..{self.n_products}")
        _check(1 <= self.in_width <= 30 and 1 <= self.weight_width <= 30, name, "operands of 1..30 bits")
        _check(
            self.acc_frac >= self.product_frac and self.acc_frac >= self.bias_frac,
            name,
            f"acc_frac {self.acc_frac} below the products' {self.product_frac} or the bias's {self.bias_frac}",
        )
        _check(
            bits_for(self.bound) + 1 <= self.acc_width <= MAX_ACC_WIDTH,
            name,
            f"acc_width {self.acc_width}: the sums need {bits_for(self.bound) + 1} bits (at most {MAX_ACC_WIDTH})",
        )

    @classmethod
    def build(cls, name, weights, bias, *, reuse, in_width, in_frac, in_signed, weight_width, weight_frac, bias_frac,
              acc_width=None):  # fmt: skip
        """The layer with the narrowest exact sum: ``acc_frac`` the finer of the products' and the bias's
        fractions, ``acc_width`` from the weights' largest sum of magnitudes at the largest input, or the given
        ``acc_width`` (a layer's result type: checked to hold every sum)."""
        weights = np.asarray(weights, np.int64)
        bias = np.asarray(bias, np.int64)
        acc_frac = max(in_frac + weight_frac, bias_frac)
        spec = dict(
            name=name, n_in=weights.shape[0], n_out=weights.shape[1], reuse=reuse, in_width=in_width,
            in_frac=in_frac, in_signed=in_signed, weight_width=weight_width, weight_frac=weight_frac,
            weights=tuple(tuple(int(v) for v in row) for row in weights), bias_frac=bias_frac,
            bias=tuple(int(b) for b in bias), acc_frac=acc_frac,
        )  # fmt: skip
        shifts = (acc_frac - in_frac - weight_frac, acc_frac - bias_frac)
        bound = _sum_bound(weights, bias, _magnitude(in_width, in_signed), *shifts)
        return cls(**spec, acc_width=acc_width or bits_for(bound) + 1)

    def with_reuse(self, reuse):
        return dataclasses.replace(self, reuse=reuse)

    @functools.cached_property
    def weight_matrix(self):
        return np.asarray(self.weights, np.int64).reshape(self.n_in, self.n_out)

    @property
    def n_products(self):
        return self.n_in * self.n_out

    @property
    def lanes(self):
        """P: multipliers (with an accumulator each), ``fold``."""
        return fold(self.n_products, self.reuse)[0]

    @property
    def steps(self):
        """S: products per lane, ROM words, cycles the lanes run, ``fold``."""
        return fold(self.n_products, self.reuse)[1]

    @property
    def product_frac(self):
        return self.in_frac + self.weight_frac

    @property
    def product_shift(self):
        return self.acc_frac - self.product_frac

    @property
    def bias_shift(self):
        return self.acc_frac - self.bias_frac

    @property
    def bound(self):
        """The largest magnitude a sum reaches, in units of the output's last bit."""
        top = _magnitude(self.in_width, self.in_signed)
        return _sum_bound(self.weight_matrix, self.bias, top, self.product_shift, self.bias_shift)

    @property
    def float32_exact(self):
        """Whether Keras's float32 holds every sum exactly (QKeras's quantizers cast their input to float32)."""
        return bits_for(self.bound) <= FLOAT32_BITS

    @property
    def lane_width(self):
        """A lane's accumulator: S products at their largest, but no wider than the sum needs past the
        products' alignment (sums are taken mod 2^acc_width)."""
        need = bits_for(self.steps * _magnitude(self.in_width, self.in_signed) * (1 << (self.weight_width - 1))) + 1
        return max(1, min(need, self.acc_width - self.product_shift))

    n_outputs = alias("n_out")
    out_width = alias("acc_width")
    out_frac = alias("acc_frac")
    out_signed = True
    data_bits = alias("in_width")  # the core port of a streaming convolution (spec.StreamConvCore)
    data_signed = alias("in_signed")

    def cycles(self, r=0):
        return self.steps + DENSE_OVERHEAD

    def golden(self, codes):
        """The output codes of ``codes`` (samples, n_in), exactly."""
        bias = np.asarray(self.bias, np.int64) << self.bias_shift
        out = ((np.asarray(codes, np.int64) @ self.weight_matrix) << self.product_shift) + bias
        top = 1 << (self.acc_width - 1)
        assert out.size == 0 or (out.min() >= -top and out.max() < top), "sum past acc_width"
        return out

    def lane_products(self, p):
        """The products lane ``p`` computes, one per step: (output, input, restart) or None past the last."""
        out = []
        for c in range(self.steps):
            f = p * self.steps + c
            if f >= self.n_products:
                out.append(None)
            else:
                o, i = divmod(f, self.n_in)
                out.append((o, i, c == 0 or i == 0))
        return out

    def lane_segments(self, p):
        """The outputs of lane ``p``'s segments, in order."""
        return [entry[0] for entry in self.lane_products(p) if entry is not None and entry[2]]


PLAIN_LAYERS = (PlainQuant, PlainDense)


def check_chain(specs):
    """Raise ValueError unless each layer's output feeds the next one's input exactly."""
    if not specs:
        raise ValueError("no layers to chain")
    for spec in specs:
        if not isinstance(spec, PLAIN_LAYERS):
            raise ValueError(f"{spec!r} is not a plain layer")
    for before, after in zip(specs, specs[1:], strict=False):
        produced = (before.n_outputs, before.out_width, before.out_frac, before.out_signed)
        expected = (after.n_in, after.in_width, after.in_frac, after.in_signed)
        if produced != expected:
            raise ValueError(
                f"plain layer {before.name} gives (values, width, frac, signed) {produced}, "
                f"but {after.name} takes {expected}"
            )
    names = [module_name(spec) for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"layer names collide as Verilog modules: {names}")


def total_cycles(specs):
    return sum(spec.cycles() for spec in specs)


# -- golden model --------------------------------------------------------------------------------------------


def requantize(x, shift, width, signed, relu):
    """Codes ``x`` (int64) with ``shift`` fraction bits dropped (negative: added): ReLU when ``relu``, round
    half to even, saturate to ``width`` bits signed or unsigned."""
    x = np.asarray(x, np.int64)
    if relu:
        x = np.maximum(x, 0)
    if shift > 0:
        q = x >> shift  # floor
        rest = x & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        q = q + ((rest > half) | ((rest == half) & (q & 1 == 1)))
    else:
        q = x << -shift
    low, high = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    return np.clip(q, low, high)


def simulate(spec, codes):
    """One layer on ``codes`` (samples, n_in), signed values: (output codes (samples, n_out), cycles per
    sample)."""
    codes = check_codes(spec, codes, what="plain layer")
    return spec.golden(codes), np.full(codes.shape[0], spec.cycles(), np.int64)


def simulate_chain(specs, codes):
    """The layers one after another: (output codes of the last, cycles per sample of the whole chain)."""
    check_chain(specs)
    return run_chain(specs, codes, simulate)


# -- from hls4ml's model ----------------------------------------------------------------------------------


def _fixed(precision, what):
    """(width, frac, signed) of an hls4ml fixed-point precision."""
    if not hasattr(precision, "integer"):
        raise ValueError(f"{what}: {precision} is not a fixed-point type (the plain twin takes quantized_bits)")
    return precision.width, precision.width - precision.integer, bool(precision.signed)


def _codes(values, frac, what):
    scaled = np.asarray(values, np.float64) * 2.0**frac
    codes = np.round(scaled)
    if not np.array_equal(codes, scaled):
        raise ValueError(f"{what}: values off the grid of {frac} fraction bits")
    return codes.astype(np.int64)


def quant_of_node(node, current, cls=PlainQuant):
    """hls4ml's ``Activation`` node (ReLU or linear, an ``AP_RND_CONV, AP_SAT`` result) as a requantizing stage
    ``cls`` of the values ``current`` = (n, width, frac, signed) flowing into it."""
    n, width, frac, signed = current
    activation = node.get_attr("activation")
    if activation not in ("relu", "linear"):
        raise ValueError(f"{node.name}: activation {activation!r} (the plain twin takes relu and linear)")
    precision = node.get_output_variable().type.precision
    modes = (str(precision.rounding_mode), str(precision.saturation_mode))
    if "RND_CONV" not in modes[0] or "SAT" not in modes[1] or "SAT_" in modes[1]:
        raise ValueError(f"{node.name}: result {precision} (the plain twin rounds half to even and saturates)")
    out_width, out_frac, out_signed = _fixed(precision, node.name)
    return cls(
        name=node.name, n_in=n, in_width=width, in_frac=frac, in_signed=signed, width=out_width, frac=out_frac,
        signed=out_signed, relu=activation == "relu",
    )  # fmt: skip


def dense_of_node(node, current, reuse, acc_width=None):
    """hls4ml's ``Dense`` node (fixed-point weights, no fused activation) at ``reuse`` (capped at its products) on
    the values ``current`` = (n, width, frac, signed), its sum ``acc_width`` bits wide (None: the narrowest
    exact); a ``Conv2D`` node's weights are those of its patch, (filter row, filter column, channel) x filters."""
    n, width, frac, signed = current
    if node.get_attr("activation", "linear") != "linear":
        raise ValueError(f"{node.name}: a fused activation (put it in its own QActivation)")
    weight, bias = node.weights["weight"], node.weights["bias"]
    n_out = node.get_attr("n_out", node.get_attr("n_filt"))
    n_in = int(np.size(weight.data)) // n_out
    if n_in != n and node.class_name == "Dense":
        raise ValueError(f"{node.name}: {n_in} inputs after {n} values")
    w_width, w_frac, _ = _fixed(weight.type.precision, f"{node.name} weights")
    _, b_frac, _ = _fixed(bias.type.precision, f"{node.name} bias")
    return PlainDense.build(
        node.name,
        _codes(weight.data, w_frac, f"{node.name} weights").reshape(n_in, n_out),
        _codes(np.broadcast_to(bias.data, (n_out,)), b_frac, f"{node.name} bias").reshape(n_out),
        reuse=min(reuse, n_in * n_out), in_width=width, in_frac=frac, in_signed=signed, weight_width=w_width,
        weight_frac=w_frac, bias_frac=b_frac, acc_width=acc_width,
    )  # fmt: skip


def from_hls_model(hls_model, reuse=None):
    """The plain chain of an hls4ml model of a ``scheme: qkeras`` model (io_parallel; hls4ml's own
    ``Activation`` nodes, ReLU or linear, with ``AP_RND_CONV, AP_SAT`` results, and ``Dense`` nodes with
    fixed-point weights): the input port, then a stage per node. ``reuse``: every Dense layer's reuse factor
    (capped at its products); None takes each node's own."""
    graph = getattr(hls_model, "hls4ml_model", hls_model)
    if graph.config.get_config_value("IOType") != "io_parallel":
        raise ValueError("the plain twin covers io_parallel models")
    specs = []
    current = None  # (n, width, frac, signed) of the values flowing into the next node
    for node in graph.get_layers():
        kind = node.class_name
        if kind == "Input":
            if current is None and node.name != RESOLUTION_PORT:
                width, frac, signed = _fixed(node.get_output_variable().type.precision, node.name)
                current = (int(np.prod(node.get_output_variable().shape)), width, frac, signed)
            continue
        if kind in ("Reshape", "Flatten"):
            continue
        if current is None:
            raise ValueError(f"{node.name}: no input port before it")
        if kind == "Activation":
            spec = quant_of_node(node, current)
        elif kind == "Dense":
            shape, expected = np.shape(node.weights["weight"].data), (node.get_attr("n_in"), node.get_attr("n_out"))
            if shape != expected:
                raise ValueError(f"{node.name}: weights of shape {shape}, not {expected}")
            asked = reuse if reuse is not None else int(node.get_attr("reuse_factor", 1))
            spec = dense_of_node(node, current, asked)
        else:
            raise ValueError(f"{node.name}: {kind} (the plain twin covers Activation and Dense chains)")
        specs.append(spec)
        current = (spec.n_outputs, spec.out_width, spec.out_frac, spec.out_signed)
    check_chain(specs)
    return specs


# -- reuse factors and cycles ------------------------------------------------------------------------------


def fold(n_products, reuse):
    """(lanes, steps) of a Dense of ``n_products`` products at ``reuse``: ``P = ceil(n_products / reuse)``
    lanes, ``S = ceil(n_products / P)`` steps (``reuse``, unless the last lane would idle for whole steps)."""
    lanes = -(-n_products // reuse)
    return lanes, -(-n_products // lanes)


@functools.cache
def _valid_reuse_factors(n_in, n_out):
    from hls4ml.backends import get_backend

    return tuple(get_backend("Vivado").get_valid_reuse_factors(n_in, n_out))


def hls4ml_reuse(n_in, n_out, reuse):
    """The reuse factor hls4ml's Resource strategy takes for a Dense of ``n_in x n_out`` asked for ``reuse``:
    the closest valid one (ties: the smaller)."""
    from hls4ml.backends import get_backend

    return get_backend("Vivado").get_closest_reuse_factor(list(_valid_reuse_factors(n_in, n_out)), reuse)


def layer_reuse(spec, reuse, hls4ml_valid=False):
    """The reuse factor a Dense layer takes for a model-wide ``reuse``: capped at its products, or with
    ``hls4ml_valid`` the one hls4ml would take (``hls4ml_reuse``)."""
    return hls4ml_reuse(spec.n_in, spec.n_out, reuse) if hls4ml_valid else min(reuse, spec.n_products)


def with_reuse(specs, reuse, hls4ml_valid=False):
    """The chain with every Dense layer at the model-wide ``reuse`` (``layer_reuse``)."""
    return [
        spec.with_reuse(layer_reuse(spec, reuse, hls4ml_valid)) if isinstance(spec, PlainDense) else spec
        for spec in specs
    ]


def reuse_for_cycles(specs, target, hls4ml_valid=False):
    """The model-wide reuse factor whose chain's cycles come closest to ``target`` (ties: the fewer lanes, then
    the smaller reuse factor, which builds the same design): ``(reuse, cycles, specs at it)``."""
    denses = [spec for spec in specs if isinstance(spec, PlainDense)]
    fixed = sum(spec.cycles() for spec in specs if not isinstance(spec, PlainDense))
    best = None
    for reuse in range(1, max((spec.n_products for spec in denses), default=1) + 1):
        folds = [fold(spec.n_products, layer_reuse(spec, reuse, hls4ml_valid)) for spec in denses]
        cycles = fixed + sum(steps + DENSE_OVERHEAD for _, steps in folds)
        key = (abs(cycles - target), sum(lanes for lanes, _ in folds), reuse)
        best = min(best or key, key)
    _, _, reuse = best
    chain = with_reuse(specs, reuse, hls4ml_valid)
    return reuse, total_cycles(chain), chain


# -- Verilog ----------------------------------------------------------------------------------------------


def module_name(spec):
    return "mrfpga_plain_layer_" + re.sub(r"\W", "_", spec.name)


def _header(spec, in_bits, out_bits, comment):
    return f"""
// {comment}
(* keep_hierarchy *)
module {module_name(spec)} (
  input wire clk,
  input wire rst,
  input wire start,
  input wire [{in_bits - 1}:0] in_data,
  output reg done,
  output reg [{out_bits - 1}:0] out_data
);
"""


def quant_verilog(spec):
    n, iw, ow = spec.n_in, spec.in_width, spec.width
    comment = (
        f"{spec.name}: {n} values requantized, {iw}-bit (frac {spec.in_frac}) -> {ow}-bit "
        f"{'signed' if spec.signed else 'unsigned'} (frac {spec.frac}){', ReLU' if spec.relu else ''}; 1 cycle."
    )
    return (
        _header(spec, n * iw, n * ow, comment)
        + f"""  wire [{n * ow - 1}:0] q;
  genvar gi;
  generate
    for (gi = 0; gi < {n}; gi = gi + 1) begin : value
      mrfpga_plain_requant #(.IW({iw}), .IN_SIGNED({int(spec.in_signed)}), .SHIFT({spec.shift}), .OW({ow}),
        .OUT_SIGNED({int(spec.signed)}), .RELU({int(spec.relu)})) rq (.x(in_data[gi * {iw} +: {iw}]),
        .q(q[gi * {ow} +: {ow}]));
    end
  endgenerate
  always @(posedge clk) begin
    done <= rst ? 1'b0 : start;
    if (start) out_data <= q;
  end
endmodule
"""
    )


def lane_rom(spec, p):
    """Lane ``p``'s weight ROM: per step, {restart, weight code} (``weight_width + 1`` bits); past the layer's
    last product a zero weight that adds nothing."""
    ww, w = spec.weight_width, spec.weight_matrix
    words = []
    for entry in spec.lane_products(p):
        if entry is None:
            words.append(0)
        else:
            o, i, restart = entry
            words.append(int(restart) << ww | int(w[i, o]) & ((1 << ww) - 1))
    return words


def lane_name(spec, p):
    return f"{module_name(spec)}_lane{p}"


def rom_file(spec, p):
    """Lane ``p``'s ROM file, relative to the Verilog (and to the directory the simulation runs in)."""
    return f"{module_name(spec)}_rom/lane{p}.mem"


def lane_roms(spec):
    """Every lane's ROM file: ``{path relative to the Verilog: contents}``."""
    digits = -(-(spec.weight_width + 1) // 4)
    return {rom_file(spec, p): "".join(f"{word:0{digits}x}\n" for word in lane_rom(spec, p)) for p in range(spec.lanes)}


def write_roms(spec, out_dir):
    write_files(lane_roms(spec), out_dir)


def rom_block(spec):
    """Whether a lane's ROM (``steps`` words of ``weight_width + 1`` bits) goes to block RAM: from
    ``ROM_BLOCK_BITS`` on, the rule of the multi-resolution twin's term ROMs (``verilog.ROM_BLOCK_BITS``)."""
    return spec.steps * (spec.weight_width + 1) >= ROM_BLOCK_BITS


def lane_verilog(spec, p):
    """Lane ``p``: its weight ROM and its multiplier-accumulator (a module of its own: Yosys sizes lanes
    one by one, and may sample them)."""
    xw, ww, ab = spec.in_width, spec.weight_width, bits_for(spec.steps - 1)
    k, lw = len(spec.lane_segments(p)), spec.lane_width
    block = int(rom_block(spec))
    return f"""
(* keep_hierarchy *)
module {lane_name(spec, p)} (
  input wire clk,
  input wire [{ab - 1}:0] addr,
  input wire acc_en,
  input wire [{xw - 1}:0] x,
  output wire [{k * lw - 1}:0] sums
);
  wire [{ww}:0] word;
  mrfpga_rom #(.FILE("{rom_file(spec, p)}"), .WIDTH({ww + 1}), .DEPTH({spec.steps}), .ADDR_BITS({ab}),
    .ROM_BLOCK({block})) weights (.clk(clk), .read(1'b1), .addr(addr), .data(word));
  mrfpga_plain_mac #(.XW({xw}), .X_SIGNED({int(spec.in_signed)}), .WW({ww}), .AW({lw}), .SEGS({k})) mac (
    .clk(clk), .acc_en(acc_en), .x(x), .w(word[{ww - 1}:0]), .restart(word[{ww}]), .sums(sums));
endmodule
"""


def dense_verilog(spec, shared_operand=False):
    """The lanes' modules, then the layer: schedule, operands, lanes, the output sums. The operands rotate in a
    register of the inputs; with ``shared_operand`` the layer's input is one code, the one every lane multiplies
    in the cycle its ROM word is out (``v1``), fed by the caller (``plain_stream``'s Dense reads it from memory)."""
    n_in, n_out, xw, ww = spec.n_in, spec.n_out, spec.in_width, spec.weight_width
    aw, lw, lanes, steps = spec.acc_width, spec.lane_width, spec.lanes, spec.steps
    ab = bits_for(steps - 1)
    comment = (
        f"{spec.name}: Dense {n_in} -> {n_out} at reuse {spec.reuse}: {lanes} lanes of {xw} x {ww} bits, "
        f"{steps} steps; {spec.cycles()} cycles."
    )
    lines = [
        "  wire load, v1, v2, fin;",
        f"  wire [{ab - 1}:0] addr;",
        f"  mrfpga_plain_seq #(.STEPS({steps}), .ADDR_BITS({ab})) seq (.clk(clk), .rst(rst), .start(start),",
        "    .load(load), .addr(addr), .v1(v1), .v2(v2), .fin(fin));",
    ]
    if shared_operand:  # whole outputs a lane, as plain_stream.PlainStreamDense checks
        lines.append(f"  wire [{xw - 1}:0] x = in_data;")
    else:
        lines += [
            f"  wire [{n_in * xw - 1}:0] x;",
            f"  mrfpga_plain_rotator #(.N({n_in}), .W({xw})) operands (.clk(clk), .load(load), .step(v1),",
            "    .in_data(in_data), .values(x));",
        ]
    terms = {o: [] for o in range(n_out)}
    for p in range(lanes):
        segments = spec.lane_segments(p)
        k = len(segments)
        operand = "x" if shared_operand else f"x[{(p * steps) % n_in * xw} +: {xw}]"
        lines.append(f"  wire [{k * lw - 1}:0] sums_{p};")
        lines.append(
            f"  {lane_name(spec, p)} lane_{p} (.clk(clk), .addr(addr), .acc_en(v2), .x({operand}), .sums(sums_{p}));"
        )
        for s, o in enumerate(segments):
            slot = k - 1 - s
            shifted = f"$signed(sums_{p}[{slot * lw} +: {lw}]) <<< {spec.product_shift}"
            lines.append(f"  wire [{aw - 1}:0] part_{p}_{slot} = {shifted};")
            terms[o].append(f"part_{p}_{slot}")
    mask = (1 << aw) - 1
    sums = []
    for o in range(n_out):
        bias = (int(spec.bias[o]) << spec.bias_shift) & mask
        addends = " + ".join([f"{aw}'d{bias}", *terms[o]])
        sums.append(f"      out_data[{o * aw} +: {aw}] <= {addends};")
    return (
        "".join(lane_verilog(spec, p) for p in range(lanes))
        + _header(spec, xw if shared_operand else n_in * xw, n_out * aw, comment)
        + "\n".join(lines)
        + "\n  always @(posedge clk) begin\n    done <= rst ? 1'b0 : fin;\n    if (fin) begin\n"
        + "\n".join(sums)
        + "\n    end\n  end\nendmodule\n"
    )


def top_verilog(specs, top=TOP, keep=False):
    """The chain: each layer starts on the previous one's done; the ports of the multi-resolution twin's top
    (the resolution input unused). ``top``: the module's name; ``keep``: marked keep_hierarchy (a design among
    several, ``write_designs``)."""
    lines = [
        f"\n// The chain {' -> '.join(spec.name for spec in specs)}; cycles are the sum of the layers' "
        f"({total_cycles(specs)}).",
        *(["(* keep_hierarchy *)"] if keep else []),
        *module_ports(top, chain_ports(specs, "input wire [0:0] resolution  // one resolution: unused")),
    ]
    return "\n".join(lines + chain_lines(specs, module_name))


def _copy_primitives(out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for primitive in PRIMITIVES:
        shutil.copyfile(RTL_DIR / primitive, out_dir / primitive)
    return [out_dir / primitive for primitive in PRIMITIVES]


def _layer_verilog(spec, out_dir):
    """A layer's modules (a Dense layer's lanes first), its ROM files written into ``out_dir``."""
    if isinstance(spec, PlainQuant):
        return quant_verilog(spec)
    write_roms(spec, out_dir)
    return dense_verilog(spec)


HEADER = "// Generated by mrfpga: the Verilog twin of a plain QKeras model (mrfpga.hls.twin.plain).\n"


def write_verilog(specs, out_dir):
    """Write the plain twin into ``out_dir``: the primitives (copied from ``templates/rtl``), ``mrfpga_top.v``
    (every layer and the chain) and a ROM file per Dense layer. Return the Verilog files, primitives first."""
    check_chain(specs)
    sources = _copy_primitives(out_dir)
    text = HEADER + "`default_nettype none\n"
    text += "".join(_layer_verilog(spec, out_dir) for spec in specs)
    text += top_verilog(specs) + "`default_nettype wire\n"
    top = Path(out_dir) / f"{TOP}.v"
    top.write_text(text)
    return [*sources, top]


DESIGNS_TOP = "mrfpga_designs"


def design_specs(specs):
    """The chain with each Dense layer named after its reuse factor (``{name}_r{reuse}``): chains of one model
    at several reuse factors then name alike exactly the layers that are alike (the requantizing stages, and a
    Dense layer that two model-wide reuse factors fold the same way)."""
    return [dataclasses.replace(s, name=f"{s.name}_r{s.reuse}") if isinstance(s, PlainDense) else s for s in specs]


def design_top(label):
    return f"{TOP}_{label}"


def write_designs(designs, out_dir):
    """Write several plain twins of one model (``{label: specs}``, the chains at several reuse factors; labels
    are Verilog identifiers) into ``out_dir``: the primitives, ``mrfpga_designs.v`` with every distinct layer
    once (``design_specs``), a top per design (``mrfpga_top_{label}``, kept as a module) and ``mrfpga_designs``
    instancing them all on the same inputs. Return (the Verilog files, ``{label: renamed specs}``)."""
    named = {label: design_specs(specs) for label, specs in designs.items()}
    layers = {}
    for label, specs in named.items():
        if not re.fullmatch(r"\w+", str(label)):
            raise ValueError(f"design label {label!r} is not a Verilog identifier")
        check_chain(specs)
        for spec in specs:
            if layers.setdefault(spec.name, spec) != spec:
                raise ValueError(f"the designs differ in layer {spec.name}: not one model at several reuse factors")
    firsts = {(s[0].n_in, s[0].in_width) for s in named.values()}
    if len(firsts) != 1:
        raise ValueError(f"the designs take different inputs {sorted(firsts)}: not one model")
    sources = _copy_primitives(out_dir)
    text = HEADER + "`default_nettype none\n"
    text += "".join(_layer_verilog(spec, out_dir) for spec in layers.values())
    text += "".join(top_verilog(specs, design_top(label), keep=True) for label, specs in named.items())
    n_in, in_width = firsts.pop()
    ports = [
        "  input wire clk,",
        "  input wire rst,",
        "  input wire start,",
        f"  input wire [{n_in * in_width - 1}:0] in_data",
    ]
    body = []
    for label, specs in named.items():
        last = specs[-1]
        ports[-1] += ","
        ports += [
            f"  output wire done_{label},",
            f"  output wire [{last.n_outputs * last.out_width - 1}:0] out_{label}",
        ]
        body.append(
            f"  {design_top(label)} design_{label} (.clk(clk), .rst(rst), .start(start), .resolution(1'b0), "
            f".in_data(in_data), .done(done_{label}), .out_data(out_{label}));"
        )
    text += f"\n// Every design, on the same inputs.\nmodule {DESIGNS_TOP} (\n" + "\n".join(ports) + "\n);\n"
    text += "\n".join(body) + "\nendmodule\n`default_nettype wire\n"
    path = Path(out_dir) / f"{DESIGNS_TOP}.v"
    path.write_text(text)
    return [*sources, path], named


# -- measured ---------------------------------------------------------------------------------------------


def build_twin(specs, out_dir, progress=None):
    """Write the Verilog into ``out_dir`` and build the Verilator testbench; return the executable."""
    sources = write_verilog(specs, out_dir)
    start = time.monotonic()
    binary = verilator_build(sources, TOP, TESTBENCH, out_dir)
    if progress:
        progress(f"rtl: Verilator built the plain twin in {time.monotonic() - start:.0f} s")
    return binary


def run_twin(specs, codes_in, out_dir, progress=None):
    """Simulate the chain in Verilator on ``codes_in`` (samples, n_in): ``{"resolutions": [0], "outputs":
    [codes (samples, n_out)], "cycles": [[cycles per sample]]}``, as ``measure.run_twin`` answers."""
    codes_in = np.asarray(codes_in, np.int64)
    first, last = specs[0], specs[-1]
    if codes_in.ndim != 2 or codes_in.shape[1] != first.n_in:
        raise ValueError(f"input codes of shape {codes_in.shape}, expected (samples, {first.n_in})")
    out_dir = Path(out_dir)
    binary = build_twin(specs, out_dir, progress)
    start = time.monotonic()
    outputs, cycles = run_testbench(
        binary, codes_in, first.in_width, last.n_outputs, last.out_width, last.out_signed, [0], out_dir
    )
    if progress:
        progress(f"rtl: simulated {len(codes_in)} samples in {time.monotonic() - start:.1f} s")
    return {"resolutions": [0], "outputs": outputs, "cycles": cycles}


def lane_strata(spec):
    """The layer's lanes by kind: ``{segments: [lanes]}`` for the lanes whose products are all real, and the
    last lane on its own (key ``"last"``) when it is padded with zero weights."""
    strata = {}
    padded = spec.lanes * spec.steps > spec.n_products
    for p in range(spec.lanes - 1 if padded else spec.lanes):
        strata.setdefault(len(spec.lane_segments(p)), []).append(p)
    if padded:
        strata["last"] = [spec.lanes - 1]
    return strata


def sampled_lanes(lanes, lanes_per_stratum):
    """The lanes synthesized of a stratum: all, or ``lanes_per_stratum`` spread evenly."""
    n = len(lanes)
    if lanes_per_stratum is None or n <= lanes_per_stratum:
        return list(lanes)
    if lanes_per_stratum < 2:
        raise ValueError("sample at least 2 lanes of a kind, or None for all")
    return [lanes[i] for i in sorted({round(m * (n - 1) / (lanes_per_stratum - 1)) for m in range(lanes_per_stratum)})]


def _sampling(denses, lanes_per_stratum):
    """(black-boxed lanes, ``mean_stand_ins`` groups, a sentence) for the Dense layers ``denses``."""
    boxes, groups, n_sampled, n_lanes = [], {}, 0, 0
    for spec in denses:
        for kind, lanes in lane_strata(spec).items():
            kept = sampled_lanes(lanes, lanes_per_stratum)
            boxed = [lane_name(spec, p) for p in lanes if p not in kept]
            groups[f"{module_name(spec)}_{kind}"] = ([lane_name(spec, p) for p in kept], boxed)
            boxes += boxed
            n_sampled += len(kept)
        n_lanes += spec.lanes
    sentence = (
        "every lane synthesized"
        if not boxes
        else f"{n_sampled} of {n_lanes} lanes synthesized, each other lane counted as the mean sampled lane of its "
        "layer and kind (segments)"
    )
    return boxes, groups, sentence


def _method(specs, sampling, depth):
    denses = [spec for spec in specs if isinstance(spec, PlainDense)]
    block = [spec.name for spec in denses if rom_block(spec)]
    roms = f"weight ROMs of {ROM_BLOCK_BITS} bits or more in block RAM, smaller ones in logic: " + (
        "every lane's in logic"
        if not block
        else "every lane's in block RAM"
        if len(block) == len(denses)
        else f"the lanes' of {', '.join(block)} in block RAM"
    )
    return (
        f"whole design, a module per layer and per lane (ROM and multiplier-accumulator flattened into it); "
        f"{sampling}; multipliers in LUTs without DSP48E1 (-nodsp), no LUT RAM (-nolutram); {roms}"
        + ("; depth: the longest path of the flattened netlist between registers (ltp)" if depth else "")
    )


def _sized(tool, method, seconds, cells, top, specs, names, path):
    return {
        "tool": tool,
        "method": method,
        "seconds": round(seconds, 1),
        "total": rounded_resources(cells[top]),
        "layers": {
            spec.name: rounded_resources(cells[module_name(named)]) for spec, named in zip(specs, names, strict=True)
        },
        "depth": path,
        "cycles": total_cycles(specs),
    }


def synthesize(specs, out_dir, lanes_per_stratum=8, progress=None, depth=True):
    """Size the chain with Yosys: ``{"tool", "method", "seconds", "total", "layers": {name: {...}}, "depth",
    "cycles"}``, ``depth`` the longest combinational path of the design (``tools.read_depth``).

    One Yosys run (``tools.SYNTH_OPTIONS``, the multi-resolution twin's too); each lane is a module (its ROM
    flattened into its multiplier-accumulator; in block RAM from ``ROM_BLOCK_BITS``, ``rom_block``) and so is
    each layer. Lanes of a kind (``lane_strata``: as many segments, or the padded last lane) differ only in their
    weights: with ``lanes_per_stratum`` set, that many lanes of each kind (spread evenly) are synthesized and
    every other lane counts as the mean of its kind's sampled lanes; ``None`` synthesizes every lane. The
    depth is then the longest path through the synthesized lanes and the layers.
    """
    out_dir = Path(out_dir)
    sources = write_verilog(specs, out_dir)
    boxes, groups, sampling = _sampling([s for s in specs if isinstance(s, PlainDense)], lanes_per_stratum)
    start = time.monotonic()
    (stat, path), options, fallback = with_widemux_fallback(
        lambda options: synthesize_sources(sources, TOP, out_dir / "yosys", options, boxes, depth)
    )
    method = _method(specs, sampling, depth) + (f"; {fallback}" if fallback else "")
    seconds = time.monotonic() - start
    cells = hierarchy_cells(stat, TOP, mean_stand_ins(stat, groups))
    if progress:
        progress(f"rtl: Yosys synthesized the plain twin in {seconds:.0f} s ({sampling})")
    tool = f"{yosys_version()} synth_xilinx xc7 {options}"
    return _sized(tool, method, seconds, cells, TOP, specs, specs, path)


def synthesize_designs(designs, out_dir, lanes_per_stratum=8, progress=None, depth=True, timeout=7200):
    """Size several chains of one model (``{label: specs}``: the model at several reuse factors) in one Yosys
    run: ``{label: the figures synthesize gives}``, each design's own.

    The designs are written together (``write_designs``): every distinct layer once, each design's top a module
    of its own. Layers are modules that Yosys synthesizes one by one (``keep_hierarchy``), so a layer's figures
    do not depend on the design around it and a layer the designs share (a requantizing stage, a Dense layer
    folded alike) is synthesized once and counted in each. The synthesis is ``synthesize``'s (the same
    ``synth_xilinx`` command, lanes sampled alike); each design's depth is the longest path of that design
    alone, flattened (``tools.depth_commands``).
    """
    out_dir = Path(out_dir)
    sources, named = write_designs(designs, out_dir)
    yosys_dir = out_dir / "yosys"
    yosys_dir.mkdir(parents=True, exist_ok=True)
    denses = {s.name: s for specs in named.values() for s in specs if isinstance(s, PlainDense)}
    boxes, groups, sampling = _sampling(list(denses.values()), lanes_per_stratum)
    sampling = sampling.replace(" lanes synthesized", " lanes of the designs' distinct layers synthesized", 1)
    reads = "".join(
        f"read_verilog -defer {Path(os.path.relpath(Path(s).resolve(), yosys_dir.resolve())).as_posix()}\n"
        for s in sources
    )

    def run(options):
        script = (
            f"{reads}hierarchy -top {DESIGNS_TOP}\n"
            + "".join(f"blackbox {name}\n" for name in boxes)
            + f"synth_xilinx -family xc7 -noiopad {options} -top {DESIGNS_TOP}\n"
            f"tee -q -o {DESIGNS_TOP}_stat.json stat -json\n"
        )
        if depth:
            script += "design -save synthesized\n"
            for label in named:
                top = design_top(label)
                script += f"design -load synthesized\nhierarchy -top {top}\n" + depth_commands(top, boxes)
        for stale in yosys_dir.glob(f"{TOP}*"):
            stale.unlink()
        (yosys_dir / f"{DESIGNS_TOP}_stat.json").unlink(missing_ok=True)
        (yosys_dir / f"{DESIGNS_TOP}.ys").write_text(script)
        log = yosys_dir / f"{DESIGNS_TOP}_yosys.log"
        run_logged(yosys_command() + ["-q", "-s", f"{DESIGNS_TOP}.ys"], yosys_dir, log, "Yosys", timeout)

    start = time.monotonic()
    _, options, fallback = with_widemux_fallback(run)
    seconds = time.monotonic() - start
    tool = f"{yosys_version()} synth_xilinx xc7 {options}"
    stat = json.loads((yosys_dir / f"{DESIGNS_TOP}_stat.json").read_text())
    stand_ins = mean_stand_ins(stat, groups)
    labels = ", ".join(map(str, named))
    if progress:
        progress(f"rtl: Yosys synthesized {len(named)} plain designs ({labels}) in {seconds:.0f} s ({sampling})")
    shared = f"one Yosys run for the designs {labels}, each distinct layer synthesized once" + (
        f"; {fallback}" if fallback else ""
    )
    out = {}
    for label, specs in designs.items():
        top = design_top(label)
        cells = hierarchy_cells(stat, top, stand_ins)
        path = read_depth(yosys_dir, top) if depth else None
        out[label] = _sized(tool, f"{_method(specs, sampling, depth)}; {shared}", seconds, cells, top, specs,
                            named[label], path)  # fmt: skip
    return out


def lut_cycles(sized):
    """LUT x cycles of a ``synthesize`` result."""
    return sized["total"]["LUT"] * sized["cycles"]
