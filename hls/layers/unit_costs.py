"""Costs of the mMAC's Verilog twin, measured with Yosys (``bench/bench_units.py`` re-measures them).

Tool: Yosys 0.70, ``synth_xilinx -family xc7 -noiopad -nodsp -nolutram -flatten -widemux 5``, hierarchy kept, on
the twin's own Verilog (``mrfpga.hls.twin.verilog``) with term tables of 8-bit weights (NAF, groups of 16);
docs/estimates.md has the measurements. The structural parts (multiplexers, adders) are counted from the
design; the constants below are what the measured modules add to them.
"""

import math

from mrfpga.hls.twin.spec import accumulator_low_bits

TOOL = "Yosys 0.70 synth_xilinx -family xc7 -noiopad -nodsp -nolutram -flatten -widemux 5"

# One weight-term unit: the 16:1 operand select of 9-bit values (LUT6 with MUXF7/MUXF8), the shift of up to 8
# places, the product inverted for a negative term, one adder into a 24-bit accumulator, the valid and floor
# predicates; its term ROM in block RAM. Measured 120 LUT at 24 bits, 122 at 25 (bench_units, demo shape).
UNIT_LUT = 120.0
UNIT_DATA_BITS, UNIT_ACC_WIDTH, UNIT_GROUP = 9, 24, 16
# A lane beyond a unit's first at conv_0's widths (groups of 3, 9-bit values, 22-bit accumulator); lane_lut
# scales it by the select and the adder. Measured in the issue CNN's whole twin: 53 LUT a lane in conv_0 (4 lanes),
# 93 in conv_1 (3 lanes, groups of 16, 25 bits).
LANE_LUT = 60.0
UNIT_FF_STAGE = 3  # the sign register and the predicates beside the registered product
LUT_PER_ROM_BIT = 0.0373  # a term ROM below ROM_BLOCK_BITS is distributed: LUTs per stored bit
# A layer: its step counters, the resolution's step count and floor, the done pulse.
LAYER_CONTROL_LUT = 60.0
# The term-pair unit of the HLS C++ (no twin): one data term per step of the value's, extracted once per group.
TERM_PAIR_EXTRACTION = {"LUT": 66.0, "FF": 28.0}  # per value of a group

# A data-term lane, per value of 8 bits: the grid (window, rounding increment, saturation), dropped bits, NAF,
# top-a thermometer, the code from the kept digits. Measured 49 to 101 (the demo's three layers; ABC maps the
# lane differently beside an 8:1 or a 16:1 selection): 60 puts the three layers' sum within 5%.
DATA_TERM_LANE_LUT = 60.0
DATA_TERM_CONTROL_LUT = 20.0


def mux_lut(inputs, bits):
    """A k:1 multiplexer of ``bits`` bits: one LUT6 per 4 inputs per bit, MUXF7/MUXF8 joining up to 16 (none for a
    single input); beyond 16, the 16:1 blocks joined by a multiplexer of their own."""
    if inputs <= 1:
        return 0
    blocks = math.ceil(inputs / 16)
    return math.ceil(inputs / 4) * bits + (mux_lut(blocks, bits) if blocks > 1 else 0)


def mmac_unit_lut(acc_width, data_bits, group_size, rom_bits=0):
    """LUT of one weight-term unit: the measured unit, scaled by its operand select, shift and accumulator; a
    distributed ROM adds its bits."""
    return (
        UNIT_LUT
        + mux_lut(group_size, data_bits)
        - mux_lut(UNIT_GROUP, UNIT_DATA_BITS)
        + 2 * (acc_width - UNIT_ACC_WIDTH)  # an adder bit and a product bit per accumulator bit
        + LUT_PER_ROM_BIT * rom_bits
    )


def mmac_dense_resources(spec, rom_block_bits=1024):
    """LUT/FF/BRAM of an io_parallel mMAC Dense layer from its core (``MMACDenseCore``): the units, the group
    select shared by the units, each unit's next-bias select, the output registers, the control."""
    width, units, group, lanes = spec.acc_width, spec.n_units, spec.group_size, spec.lanes
    depth = spec.reuse * spec.n_groups * spec.max_steps
    entry_bits = (spec.index_bits + spec.exponent_bits + 2) * lanes  # a ROM word holds a step's lanes
    block = depth * entry_bits >= rom_block_bits
    unit = mmac_unit_lut(width, spec.data_bits, group, 0 if block else depth * entry_bits)
    unit += (lanes - 1) * lane_lut(width, spec.data_bits, group)
    lut = (
        units * unit
        + mux_lut(spec.n_groups, group * spec.data_bits)
        + (units * width / 4 if spec.reuse > 1 else 0)  # the next round's bias: a constant per round
        + LAYER_CONTROL_LUT
    )
    # A unit's accumulator and registered product, the product's high half held a stage longer with the low
    # half's carry, a distributed ROM's output register.
    held = width - accumulator_low_bits(width) + 1
    ff = units * (2 * width + held + entry_bits * (not block) + UNIT_FF_STAGE) + group * spec.data_bits
    ff += spec.n_out * width
    if spec.mode == "term_pair":
        lut += group * TERM_PAIR_EXTRACTION["LUT"]
        ff += group * TERM_PAIR_EXTRACTION["FF"]
    return {
        "LUT": round(lut),
        "FF": round(ff),
        "DSP48E1": 0,
        "BRAM_18K": units * math.ceil(depth * entry_bits / 18432) if block else 0,
    }


def lane_lut(acc_width, data_bits, group_size):
    """LUT of each term slot a unit walks a cycle beyond its first: the lane's operand select and shift, and one
    adder of the accumulator's width into the registered product (``LANE_LUT`` scaled)."""
    return LANE_LUT + mux_lut(group_size, data_bits) - mux_lut(3, UNIT_DATA_BITS) + 2 * (acc_width - 22)


def data_term_resources(spec):
    """LUT/FF of a data-term layer (``DataTermCore``): ``lanes`` copies of a value's logic (scaled by its width),
    the selection of each pack's inputs, the output registers and each lane's four stage registers."""
    n, lanes, packs, bits = spec.n_in, spec.lanes, spec.n_packs, spec.bits
    lut = lanes * DATA_TERM_LANE_LUT * bits / 8 + mux_lut(packs, lanes * spec.in_width) + DATA_TERM_CONTROL_LUT
    ff = n * (bits + 1) + lanes * (spec.in_width + bits + 4 * (bits + 1))  # the stage registers: x, grid, digits, kept
    return {"LUT": round(lut), "FF": ff, "DSP48E1": 0, "BRAM_18K": 0}
