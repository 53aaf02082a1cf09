"""The plain QKeras baseline's Verilog twin (mrfpga.hls.twin.plain).

Its requantization is held to QKeras's own quantizers on every code of a grid (ties and saturation
included); its golden model, read from hls4ml's conversion of ``scheme: qkeras`` MLPs, to the exact
reference of the Keras model; the Verilog, built and run in Verilator, to the golden model (outputs and
cycles, sample by sample) at two reuse factors, one of them cutting lanes across outputs and padding the
last lane; Yosys sizes it with no DSP and reports its depth, a lane's ROM in block RAM from 1,024 bits (the
multi-resolution twin's rule).
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from qkeras import quantized_bits, quantized_relu

from mrfpga.cli.run_config import QuantizationConfig
from mrfpga.hls.project.convert import convert, input_port_type
from mrfpga.hls.sim.csim import snap_to_input_grid
from mrfpga.hls.sim.reference import exact_forward
from mrfpga.hls.twin import plain, tools
from mrfpga.training.data import InputGrid
from mrfpga.training.models import build_mlp

SIGNED_GRID = InputGrid(7, 2, True)


def plain_mlp(bits, seed, grid=None, n_in=16, hidden=(12,), n_classes=10):
    """A ``scheme: qkeras`` MLP with spread random weights and biases."""
    q = QuantizationConfig(scheme="qkeras", weight_bits=bits, activation_bits=bits)
    model = build_mlp(n_in, n_classes, list(hidden), q, seed=seed, input_grid=grid)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0, 0.5, kernel.shape), rng.normal(0, 2, bias.shape)])
    return model


def port_inputs(model, n, seed):
    """Inputs on the input port's grid (as the kit feeds the board) and their codes."""
    width, integer = input_port_type(model)
    x = snap_to_input_grid(np.random.default_rng(seed).normal(0, 3, (n, model.input_shape[1])), width, integer)
    return x, np.round(x.astype(np.float64) * 2.0 ** (width - integer)).astype(np.int64)


def converted_specs(model, out_dir, reuse):
    hls_model = convert(model, out_dir, board="pynq-z2", io_type="io_parallel", reuse_factor=reuse)
    return plain.from_hls_model(hls_model)


@pytest.mark.parametrize(
    "quantizer, frac, signed",
    [
        (quantized_relu(4, 3), 1, False),
        (quantized_relu(8, 3), 5, False),
        (quantized_bits(8, 2, keep_negative=True, alpha=1), 5, True),
    ],
    ids=["relu4", "relu8", "bits8"],
)
def test_requantize_is_qkeras(quantizer, frac, signed):
    """Every code of a finer grid (4 fraction bits more, ties included) past both ends of the range."""
    in_frac = frac + 4
    codes = np.arange(-(1 << (in_frac + 5)), 1 << (in_frac + 5))
    expected = quantizer(tf.constant(codes / 2.0**in_frac, tf.float32)).numpy().astype(np.float64) * 2.0**frac
    width = quantizer.bits
    got = plain.requantize(codes, in_frac - frac, width, signed, relu=not signed)
    np.testing.assert_array_equal(got, expected)
    low, high = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    half_up = np.clip(np.floor(codes / 16 + 0.5), low, high)
    assert not np.array_equal(half_up, expected)  # the grid has ties, and QKeras rounds them to even


