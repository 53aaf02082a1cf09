"""The cores' descriptions, shared by the HLS layers and the Verilog twin, and their golden model
(docs/mmac_core.md).

A ``DataTermCore`` or ``MMACDenseCore`` is what ``core_spec()`` of the hls4ml ``DataTerm`` and ``MMACDense``
layers returns, and what ``dense_core`` builds from integer weights for tests and measurements: one typed
description, checked when it is made. The term entries are packed by ``pack_group_terms`` and laid out by
``unit_table`` for the HLS weight memory and the twin's ROMs alike. ``simulate`` runs one layer on integer codes
at one resolution and returns its output codes and the cycles each sample takes; the twin and the C-simulation
cycle count are held to it. Codes are Python/numpy integers: signed values for signed codes, never raw
two's-complement bits.
"""

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from mrfpga.training.term_encodings import group_terms, value_terms

MODES = ("term_pair", "weight_term")
ENCODINGS = ("naf", "binary", "hese")
# Values a data-term layer puts on its grid per cycle. Its values are read a group of 16 per several cycles;
# four lanes cost a quarter of sixteen for a few cycles more (docs/estimates.md).
DATA_TERM_LANES = 4
# Cycles of an mMAC Dense around its steps: one to latch the resolution's step counts, three for the last step's
# product and its accumulation into the output, the low half then the high half (short paths).
MMAC_FIXED_CYCLES = 4

TWIN_LAYERS = ("DataTerm", "MMACDense")
FLAT_LAYERS = ("Input", "Reshape")  # a flatten keeps the values' order: the twin's buses are flat already


def bits_for(n):
    """Bits of an unsigned integer holding 0..n (at least 1)."""
    return max(1, int(n).bit_length())


def require(condition, name, problem, what="core spec"):
    """Raise ValueError naming ``what`` ``name`` and the problem unless ``condition``."""
    if not condition:
        raise ValueError(f"{what} {name}: {problem}")


def alias(name):
    """A read-only property reading the field ``name``: a layer's chain port (``n_outputs``, ``out_width``,
    ``in_signed``, ...) where the layer's own description calls it otherwise."""
    return property(lambda self: getattr(self, name))


def rows_of(name):
    """A read-only property: how many rows the field ``name`` has (``n_resolutions``, from the layer's table with a
    row per resolution)."""
    return property(lambda self: len(getattr(self, name)))


def check_codes(spec, codes, what="layer"):
    """``codes`` as int64, checked to be (samples, n_in) and inside the layer's input range."""
    codes = np.asarray(codes, np.int64)
    if codes.ndim != 2 or codes.shape[1] != spec.n_in:
        raise ValueError(f"{what} {spec.name}: codes of shape {codes.shape}, expected (samples, {spec.n_in})")
    width, signed = spec.in_width, spec.in_signed
    low, high = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    if codes.size and (codes.min() < low or codes.max() > high):
        raise ValueError(
            f"{what} {spec.name}: input codes span {codes.min()}..{codes.max()}, "
            f"outside the {width}-bit {'signed' if signed else 'unsigned'} range {low}..{high}"
        )
    return codes


def run_chain(specs, codes, simulate_layer):
    """The layers one after another, each by ``simulate_layer(spec, codes) -> (codes, cycles per sample)``:
    (output codes of the last, cycles per sample of the whole chain)."""
    codes = np.asarray(codes, np.int64)
    cycles = np.zeros(codes.shape[0], np.int64)
    for spec in specs:
        codes, layer = simulate_layer(spec, codes)
        cycles += layer
    return codes, cycles


