"""Unit costs of the mMAC's Verilog twin, measured with Yosys (``bench/bench_units.py`` re-measures them).

Tool: Yosys 0.70 (git sha1 28ba3cb92), ``synth_xilinx -family xc7 -noiopad``, hierarchy kept, on the twin's own
Verilog (``mrfpga.hls.twin.verilog``) with term tables of random 8-bit weights (NAF, groups of 16). See the section
"Measured with Yosys" of docs/estimates.md for the tables these come from.
"""

TOOL = "Yosys 0.70 (git sha1 28ba3cb92) synth_xilinx -family xc7 -noiopad"

# One realistic unit: a term ROM of 4 rounds x 20 terms = 80 entries of 10 bits, 16:1 operand selection,
# a 24-bit accumulator (plus 3 partial sums: reuse 4), predicates; mean of 3 units with different weights.
UNIT = {
    "term_pair": {"LUT": 160.0, "FF": 103.0, "CARRY4": 14.0},
    "weight_term": {"LUT": 180.7, "FF": 111.0, "CARRY4": 12.0},
}
UNIT_ROM_BITS = 800
UNIT_ACC_WIDTH = 24
UNIT_REUSE = 4

# Fits over units of the term-pair design (least squares, bench part (b)).
LUT_PER_ROM_BIT = 0.0373  # ROMs of 200, 400, 800, 1600 bits: 111, 129, 160, 166 LUT
LUT_PER_ACC_BIT = 3.19  # accumulators of 16, 24, 32 bits: 115, 160, 166 LUT
FF_PER_ACC_BIT_PER_ROUND = 1.0  # the accumulator and reuse - 1 partial sums, plus pipeline stage 1:
UNIT_STAGE_FF = {"term_pair": 7, "weight_term": 15}  # valid, sign, exponent (and the 9-bit code)

# Per input of a term-pair layer: NAF masks saved at load, the working mask, leading-digit detection
# (a 9-bit data-term code). The weight-term layer only latches the code: no LUT per input.
TERM_PAIR_INPUT = {"LUT": 66.0, "FF": 28.0, "CARRY4": 3.0}
WEIGHT_TERM_INPUT = {"LUT": 0.0, "FF": 9.0}

# Output sums (bias + one partial sum per group): the constant bias rides on the carry chain; each further
# group adds an adder per output, and a layer with two groups or more pays once for the tree's wiring.
# Fitted per output and accumulator bit on 8 outputs x 24 bits at 1 / 2 / 4 groups (38 / 413 / 935 LUT,
# control included) and on the streaming CNN's convolution cores at 9 groups (16 x 22 bits: 3914 LUT;
# 32 x 25 bits: 9039 LUT; docs/estimates.md).
LUT_PER_OUTPUT_GROUP_BIT = 1.4
LUT_PER_OUTPUT_TREE_BIT = 0.55
LAYER_CONTROL_LUT = 38.0

# A data-term layer, per value of 8 bits (grid, saturation, NAF, top-a thermometer), registered.
DATA_TERM_VALUE = {"LUT": 46.0, "FF": 9.0, "CARRY4": 10.0}


def mmac_unit_lut(mode, rom_bits, acc_width):
    """LUT of one unit of ``mode`` with a ROM of ``rom_bits`` and a ``acc_width``-bit accumulator."""
    return (
        UNIT[mode]["LUT"]
        + LUT_PER_ROM_BIT * (rom_bits - UNIT_ROM_BITS)
        + LUT_PER_ACC_BIT * (acc_width - UNIT_ACC_WIDTH)
    )


def output_sums_lut(n_out, n_groups, width):
    """LUT of a layer's output sums beyond the first group's (bias plus one partial sum per group)."""
    if n_groups < 2:
        return 0.0
    return n_out * width * (LUT_PER_OUTPUT_GROUP_BIT * (n_groups - 1) + LUT_PER_OUTPUT_TREE_BIT)


def mmac_dense_resources(spec):
    """LUT/FF of an mMAC Dense layer from its core description (``core_spec()``), from the figures above."""
    mode, width, reuse = spec["mode"], spec["acc_width"], spec["reuse"]
    rom_bits = reuse * spec["max_terms"] * (spec["index_bits"] + spec["exponent_bits"] + 2)
    per_input = TERM_PAIR_INPUT if mode == "term_pair" else WEIGHT_TERM_INPUT
    lut = (
        spec["n_units"] * mmac_unit_lut(mode, rom_bits, width)
        + spec["n_in"] * per_input["LUT"]
        + output_sums_lut(spec["n_out"], spec["n_groups"], width)
        + LAYER_CONTROL_LUT
    )
    unit_ff = reuse * width * FF_PER_ACC_BIT_PER_ROUND + UNIT_STAGE_FF[mode]
    ff = spec["n_units"] * unit_ff + spec["n_in"] * per_input["FF"] + spec["n_out"] * width
    return {"LUT": round(lut), "FF": round(ff), "DSP48E1": 0, "BRAM_18K": 0}


def data_term_resources(spec):
    """LUT/FF of a data-term layer (per value figures measured at 8 bits, scaled by the width)."""
    scale = spec["bits"] / 8
    return {
        "LUT": round(spec["n_in"] * DATA_TERM_VALUE["LUT"] * scale),
        "FF": spec["n_in"] * (spec["bits"] + 1),
        "DSP48E1": 0,
        "BRAM_18K": 0,
    }