class TestGoldenModel:
    @pytest.mark.parametrize(
        "bits, grid", [(4, None), (8, None), (6, SIGNED_GRID)], ids=["4bit", "8bit", "6bit_signed"]
    )
    def test_equals_the_exact_reference(self, tmp_path, bits, grid):
        model = plain_mlp(bits, seed=bits, grid=grid)
        specs = converted_specs(model, tmp_path / "prj", reuse=4)
        assert [type(s).__name__ for s in specs] == ["PlainQuant", "PlainDense", "PlainQuant", "PlainDense"]
        first, dense = specs[0], specs[1]
        assert (first.in_width, first.in_frac, first.in_signed) == (16, 10, True)  # ap_fixed<16,6> port
        assert (first.signed, first.relu) == ((True, False) if grid else (False, True))
        assert (dense.weight_width, dense.weight_frac, dense.bias_frac) == (bits, bits - 1, 8)
        x, codes = port_inputs(model, 1000, seed=bits)
        out, cycles = plain.simulate_chain(specs, codes)
        expected = exact_forward(model, x) * 2.0 ** specs[-1].out_frac
        np.testing.assert_array_equal(out, expected)
        assert (cycles == plain.total_cycles(specs)).all() and all(s.float32_exact for s in specs[1::2])
        # The input grid's ties were exercised: codes exactly half a step between two grid values.
        assert np.sum(codes % (1 << first.shift) == 1 << (first.shift - 1)) > 0

    def test_refuses_what_it_does_not_cover(self, tmp_path):
        model = plain_mlp(4, seed=0)
        hls_model = convert(model, tmp_path / "prj", io_type="io_stream")
        with pytest.raises(ValueError, match="io_parallel"):
            plain.from_hls_model(hls_model)


def dense(rng, n_in, n_out, reuse, bits=8):
    return plain.PlainDense.build(
        "d", rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), (n_in, n_out)), rng.integers(-500, 500, n_out),
        reuse=reuse, in_width=bits, in_frac=bits - 3, in_signed=False, weight_width=bits, weight_frac=bits - 1,
        bias_frac=8,
    )  # fmt: skip