@dataclass(frozen=True)
class DataTermCore:
    """An unsigned data-term layer: each value put on the ap_ufixed<bits, bits - frac> grid (round half up, or
    half to even; saturate), the resolution's low bits dropped, its top ``budgets[r]`` terms kept; ``lanes``
    values a cycle."""

    kind: ClassVar[str] = "data_term"
    name: str
    n_in: int
    bits: int
    frac: int
    encoding: str
    budgets: tuple
    floors: tuple
    round_half_even: bool
    in_width: int
    in_frac: int
    in_signed: bool
    lanes: int = DATA_TERM_LANES

    def __post_init__(self):
        object.__setattr__(self, "budgets", tuple(int(b) for b in self.budgets))
        object.__setattr__(self, "floors", tuple(int(f) for f in self.floors))
        object.__setattr__(self, "lanes", max(1, min(int(self.lanes), self.n_in)))
        require(
            len(self.floors) == len(self.budgets), self.name, f"{len(self.floors)} floors, {len(self.budgets)} budgets"
        )
        require(self.encoding in ENCODINGS, self.name, f"unknown encoding {self.encoding!r}")

    n_resolutions = rows_of("budgets")
    n_outputs = alias("n_in")

    @property
    def out_width(self):
        return self.bits + 1  # a kept term may round the value up to 2^bits

    out_signed = False

    @property
    def n_packs(self):
        return -(-self.n_in // self.lanes)

    def cycles(self, r):
        """One to latch the resolution, one per pack of ``lanes`` values, four for the later stages of the last
        pack (each lane's value is registered after its selection, on its grid, as its digits and as its kept
        digits: short paths)."""
        return 5 + self.n_packs


@dataclass(frozen=True)
class MMACDenseCore:
    """An mMAC Dense layer (each pixel of a convolution). ``n_units`` units in lock step, unit ``u`` owning outputs
    ``j * n_units + u`` (round ``j`` of ``reuse``); every unit walks the groups one after another, ``group_terms[r]``
    term slots each (times ``data_budgets[r]`` data terms for the term-pair unit). ``table`` has one column per
    unit (its ROM), row ``(j * n_groups + g) * max_terms + t``; an entry is, least significant bit first,
    ``[index in group][exponent][negative][valid]``."""

    kind: ClassVar[str] = "mmac_dense"
    name: str
    n_in: int
    n_out: int
    group_size: int
    group_bases: tuple
    reuse: int
    max_terms: int
    table: np.ndarray = field(repr=False, compare=False)
    index_bits: int
    exponent_bits: int
    mode: str
    data_bits: int
    data_signed: bool
    data_frac: int
    max_data_terms: int
    weight_budgets: tuple
    weight_floors: tuple
    data_budgets: tuple
    group_terms: tuple
    acc_width: int
    acc_shift: int
    bias: tuple
    out_frac: int
    lanes: int = 1  # term slots each unit walks a cycle (weight-term units)

    def __post_init__(self):
        for key in ("group_bases", "weight_budgets", "weight_floors", "data_budgets", "group_terms", "bias"):
            object.__setattr__(self, key, tuple(int(v) for v in getattr(self, key)))
        object.__setattr__(self, "table", np.asarray(self.table, np.int64))
        name, n_res = self.name, len(self.weight_budgets)
        require(self.mode in MODES, name, f"unknown mode {self.mode!r} ({' or '.join(MODES)})")
        for key in ("weight_floors", "data_budgets", "group_terms"):
            require(len(getattr(self, key)) == n_res, name, f"{len(getattr(self, key))} {key} for {n_res} resolutions")
        require(1 <= self.reuse <= self.n_out, name, f"reuse {self.reuse} outside 1..n_out ({self.n_out})")
        expected = (self.reuse * self.n_groups * self.max_terms, self.n_units)
        require(self.table.shape == expected, name, f"table shape {self.table.shape}, expected {expected}")
        require(len(self.bias) == self.n_out, name, f"{len(self.bias)} biases for {self.n_out} outputs")
        require(max(self.group_terms) <= self.max_terms, name, f"group_terms past max_terms {self.max_terms}")
        require(not (self.mode == "term_pair" and self.data_signed), name, "term_pair mode takes unsigned codes")
        require(self.acc_width <= 52, name, f"accumulator of {self.acc_width} bits, more than 52")
        require(self.lanes >= 1, name, f"{self.lanes} lanes: at least one")
        require(self.lanes == 1 or self.mode == "weight_term", name, "lanes are the weight-term unit's")

    @property
    def n_groups(self):
        return len(self.group_bases)

    @property
    def n_units(self):
        return -(-self.n_out // self.reuse)

    @property
    def max_exponent(self):
        """The largest exponent among the table's valid terms (0 for an empty table): the units' shift span."""
        valid, exponents = entry_exponents(self.table, self.index_bits, self.exponent_bits)
        return int(exponents[valid].max(initial=0))

    n_resolutions = rows_of("weight_budgets")
    n_outputs = alias("n_out")
    out_width = alias("acc_width")
    out_signed = True
    in_width = alias("data_bits")
    in_signed = alias("data_signed")

    def group_size_of(self, g):
        end = self.group_bases[g + 1] if g + 1 < self.n_groups else self.n_in
        return end - self.group_bases[g]

    def steps(self, r):
        """Lock-step iterations at resolution ``r``: every round walks every group's term slots (and, for the
        term-pair unit, each slot's data terms)."""
        r = min(r, self.n_resolutions - 1)
        per_group = self.slot_steps(r) * (self.data_budgets[r] if self.mode == "term_pair" else 1)
        return self.reuse * self.n_groups * per_group

    def with_folding(self, reuse, lanes):
        """The same weights on ``ceil(n_out / reuse)`` units of ``lanes`` term slots a cycle."""
        by_unit = self.table.reshape(self.reuse, self.n_groups, self.max_terms, self.n_units).transpose(0, 3, 1, 2)
        entries = by_unit.reshape(-1, self.n_groups, self.max_terms)[: self.n_out]
        return replace(self, reuse=reuse, table=unit_table(entries, reuse), lanes=lanes)

    def slot_steps(self, r):
        """Steps a group takes at resolution ``r``: its term slots, ``lanes`` a step."""
        return -(-self.group_terms[min(r, self.n_resolutions - 1)] // self.lanes)

    @property
    def max_steps(self):
        """ROM rows per group: every stored term slot, ``lanes`` a row."""
        return -(-self.max_terms // self.lanes)

    def cycles(self, r):
        return self.steps(r) + MMAC_FIXED_CYCLES


@dataclass(frozen=True)
class ScaleShiftCore:
    """A switchable BN folded per resolution (nnet::switchable_scale_shift): value ``i`` of channel ``i % n_chan``
    becomes ``(x * scales[r][c] << scale_up) + (shifts[r][c] << shift_up)`` on ``acc_width`` signed bits, exactly
    (the width holds every product and sum)."""

    kind: ClassVar[str] = "scale_shift"
    name: str
    n_in: int
    n_chan: int
    in_width: int
    in_signed: bool
    scales: tuple
    shifts: tuple
    scale_up: int
    shift_up: int
    acc_width: int

    def __post_init__(self):
        for key in ("scales", "shifts"):
            object.__setattr__(self, key, tuple(tuple(int(v) for v in row) for row in getattr(self, key)))
        require(self.n_in % self.n_chan == 0, self.name, f"{self.n_in} values are not whole pixels of {self.n_chan}")
        for key in ("scales", "shifts"):
            require(
                all(len(row) == self.n_chan for row in getattr(self, key)) and len(getattr(self, key)) >= 1,
                self.name,
                f"{key}: one row of {self.n_chan} per resolution",
            )

    n_resolutions = rows_of("scales")
    n_outputs = alias("n_in")
    out_width = alias("acc_width")
    out_signed = True

    @property
    def scale_width(self):
        return bits_for(max(abs(v) for row in self.scales for v in row)) + 1

    @property
    def shift_width(self):
        return bits_for(max(abs(v) for row in self.shifts for v in row)) + 1

    def cycles(self, r):
        return 1  # io_parallel: every value at once


@dataclass(frozen=True)
class MaxPoolCore:
    """hls4ml's 2D max pooling on a stream of pixels (``pooling2d_cl``, line buffer; the pool as large as its
    stride, no padding): each output pixel the largest code of its window, channel by channel. The image is
    ``rows`` x ``cols`` pixels of ``n_chan`` codes of ``bits`` bits."""

    kind: ClassVar[str] = "max_pool"
    name: str
    rows: int
    cols: int
    n_chan: int
    pool_rows: int
    pool_cols: int
    bits: int
    signed: bool

    n_resolutions: ClassVar[int] = 1
    in_width = alias("bits")
    out_width = alias("bits")
    in_signed = alias("signed")
    out_signed = alias("signed")

    @property
    def n_in(self):
        return self.rows * self.cols * self.n_chan

    @property
    def n_outputs(self):
        return (self.rows // self.pool_rows) * (self.cols // self.pool_cols) * self.n_chan

    def emits(self, k):
        """Whether input pixel ``k`` (raster order) completes a window."""
        y, x = divmod(k, self.cols)
        return x % self.pool_cols == self.pool_cols - 1 and y % self.pool_rows == self.pool_rows - 1

    def cycles(self, r):
        return 1


@dataclass(frozen=True)
class StreamConvCore:
    """A streaming mMAC convolution (nnet_mmac_conv2d_stream.h): the walk over the zero-padded image, a position a
    cycle (a pixel of ``n_chan`` codes read inside the image), each output pixel's patch into a FIFO of windows,
    and the io_parallel ``core`` over each window, one output pixel (``core.n_out`` filters) at a time."""

    kind: ClassVar[str] = "conv_stream"
    core: MMACDenseCore
    rows: int
    cols: int
    n_chan: int
    filt_rows: int
    filt_cols: int
    stride_rows: int
    stride_cols: int
    pad_top: int
    pad_left: int
    out_rows: int
    out_cols: int

    name = property(lambda self: self.core.name)
    in_width = property(lambda self: self.core.data_bits)
    in_signed = property(lambda self: self.core.data_signed)
    out_width = property(lambda self: self.core.acc_width)
    out_signed = True
    n_resolutions = property(lambda self: self.core.n_resolutions)

    @property
    def n_in(self):
        return self.rows * self.cols * self.n_chan

    @property
    def n_outputs(self):
        return self.out_rows * self.out_cols * self.core.n_out

    @property
    def padded_rows(self):
        return max(self.pad_top + self.rows, (self.out_rows - 1) * self.stride_rows + self.filt_rows)

    @property
    def padded_cols(self):
        return max(self.pad_left + self.cols, (self.out_cols - 1) * self.stride_cols + self.filt_cols)

    def positions(self):
        return conv_positions(
            self.rows, self.cols, self.filt_rows, self.filt_cols, self.stride_rows, self.stride_cols,
            self.pad_top, self.pad_left, self.out_rows, self.out_cols,
        )  # fmt: skip

    def patches(self, codes):
        """Each output pixel's zero-padded patch (filter row, filter column, channel), raster order: (samples *
        pixels, patch)."""
        n = codes.shape[0]
        image = codes.reshape(n, self.rows, self.cols, self.n_chan)
        bottom, right = self.padded_rows - self.pad_top - self.rows, self.padded_cols - self.pad_left - self.cols
        padded = np.pad(image, ((0, 0), (self.pad_top, max(bottom, 0)), (self.pad_left, max(right, 0)), (0, 0)))
        fr, fc, sr, sc = self.filt_rows, self.filt_cols, self.stride_rows, self.stride_cols
        out = [
            padded[:, i * sr : i * sr + fr, j * sc : j * sc + fc, :].reshape(n, -1)
            for i in range(self.out_rows)
            for j in range(self.out_cols)
        ]
        return np.stack(out, axis=1).reshape(n * self.out_rows * self.out_cols, -1)

    def cycles(self, r):
        return 1


def conv_positions(rows, cols, filt_rows, filt_cols, stride_rows, stride_cols, pad_top, pad_left, out_rows, out_cols):
    """Per padded position of a streaming convolution's walk, raster order: ``(inside, emits)``, a pixel read
    there, an output pixel's patch complete there (conv2d_stream_geometry: rows and columns no window reaches are
    still walked)."""
    padded_rows = max(pad_top + rows, (out_rows - 1) * stride_rows + filt_rows)
    padded_cols = max(pad_left + cols, (out_cols - 1) * stride_cols + filt_cols)
    last_rows = {o * stride_rows + filt_rows - 1 for o in range(out_rows)}
    last_cols = {o * stride_cols + filt_cols - 1 for o in range(out_cols)}
    return [
        (pad_top <= ph < pad_top + rows and pad_left <= pw < pad_left + cols, ph in last_rows and pw in last_cols)
        for ph in range(padded_rows)
        for pw in range(padded_cols)
    ]


def stream_conv_cycles(positions, per_pixel):
    """``(latency, interval)`` of a streaming convolution alone, its input offered every cycle: the walk writes
    window ``p`` at the position that completes it (a position a cycle from the frame's first cycle); the core
    starts a window the cycle after it was written at the earliest and when the previous pixel is out, and shows
    the pixel ``per_pixel`` cycles after its start. Latency: from the frame's first cycle to its last pixel
    out, both counted. Interval: the walk (its positions + the loop's re-entry) or the pixels, the slower."""
    clock = 0
    for position, (_, emits) in enumerate(positions):
        if emits:
            clock = max(clock, position + 1) + per_pixel
    pixels = sum(emits for _, emits in positions)
    return clock + 1, max(len(positions) + STREAM_LOOP_GAP_CYCLES, pixels * per_pixel)


# The streaming Dense (nnet_mmac_dense_stream.h): its groups stage and its steps stage overlap, joined by a FIFO
# of two groups; the steps stage shows the output three cycles after its last step (the product, the low half, the
# high half) and the groups stage idles a cycle between frames (the loop's re-entry).
STREAM_GROUP_FIFO_DEPTH = 2
STREAM_WINDOW_FIFO_DEPTH = 2  # the streaming convolution's FIFO of windows (conv2d_stream_geometry)
STREAM_DENSE_DRAIN_CYCLES = 3
STREAM_LOOP_GAP_CYCLES = 1  # a first process (groups, the conv walk) between frames: its loop's re-entry
# A streaming data-term layer's register stages (nnet::data_term_op::stages): the word, then each value on its
# grid, its digits, its kept digits.
STREAM_DATA_TERM_STAGES = 4
# Cycles a streaming data-term layer takes at most per word: a word of more values goes through fewer data-term
# units over that many cycles (nnet::apply_to_packs_in_lanes; one more register stage, the output word). The
# layers around it take several cycles a word (a convolution's core: at least five a pixel).
STREAM_DATA_TERM_CHUNKS = 4


def stream_data_term_lanes(words):
    """Data-term units of a streaming layer whose words have ``words`` values."""
    return -(-words // STREAM_DATA_TERM_CHUNKS)


def stream_chunks(words, lanes):
    """Cycles a word takes through ``lanes`` units."""
    return -(-words // lanes)


# A streaming BN's register stages (nnet::registered_scale_shift_op::stages): the word, the products, the sums
# (a DSP48E1's input, multiplier and output registers).
STREAM_SCALE_SHIFT_STAGES = 3
# Streaming max pooling's register stages: the pixel, the window's largest codes.
STREAM_MAX_POOL_STAGES = 2
# A plain design's streaming activation (hls4ml's relu / linear on a stream, result ap_(u)fixed<.., AP_RND_CONV,
# AP_SAT>): the word, the requantized codes.
STREAM_REQUANT_STAGES = 2


def stream_group_ends(n_in, group_size, words):
    """Words of ``words`` values read when each group of ``group_size`` consecutive inputs is complete."""
    n_groups = -(-n_in // group_size)
    return [-(-min((g + 1) * group_size, n_in) // words) for g in range(n_groups)]


def stream_dense_schedule(group_ends, per_group, frames=1, back_to_back=False, out_words=1):
    """When each frame's first input word is taken and when its last output word is, ``[(first, out)]``, with
    the input offered every cycle (the next frame's right after the last word, or the cycle after the frame's
    output was taken) and the output always taken.

    The groups stage takes a cycle per iteration (a word read, a group written, or both); a group goes only into
    a free FIFO slot (a slot freed by a read takes a write from the next cycle). The steps stage reads a group at
    its first step, the cycle after it was written at the earliest, spends ``per_group`` cycles on it, shows the
    output ``STREAM_DENSE_DRAIN_CYCLES`` after its last step, one word a cycle, and starts the next frame the
    cycle after its last word was taken."""
    reads, result = [], []  # reads: the cycle each group (over all frames) left the FIFO
    now = steps_free = 0
    out = None
    for _ in range(frames):
        if not back_to_back and out is not None:
            now = max(now, out + 1)
        first, have = None, 0
        for end in group_ends:
            n = len(reads)
            if have < end - 1 and first is None:
                first = now
            now += max(0, end - 1 - have)  # iterations that only read a word
            have = max(have, end - 1)
            written = max(now, reads[n - STREAM_GROUP_FIFO_DEPTH] + 1 if n >= STREAM_GROUP_FIFO_DEPTH else 0)
            if have < end and first is None:
                first = written  # the iteration that writes the group reads its last word
            have = max(have, end)
            now = written + 1
            start = max(steps_free, written + 1)
            reads.append(start)
            steps_free = start + per_group
        now += STREAM_LOOP_GAP_CYCLES
        out = steps_free + STREAM_DENSE_DRAIN_CYCLES + out_words - 1
        steps_free = out + 1
        result.append((first, out))
    return result


def stream_dense_cycles(group_ends, per_group, out_words=1):
    """``(latency, interval)``: one frame's cycles from its first word taken to its last output word taken, both
    counted; the cycles between frames streamed back to back (steady from the second frame on)."""
    (first, out), *_ = stream_dense_schedule(group_ends, per_group, 1, False, out_words)
    frames = stream_dense_schedule(group_ends, per_group, 3, True, out_words)
    return out - first + 1, frames[2][1] - frames[1][1]


def accumulator_low_bits(acc_width):
    """The unit's low accumulator half (``LO_BITS`` of mrfpga_mmac_unit.v): half the width rounded up to whole
    CARRY4 (4 bits), at least one bit left for the high half."""
    half = 4 * ((acc_width + 7) // 8)
    return 1 if acc_width < 2 else min(half, acc_width - 1)


def layer_cycles(spec, r):
    """Cycles one sample takes in the layer at resolution ``r`` (docs/mmac_core.md, Cycles)."""
    return spec.cycles(min(r, spec.n_resolutions - 1))


def twin_specs(hls_model):
    """The core descriptions of the model's layers when the Verilog twin covers it (a chain of data-term and
    weight-term mMAC Dense layers in io_parallel: the twin is the io_parallel core's schedule), else None."""
    if hls_model.config.get_config_value("IOType") != "io_parallel":
        return None
    layers = [n for n in hls_model.get_layers() if n.class_name not in FLAT_LAYERS]
    if not layers or any(n.class_name not in TWIN_LAYERS for n in layers):
        return None
    specs = [n.core_spec() for n in layers]
    if any(spec.kind == "mmac_dense" and spec.mode != "weight_term" for spec in specs):
        return None
    return specs


# ---------------------------------------------------------------------------
# Term entries, packed once for the HLS weight memory and the twin's ROMs


def group_spans(n_in, group_size):
    """(first input, size) of each group along the fan-in; the last may be short."""
    return [(start, min(group_size, n_in - start)) for start in range(0, n_in, group_size)]


def pack_group_terms(magnitudes, signs, spans, encoding, max_terms, index_bits, exponent_bits):
    """Entries ``[output][group][term slot]`` of integer weights (magnitudes and signs, shape (n_in, n_out)): each
    group's terms in ``encoding``, most significant first, at most ``max_terms``; empty slots are 0 (invalid)."""
    magnitudes = np.asarray(magnitudes, np.int64)
    n_out = magnitudes.shape[1]
    valid = 1 << (index_bits + exponent_bits + 1)
    entries = np.zeros((n_out, len(spans), max_terms), np.int64)
    for o in range(n_out):
        for g, (start, size) in enumerate(spans):
            kept = group_terms(magnitudes[start : start + size, o], encoding)[:max_terms]
            for t, (exp, digit, idx) in enumerate(kept):
                negative = (digit < 0) != (signs[start + idx, o] < 0)
                entries[o, g, t] = idx | exp << index_bits | int(negative) << (index_bits + exponent_bits) | valid
    return entries


def entry_exponents(entries, index_bits, exponent_bits):
    """``(valid, exponent)`` of each packed term entry (``pack_group_terms``' layout)."""
    valid = (entries >> (index_bits + exponent_bits + 1) & 1).astype(bool)
    return valid, entries >> index_bits & ((1 << exponent_bits) - 1)


def held_terms(entries, index_bits, exponent_bits, budgets, floors):
    """Term slots every group walks in lock step, per resolution: the fullest group's terms at or above the
    exponent floor, at most the budget."""
    valid, exponents = entry_exponents(entries, index_bits, exponent_bits)
    return [
        min(int(k), int((valid & (exponents >= floor)).sum(axis=-1).max(initial=0)))
        for k, floor in zip(budgets, floors, strict=True)
    ]


def unit_table(entries, reuse, groups_outer=False):
    """The entries laid out for ``ceil(n_out / reuse)`` units, unit ``u`` owning outputs ``j * n_units + u``:
    rows ``[round][group][term slot]`` (``[group][round][term slot]`` for the streaming Dense, which takes the
    groups as they arrive), one column per unit."""
    n_out, n_groups, max_terms = entries.shape
    n_units = -(-n_out // reuse)
    padded = np.zeros((reuse * n_units, n_groups, max_terms), np.int64)
    padded[:n_out] = entries
    by_unit = padded.reshape(reuse, n_units, n_groups, max_terms)
    order = (2, 0, 3, 1) if groups_outer else (0, 2, 3, 1)
    return by_unit.transpose(order).reshape(-1, n_units)


def lane_steps(table, blocks, max_terms, lanes):
    """A unit table (rows ``[round][group][slot]``, ``blocks`` = rounds * groups, one column per unit) with each
    group's slots padded to whole steps of ``lanes`` slots, empty entries past the last stored one: shape
    ``(blocks, steps, lanes, units)``, slot ``step * lanes + lane``. The twin's ROM words and the C++ table are
    laid out from it."""
    n_units = table.shape[1]
    steps = -(-max_terms // lanes)
    padded = np.zeros((blocks, steps * lanes, n_units), np.int64)
    padded[:, :max_terms] = table.reshape(blocks, max_terms, n_units)
    return padded.reshape(blocks, steps, lanes, n_units)


def dense_core(
    name,
    magnitudes,
    signs,
    bias,
    *,
    group_size,
    reuse,
    weight_bits,
    weight_budgets,
    mode,
    data_bits,
    data_budgets,
    weight_floors=None,
    data_signed=False,
    data_frac=0,
    acc_shift=0,
    encoding="naf",
    lanes=1,
):
    """The core of integer weights (magnitudes and signs, shape (n_in, n_out)), packed as the layers pack theirs:
    for tests and measurements beside the hls4ml layers' own ``core_spec()``."""
    magnitudes = np.asarray(magnitudes, np.int64)
    n_in, n_out = magnitudes.shape
    spans = group_spans(n_in, group_size)
    max_terms = max(weight_budgets)
    index_bits, exponent_bits = bits_for(group_size - 1), bits_for(weight_bits)
    weight_floors = list(weight_floors or [0] * len(weight_budgets))
    entries = pack_group_terms(magnitudes, signs, spans, encoding, max_terms, index_bits, exponent_bits)
    reuse = min(reuse, n_out)
    bias = [int(b) for b in bias]
    # Every term pair at its largest, from every input, plus the bias.
    bound = (int(np.abs(magnitudes).sum(axis=0).max(initial=0)) * 2 + 1) << (data_bits + acc_shift)
    return MMACDenseCore(
        name=name,
        n_in=n_in,
        n_out=n_out,
        group_size=group_size,
        group_bases=[start for start, _ in spans],
        reuse=reuse,
        max_terms=max_terms,
        table=unit_table(entries, reuse),
        index_bits=index_bits,
        exponent_bits=exponent_bits,
        mode=mode,
        data_bits=data_bits,
        data_signed=data_signed,
        data_frac=data_frac,
        max_data_terms=(data_bits + 2) // 2 if mode == "term_pair" else 1,
        weight_budgets=weight_budgets,
        weight_floors=weight_floors,
        data_budgets=data_budgets,
        group_terms=held_terms(entries, index_bits, exponent_bits, weight_budgets, weight_floors),
        acc_width=bits_for(bound + max((abs(b) for b in bias), default=0)) + 1,
        acc_shift=acc_shift,
        bias=bias,
        out_frac=data_frac + acc_shift,
        lanes=lanes,
    )


# ---------------------------------------------------------------------------
# The golden model


def to_signed(raw, width):
    """Two's-complement bits (non-negative ints) -> signed values."""
    raw = np.asarray(raw, np.int64) & ((1 << width) - 1)
    return np.where(raw >> (width - 1) & 1, raw - (1 << width), raw)


def _on_grid(x, spec):
    """The input value on ap_ufixed<bits, bits - frac, AP_RND or AP_RND_CONV, AP_SAT>: its unsigned code."""
    shift = spec.in_frac - spec.frac
    if shift > 0:
        q, rem = divmod(x, 1 << shift)
        half = 1 << (shift - 1)
        if spec.round_half_even:
            q += rem > half or (rem == half and q & 1)
        else:
            q += rem >= half
    else:
        q = x << -shift
    return min(max(q, 0), (1 << spec.bits) - 1)


def data_term_value(x, spec, r):
    """One value through the data-term layer at resolution ``r``: its output code."""
    code = _on_grid(int(x), spec)
    dropped = spec.floors[r]
    code = code >> dropped << dropped
    kept = value_terms(code, spec.encoding)[: spec.budgets[r]]
    return sum(digit << exp for exp, digit in kept)


def _simulate_data_term(spec, codes, r):
    values, inverse = np.unique(codes, return_inverse=True)
    out = np.array([data_term_value(x, spec, r) for x in values], np.int64)
    return out[inverse].reshape(codes.shape)


def _data_terms(codes, width, max_terms):
    """NAF terms of each code, most significant first, at most ``max_terms``: (exponents, negative, count)."""
    exps = np.zeros((*codes.shape, max_terms), np.int64)
    negs = np.zeros((*codes.shape, max_terms), bool)
    counts = np.zeros(codes.shape, np.int64)
    for index, code in np.ndenumerate(codes):
        terms = value_terms(int(code) & ((1 << width) - 1), "naf")[:max_terms]
        counts[index] = len(terms)
        for d, (exp, digit) in enumerate(terms):
            exps[(*index, d)] = exp
            negs[(*index, d)] = digit < 0
    return exps, negs, counts


def _shifted(x, shift, mask, width):
    """(x << shift) mod 2^width for x already reduced mod 2^width, without leaving int64."""
    if shift >= width:
        return np.zeros_like(x)
    return (x & ((1 << (width - shift)) - 1)) << shift & mask


def _simulate_mmac_dense(spec, codes, r):
    width, mask = spec.acc_width, (1 << spec.acc_width) - 1
    k, floor, a, slots = spec.weight_budgets[r], spec.weight_floors[r], spec.data_budgets[r], spec.group_terms[r]
    ib, eb, n_units = spec.index_bits, spec.exponent_bits, spec.n_units
    table = spec.table.reshape(spec.reuse, spec.n_groups, spec.max_terms, n_units)
    term_pair = spec.mode == "term_pair"
    if term_pair:
        max_data = spec.max_data_terms
        data_exp, data_neg, data_count = _data_terms(codes, spec.data_bits, max_data)
    else:
        x_mod = codes.astype(np.int64) & mask
    out = np.zeros((codes.shape[0], spec.n_out), np.int64)
    for o in range(spec.n_out):
        j, u = divmod(o, n_units)
        acc = np.full(codes.shape[0], spec.bias[o] & mask, np.int64)
        for g, base in enumerate(spec.group_bases):
            for t in range(slots):
                entry = int(table[j, g, t, u])
                exp = entry >> ib & ((1 << eb) - 1)
                negative = entry >> (ib + eb) & 1
                if not entry >> (ib + eb + 1) & 1 or exp < floor or t >= k:
                    continue
                i = base + (entry & ((1 << ib) - 1))
                if term_pair:
                    for d in range(min(a, max_data)):
                        on = d < data_count[:, i]
                        shift = exp + data_exp[:, i, d] + spec.acc_shift
                        product = np.where(on & (shift < width), np.left_shift(1, np.minimum(shift, 62)), 0)
                        subtract = data_neg[:, i, d] != bool(negative)
                        acc = np.where(subtract, acc - product, acc + product) & mask
                else:
                    product = _shifted(x_mod[:, i], exp + spec.acc_shift, mask, width)
                    acc = (acc - product if negative else acc + product) & mask
        out[:, o] = acc
    return to_signed(out, width)


def _simulate_scale_shift(spec, codes, r):
    channel = np.arange(spec.n_in) % spec.n_chan
    scale, shift = np.array(spec.scales[r], np.int64)[channel], np.array(spec.shifts[r], np.int64)[channel]
    out = (codes * scale << spec.scale_up) + (shift << spec.shift_up)
    return to_signed(out & ((1 << spec.acc_width) - 1), spec.acc_width)


def _simulate_max_pool(spec, codes, r):
    n = codes.shape[0]
    out_rows, out_cols = spec.rows // spec.pool_rows, spec.cols // spec.pool_cols
    image = codes.reshape(n, spec.rows, spec.cols, spec.n_chan)[
        :, : out_rows * spec.pool_rows, : out_cols * spec.pool_cols
    ]
    blocks = image.reshape(n, out_rows, spec.pool_rows, out_cols, spec.pool_cols, spec.n_chan)
    return blocks.max(axis=(2, 4)).reshape(n, -1)


def _simulate_conv_stream(spec, codes, r):
    pixels, _ = simulate(spec.core, spec.patches(codes), r)
    return pixels.reshape(codes.shape[0], -1)


def simulate(spec, codes, r):
    """One layer at resolution ``r`` on ``codes`` (samples, n_in): (output codes (samples, n_out), cycles per sample).

    ``r`` past the last resolution means the last one, as in the HLS core.
    """
    codes = check_codes(spec, codes)
    r = min(r, spec.n_resolutions - 1)
    if hasattr(spec, "golden"):  # a plain layer (plain.py, plain_stream.py): one resolution
        return spec.golden(codes), np.full(codes.shape[0], spec.cycles(r), np.int64)
    run = {
        "data_term": _simulate_data_term,
        "scale_shift": _simulate_scale_shift,
        "max_pool": _simulate_max_pool,
        "conv_stream": _simulate_conv_stream,
    }.get(spec.kind, _simulate_mmac_dense)
    return run(spec, codes, r), np.full(codes.shape[0], spec.cycles(r), np.int64)


def check_chain(specs):
    """Raise ValueError unless each layer's output feeds the next one's input exactly (count, width, signedness)."""
    if not specs:
        raise ValueError("no layers to chain")
    for before, after in zip(specs, specs[1:], strict=False):
        produced = (before.n_outputs, before.out_width, before.out_signed)
        expected = (after.n_in, after.in_width, after.in_signed)
        if produced != expected:
            raise ValueError(
                f"layer {before.name} gives (values, width, signed) {produced}, but {after.name} takes {expected}"
            )


def simulate_chain(specs, codes, r):
    """The layers one after another: (output codes of the last, cycles per sample of the whole chain)."""
    check_chain(specs)
    return run_chain(specs, codes, lambda spec, layer_codes: simulate(spec, layer_codes, r))