class TestSchedule:
    def test_lanes_cover_every_product_once(self):
        rng = np.random.default_rng(0)
        for n_in, n_out, reuse in [(16, 12, 4), (16, 12, 7), (16, 12, 24), (12, 10, 120), (5, 3, 1), (7, 3, 4)]:
            spec = dense(rng, n_in, n_out, reuse)
            assert spec.lanes == -(-n_in * n_out // reuse) and spec.steps <= reuse
            assert spec.cycles() == spec.steps + 4
            seen = [e[:2] for p in range(spec.lanes) for e in spec.lane_products(p) if e is not None]
            assert sorted(seen) == [(o, i) for o in range(n_out) for i in range(n_in)]
            # A segment starts at each lane's first product and wherever its block reaches a new output.
            for p in range(spec.lanes):
                outputs = [e[0] for e in spec.lane_products(p) if e is not None]
                assert spec.lane_segments(p) == sorted(set(outputs))

    def test_hls4ml_reuse_factors_fold_whole_outputs(self):
        rng = np.random.default_rng(1)
        specs = plain.with_reuse([dense(rng, 16, 12, 1), dense(rng, 12, 10, 1)], 5, hls4ml_valid=True)
        assert [s.reuse for s in specs] == [4, 4]  # hls4ml's closest valid factors (12 x 10: 4 and 6 tie)
        for spec in specs:
            assert spec.steps == spec.reuse and spec.lanes * spec.reuse == spec.n_products
            assert all(len(spec.lane_segments(p)) == 1 for p in range(spec.lanes))

    def test_reuse_for_cycles_is_the_closest(self):
        rng = np.random.default_rng(2)
        quant = plain.PlainQuant("q", 12, 19, 12, True, 8, 5, False, True)
        specs = [dense(rng, 16, 12, 1), quant, dense(rng, 12, 10, 1)]
        by_reuse = {r: plain.total_cycles(plain.with_reuse(specs, r)) for r in range(1, 193)}
        for target in (5, 11, 40, 57, 200, 10_000):
            reuse, cycles, chain = plain.reuse_for_cycles(specs, target)
            assert cycles == plain.total_cycles(chain) == by_reuse[reuse] and chain[0].reuse == reuse
            assert abs(cycles - target) == min(abs(c - target) for c in by_reuse.values())
        # 1 + (16 + 4) + (15 + 4): 12 and 8 lanes, as at reuse 17 (the same design).
        assert plain.reuse_for_cycles(specs, 40)[:2] == (16, 40)
        reuse, cycles, chain = plain.reuse_for_cycles(specs, 40, hls4ml_valid=True)
        # hls4ml's factors: 16 x 12 takes 16, 12 x 10 its closest valid, 12 (37 cycles), from 13 on (the smallest
        # model-wide factor of that design); from 20 on, 16 and 24 (49 cycles).
        assert (reuse, [s.reuse for s in chain[::2]], cycles) == (13, [16, 12], 1 + (16 + 4) + (12 + 4))
        assert plain.reuse_for_cycles(specs, 10_000)[0] == 192

    def test_bad_specs_are_named(self):
        rng = np.random.default_rng(3)
        spec = dense(rng, 4, 3, 2)
        with pytest.raises(ValueError, match="plain layer d: reuse 13 outside 1..12"):
            spec.with_reuse(13)
        with pytest.raises(ValueError, match="plain layer d: acc_width 5"):
            dataclasses.replace(spec, acc_width=5)
        quant = plain.PlainQuant("q", 3, spec.acc_width, spec.acc_frac, True, 4, 1, False, True)
        with pytest.raises(ValueError, match="plain layer q gives .* but d takes"):
            plain.check_chain([quant, spec])


@pytest.mark.slow
@pytest.mark.parametrize(
    "bits, grid, reuse",
    [(4, None, 4), (8, SIGNED_GRID, 7)],
    ids=["4bit_reuse4", "8bit_signed_reuse7_cut_lanes"],
)
def test_verilator_equals_the_golden_model(tmp_path, bits, grid, reuse):
    model = plain_mlp(bits, seed=10 + bits, grid=grid)
    specs = converted_specs(model, tmp_path / "prj", reuse)
    if reuse == 7:  # lanes cut across outputs (two segments), the last lane padded, signed operands
        assert any(len(s.lane_segments(p)) == 2 for s in specs[1::2] for p in range(s.lanes))
        assert all(s.lanes * s.steps > s.n_products for s in specs[1::2]) and specs[1].in_signed
    x, codes = port_inputs(model, 300, seed=bits)
    expected, cycles = plain.simulate_chain(specs, codes)
    result = plain.run_twin(specs, codes, tmp_path / "rtl")
    np.testing.assert_array_equal(result["outputs"][0], expected)
    np.testing.assert_array_equal(result["outputs"][0], exact_forward(model, x) * 2.0 ** specs[-1].out_frac)
    assert result["cycles"][0] == cycles.tolist()
    assert cycles[0] == sum(s.steps + 4 if isinstance(s, plain.PlainDense) else 1 for s in specs)


def odd_chain(rng):
    """Corners the MLPs leave out: a stage adding fraction bits (and saturating, signed), a lane with four
    segments (reuse = all products), a single input (nothing to rotate), a padded lane of two segments."""
    q0 = plain.PlainQuant("q0", 3, 6, 1, True, 7, 3, True, False)
    d1 = plain.PlainDense.build(
        "d1", rng.integers(-16, 16, (3, 4)), rng.integers(-50, 50, 4), reuse=12, in_width=7, in_frac=3,
        in_signed=True, weight_width=5, weight_frac=4, bias_frac=2,
    )  # fmt: skip
    q1 = plain.PlainQuant("q1", 4, d1.acc_width, d1.acc_frac, True, 5, 2, False, True)
    d2 = plain.PlainDense.build(
        "d2", rng.integers(-8, 8, (4, 1)), [3], reuse=3, in_width=5, in_frac=2, in_signed=False, weight_width=4,
        weight_frac=1, bias_frac=0,
    )  # fmt: skip
    q2 = plain.PlainQuant("q2", 1, d2.acc_width, d2.acc_frac, True, 4, 0, False, True)
    d3 = plain.PlainDense.build(
        "d3", rng.integers(-8, 8, (1, 3)), [-7, 0, 7], reuse=2, in_width=4, in_frac=0, in_signed=False,
        weight_width=4, weight_frac=0, bias_frac=0,
    )  # fmt: skip
    return [q0, d1, q1, d2, q2, d3]


@pytest.mark.slow
def test_verilator_equals_the_golden_model_in_its_corners(tmp_path):
    rng = np.random.default_rng(6)
    specs = odd_chain(rng)
    assert [len(specs[1].lane_segments(0)), specs[3].lanes, len(specs[5].lane_segments(0))] == [4, 2, 2]
    assert specs[0].shift == -2 and specs[5].lanes * specs[5].steps > specs[5].n_products
    codes = rng.integers(-32, 32, (200, 3))
    expected, cycles = plain.simulate_chain(specs, codes)
    assert len(np.unique(expected, axis=0)) >= 10  # of at most 16 (q2's codes): the chain does not collapse
    result = plain.run_twin(specs, codes, tmp_path / "rtl")
    np.testing.assert_array_equal(result["outputs"][0], expected)
    assert result["cycles"][0] == cycles.tolist() and cycles[0] == 3 + (12 + 4) + (2 + 4) + (2 + 4)


@pytest.mark.slow
def test_yosys_sizes_the_twin_without_dsp_and_reports_its_depth(tmp_path):
    model = plain_mlp(4, seed=3)
    specs = converted_specs(model, tmp_path / "prj", reuse=4)
    sized = plain.synthesize(specs, tmp_path / "yosys", lanes_per_stratum=3)
    assert sized["tool"].startswith("Yosys ") and "-nodsp" in sized["tool"] and "-nodsp" in sized["method"]
    assert "6 of 78 lanes synthesized" in sized["method"]  # 3 of 48 and of 30, one kind of lane each
    assert set(sized["layers"]) == {s.name for s in specs}
    for figures in (sized["total"], *sized["layers"].values()):
        assert set(tools.RESOURCE_KEYS) <= set(figures)
        assert figures["LUT"] == sum(figures[f"LUT{n}"] for n in range(1, 7)) + figures["SRL"]
        assert figures["DSP48E1"] == 0 and figures["BRAM_18K"] == 0
    assert sized["layers"]["dense_0"]["LUT"] > 48 * 10 and sized["total"]["LUT"] > 0
    depth = sized["depth"]
    assert depth["logic_levels"] >= depth["lut_levels"] >= 1
    assert depth["logic_levels"] == sum(depth["cells"].values())
    assert sized["cycles"] == plain.total_cycles(specs) and plain.lut_cycles(sized) == sized["total"]["LUT"] * 18


def test_a_lane_rom_goes_to_block_ram_from_1024_bits():
    """The multi-resolution twin's rule (``verilog.ROM_BLOCK_BITS``): steps x (weight bits + 1)."""
    rng = np.random.default_rng(7)
    assert plain.ROM_BLOCK_BITS == 1024
    shapes = [(16, 8, 64), (113, 1, 113), (114, 1, 114), (16, 8, 128)]  # 64, 113, 114, 128 steps of 9 bits
    assert [plain.rom_block(dense(rng, *shape)) for shape in shapes] == [False, False, True, True]
    assert plain.rom_block(dense(rng, 16, 8, 128, bits=3)) is False  # 128 x 4 bits


@pytest.mark.slow
def test_yosys_puts_a_large_lane_rom_in_block_ram(tmp_path):
    rng = np.random.default_rng(8)
    small, large = dense(rng, 16, 8, 64), dense(rng, 16, 8, 128)  # 64 x 9 bits (2 lanes), 128 x 9 bits (1 lane)
    sized = plain.synthesize([large], tmp_path / "yosys")
    assert sized["total"]["BRAM_18K"] == 1 and sized["total"]["DSP48E1"] == 0 and tools.SYNTH_OPTIONS in sized["tool"]
    assert "every lane's in block RAM" in sized["method"] and sized["depth"]["logic_levels"] >= 1
    assert "ROM_BLOCK(1)" in (tmp_path / "yosys" / "mrfpga_top.v").read_text()
    assert "ROM_BLOCK(0)" in plain.lane_verilog(small, 0)


@pytest.mark.slow
def test_several_designs_in_one_yosys_run(tmp_path):
    """A baseline at several reuse factors: each distinct layer synthesized once. One design alone gives what
    ``synthesize`` gives; with two, the layers they share have the same figures in both, and each design's total
    is its layers' sum with its own cycles and depth (a layer's figures can move by a few percent with the
    netlist synthesized before it: ABC's mapping depends on the order Yosys hands it the cells)."""
    model = plain_mlp(4, seed=5, n_in=8, hidden=(6,), n_classes=5)
    specs = converted_specs(model, tmp_path / "prj", reuse=1)
    chains = {f"r{r}": plain.with_reuse(specs, r, hls4ml_valid=True) for r in (4, 16)}
    assert [s.reuse for s in chains["r16"][1::2]] == [16, 6]  # hls4ml's valid reuse for 6 inputs x 5 outputs
    alone = plain.synthesize(chains["r4"], tmp_path / "alone", lanes_per_stratum=2)
    one = plain.synthesize_designs({"r4": chains["r4"]}, tmp_path / "one", lanes_per_stratum=2)["r4"]
    assert (one["total"], one["layers"], one["depth"], one["cycles"]) == (
        alone["total"], alone["layers"], alone["depth"], alone["cycles"],
    )  # fmt: skip
    both = plain.synthesize_designs(chains, tmp_path / "both", lanes_per_stratum=2)
    text = (tmp_path / "both" / "mrfpga_designs.v").read_text()
    assert text.count("module mrfpga_plain_layer_input_terms (") == 1  # shared, written once
    assert "module mrfpga_plain_layer_dense_0_r4 (" in text and "module mrfpga_plain_layer_dense_0_r16 (" in text
    for label, chain in chains.items():
        sized = both[label]
        assert (
            sized["cycles"] == plain.total_cycles(chain) and "one Yosys run for the designs r4, r16" in sized["method"]
        )
        assert set(sized["layers"]) == {s.name for s in specs}
        # Each primitive's mean count rounded in the total and in each layer: they may differ by a LUT a layer.
        assert abs(sized["total"]["LUT"] - sum(layer["LUT"] for layer in sized["layers"].values())) <= len(specs)
        assert sized["depth"]["logic_levels"] >= sized["depth"]["lut_levels"] >= 1
    for name in ("input_terms", "terms_0"):
        assert both["r4"]["layers"][name] == both["r16"]["layers"][name]
    with pytest.raises(ValueError, match="not one model"):
        plain.write_designs(
            {"a": specs, "b": converted_specs(plain_mlp(4, seed=6), tmp_path / "p6", 1)}, tmp_path / "x"
        )


@pytest.mark.slow
def test_a_design_yosys_cannot_size_with_widemux_is_sized_without_it_and_says_so(tmp_path, monkeypatch):
    """Yosys 0.70's ABC stops on some plain designs with -widemux 5: the design is sized again without it."""
    specs = converted_specs(plain_mlp(4, seed=5, n_in=6, hidden=(4,), n_classes=2), tmp_path / "prj", reuse=2)
    monkeypatch.setattr(tools, "SYNTH_OPTIONS", f"{tools.SYNTH_OPTIONS} -no-such-option")  # Yosys refuses it
    sized = plain.synthesize(specs, tmp_path / "one", lanes_per_stratum=2, depth=False)
    assert tools.WIDEMUX not in sized["tool"] and tools.WIDEMUX_FALLBACK in sized["method"]
    assert sized["total"]["LUT"] > 0
    designs = plain.synthesize_designs({"r16": specs}, tmp_path / "both", lanes_per_stratum=2, depth=False)
    assert tools.WIDEMUX_FALLBACK in designs["r16"]["method"] and tools.WIDEMUX not in designs["r16"]["tool"]
