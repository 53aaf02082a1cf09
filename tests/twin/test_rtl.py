"""The Verilog twin (mrfpga.hls.twin.verilog) and its golden model of docs/mmac_core.md (mrfpga.hls.twin.spec).

The golden model is held to definitions written out here (a dense layer with every term kept is the plain
integer dot product in both unit modes; the data-term grid is ap_ufixed rounding and saturation); the twin,
built and run in Verilator, must equal the golden model exactly, outputs and cycles, sample by sample, at
several resolutions, with short last groups, reuse 1 and more, outputs that do not fill the last round, data
terms a pack at a time. Yosys sizes a small design and its statistics parse.
"""

import dataclasses
import json
import subprocess

import numpy as np
import pytest

from mrfpga.hls.twin import measure, tools, verilog
from mrfpga.hls.twin.spec import DataTermCore, check_chain, dense_core, layer_cycles, simulate, simulate_chain


def data_term_spec(name, n_in, *, bits, frac, budgets, floors=None, half_even=False, encoding="naf", lanes=16, **grid):
    return DataTermCore(
        name=name, n_in=n_in, bits=bits, frac=frac, encoding=encoding, budgets=budgets,
        floors=floors or [0] * len(budgets), round_half_even=half_even, lanes=lanes, **grid,
    )  # fmt: skip


def random_dense(rng, name, n_in, n_out, *, weight_bits, **kw):
    magnitudes = rng.integers(0, 1 << weight_bits, (n_in, n_out))
    magnitudes[rng.random(magnitudes.shape) < 0.2] = 0
    signs = rng.choice([-1, 1], (n_in, n_out))
    bias = rng.integers(-300, 300, n_out)
    return dense_core(name, magnitudes, signs, bias, weight_bits=weight_bits, **kw), magnitudes * signs


def weight_term_chain(rng, lanes=(1, 1, 1)):
    """HESE data terms, 8 a cycle -> mMAC (reuse 2: 3 units own 5 outputs; groups of 8, the last short) -> onion
    data term (binary, round half even, dropped bits) -> mMAC (reuse 1, weight floors) -> mMAC on signed outputs
    (reuse 3 on 4 outputs)."""
    first = data_term_spec(
        "dt_in", 21, bits=6, frac=4, budgets=[1, 2, 3], in_width=10, in_frac=6, in_signed=True, encoding="hese",
        lanes=8,
    )  # fmt: skip
    dense_a, _ = random_dense(
        rng, "dense_a", 21, 5, group_size=8, reuse=2, weight_bits=5, mode="weight_term", data_bits=7,
        weight_budgets=[2, 4, 7], data_budgets=[1, 2, 3], data_frac=4, acc_shift=1, lanes=lanes[0],
    )  # fmt: skip
    onion = data_term_spec(
        "dt_mid", 5, bits=5, frac=dense_a.out_frac - 7, budgets=[2, 3, 6], floors=[2, 1, 0], half_even=True,
        encoding="binary", in_width=dense_a.acc_width, in_frac=dense_a.out_frac, in_signed=True, lanes=2,
    )  # fmt: skip
    dense_b, _ = random_dense(
        rng, "dense_b", 5, 3, group_size=4, reuse=1, weight_bits=4, mode="weight_term", data_bits=6,
        weight_budgets=[2, 3, 5], weight_floors=[2, 1, 0], data_budgets=[1, 1, 1], lanes=lanes[1],
    )  # fmt: skip
    dense_c, _ = random_dense(
        rng, "dense_c", 3, 4, group_size=2, reuse=3, weight_bits=3, mode="weight_term", data_bits=dense_b.acc_width,
        data_signed=True, weight_budgets=[1, 2, 3], data_budgets=[1, 1, 1], lanes=lanes[2],
    )  # fmt: skip
    return [first, dense_a, onion, dense_b, dense_c]


class TestGoldenModel:
    @pytest.mark.parametrize(
        "mode, reuse", [("term_pair", 1), ("term_pair", 3), ("weight_term", 2), ("weight_term", 4)]
    )
    def test_every_term_kept_is_the_integer_dot_product(self, mode, reuse):
        rng = np.random.default_rng(1)
        spec, weights = random_dense(
            rng, "d", 19, 4, group_size=8, reuse=reuse, weight_bits=5, mode=mode, data_bits=7,
            weight_budgets=[3, 40], data_budgets=[1, 8], acc_shift=2,
        )  # fmt: skip
        codes = rng.integers(0, 1 << 7, (25, 19))
        out, cycles = simulate(spec, codes, 1)
        np.testing.assert_array_equal(out, (codes @ weights) * 4 + np.asarray(spec.bias))
        per_group = spec.group_terms[1] * (8 if mode == "term_pair" else 1)
        assert spec.n_units == -(-4 // reuse) and (cycles == reuse * 3 * per_group + 4).all()  # 3 groups
        # Fewer terms: a different, still exact-width result, and fewer cycles.
        low, low_cycles = simulate(spec, codes, 0)
        assert (low_cycles < cycles).all() and not np.array_equal(low, out)

    def test_a_core_refolded_on_lanes_keeps_its_sums(self):
        rng = np.random.default_rng(2)
        spec, _ = random_dense(rng, "d", 19, 5, group_size=8, reuse=2, weight_bits=5, mode="weight_term",
                               data_bits=7, weight_budgets=[3, 7], data_budgets=[1, 1])  # fmt: skip
        codes = rng.integers(0, 1 << 7, (10, 19))
        faster = spec.with_folding(1, 3)
        assert (faster.n_units, faster.lanes) == (5, 3)
        np.testing.assert_array_equal(faster.with_folding(2, 1).table, spec.table)
        for r in (0, 1):
            out, cycles = simulate(spec, codes, r)
            fast_out, fast_cycles = simulate(faster, codes, r)
            np.testing.assert_array_equal(fast_out, out)
            slots = spec.group_terms[r]
            assert fast_cycles[0] == 3 * -(-slots // 3) + 4 and cycles[0] == 2 * 3 * slots + 4  # 3 groups
        with pytest.raises(ValueError, match="d: lanes are the weight-term unit's"):
            dataclasses.replace(faster, mode="term_pair")

    def test_data_term_grid_rounds_and_saturates_like_ap_ufixed(self):
        # 3 fraction bits in, 1 out: steps of 0.25 round to 0.5; 11 bits unsigned after the grid.
        grid = {"in_width": 8, "in_frac": 3, "in_signed": True}
        spec = data_term_spec("dt", 1, bits=4, frac=1, budgets=[5], **grid)
        codes = np.array([[-9], [-2], [1], [2], [3], [6], [10], [127]])  # -1.125 .. 15.875
        half_up, _ = simulate(spec, codes, 0)
        assert half_up[:, 0].tolist() == [0, 0, 0, 1, 1, 2, 3, 15]
        half_even, _ = simulate(data_term_spec("dt", 1, bits=4, frac=1, budgets=[5], half_even=True, **grid), codes, 0)
        assert half_even[:, 0].tolist() == [0, 0, 0, 0, 1, 2, 2, 15]

    def test_data_term_keeps_the_top_terms_above_the_floor(self):
        spec = data_term_spec("dt", 1, bits=6, frac=0, budgets=[1, 2, 9], floors=[0, 2, 0], in_width=7, in_frac=0,
                              in_signed=False)  # fmt: skip
        codes = np.array([[0b011011], [0b111111], [0b000011]])  # 27 = 32 - 4 - 1 in NAF; 63 = 64 - 1; 3 = 4 - 1
        assert simulate(spec, codes, 0)[0][:, 0].tolist() == [32, 64, 4]
        assert simulate(spec, codes, 1)[0][:, 0].tolist() == [24, 60, 0]  # floors[1] = 2 drops the low two bits
        assert simulate(spec, codes, 2)[0][:, 0].tolist() == [27, 63, 3]
        assert simulate(spec, codes, 7)[0][:, 0].tolist() == [27, 63, 3]  # past the last: the last
        with pytest.raises(ValueError, match=r"dt: input codes span 0..128, outside the 7-bit unsigned range 0..127"):
            simulate(spec, np.array([[0], [128]]), 0)

    def test_a_data_term_layer_takes_a_cycle_per_pack(self):
        spec = data_term_spec("dt", 37, bits=4, frac=0, budgets=[2], in_width=6, in_frac=0, in_signed=False)
        assert spec.n_packs == 3 and layer_cycles(spec, 0) == 8

    def test_bad_specs_are_named(self):
        rng = np.random.default_rng(0)
        spec, _ = random_dense(rng, "bad", 8, 2, group_size=4, reuse=1, weight_bits=3, mode="weight_term",
                               data_bits=5, weight_budgets=[2], data_budgets=[1])  # fmt: skip
        with pytest.raises(ValueError, match="bad: table shape"):
            dataclasses.replace(spec, table=spec.table[1:])
        with pytest.raises(ValueError, match="bad: unknown mode"):
            dataclasses.replace(spec, mode="bit_serial")
        with pytest.raises(ValueError, match="bad: reuse 3 outside 1..n_out"):
            dataclasses.replace(spec, reuse=3)
        with pytest.raises(ValueError, match="bad gives .* but dt takes"):
            check_chain([spec, data_term_spec("dt", 2, bits=4, frac=0, budgets=[2], in_width=9, in_frac=0,
                                               in_signed=True)])  # fmt: skip
        assert layer_cycles(spec, 0) == 2 * spec.group_terms[0] + 4
        with pytest.raises(ValueError, match="bad: the twin models the weight-term unit"):
            verilog.mmac_dense_verilog(dataclasses.replace(spec, mode="term_pair"), 1)


class TestYosysStatistics:
    def test_resources_sum_the_hierarchy(self):
        stat = {
            "modules": {
                "\\top": {"num_cells_by_type": {"FDRE": 2, "LUT2": 1, "\\layer": 2}},
                "\\layer": {"num_cells_by_type": {"LUT6": 3, "FDSE": 1, "CARRY4": 1, "RAMB36E1": 1, "\\unit": 1}},
                "\\unit": {"num_cells_by_type": {"LUT4": 5, "DSP48E1": 1}},
            }
        }
        cells = tools.hierarchy_cells(stat, "top")
        total = tools.resources_of_cells(cells["top"])
        assert total["LUT"] == 1 + 2 * (3 + 5) and total["LUT6"] == 6 and total["LUT4"] == 10
        assert (total["FF"], total["CARRY4"], total["DSP48E1"], total["BRAM_18K"]) == (4, 2, 2, 4)
        # A black-boxed unit counts as its stand-in.
        stat["modules"]["\\mean"] = {"num_cells_by_type": {"LUT4": 1}}
        stat["modules"]["\\layer"]["num_cells_by_type"]["\\boxed"] = 2
        cells = tools.hierarchy_cells(stat, "top", {"boxed": "mean"})
        assert tools.resources_of_cells(cells["top"])["LUT"] == 1 + 2 * (3 + 5 + 2)


def test_missing_tool_names_the_extra(monkeypatch):
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    monkeypatch.setattr(tools.sys, "executable", "/nonexistent/python")
    monkeypatch.setattr(tools.sysconfig, "get_path", lambda name: "/nonexistent")
    with pytest.raises(tools.ToolMissing, match=r"mrfpga\[hw\]"):
        tools.yosys_command()


def check_twin_equals_golden(specs, codes, resolutions, out_dir):
    result = measure.run_twin(specs, codes, resolutions, out_dir)
    assert result["resolutions"] == resolutions
    for n, r in enumerate(resolutions):
        expected, cycles = simulate_chain(specs, codes, r)
        np.testing.assert_array_equal(result["outputs"][n], expected, err_msg=f"outputs at resolution {r}")
        assert result["cycles"][n] == cycles.tolist(), f"cycles at resolution {r}"
    return result


@pytest.mark.slow
def test_twin_equals_the_golden_model(tmp_path):
    rng = np.random.default_rng(7)
    specs = weight_term_chain(rng)
    codes = rng.integers(-512, 512, (40, 21))
    result = check_twin_equals_golden(specs, codes, [0, 1, 2, 3], tmp_path)
    lanes = check_twin_equals_golden(
        weight_term_chain(np.random.default_rng(7), (3, 2, 2)), codes, [0, 1, 2], tmp_path / "lanes"
    )
    # Several term slots a cycle: the same sums in fewer cycles (a slot past the budget in a row's last step off).
    for n in range(3):
        np.testing.assert_array_equal(lanes["outputs"][n], result["outputs"][n])
        assert lanes["cycles"][n][0] < result["cycles"][n][0]
    # Resolution 3 is past the last: the layers read the last.
    np.testing.assert_array_equal(result["outputs"][3], result["outputs"][2])
    assert len(set(result["cycles"][0])) == 1 and result["cycles"][0][0] < result["cycles"][2][0]
    assert (tmp_path / "mrfpga_dense_a_u2.mem").is_file()  # each unit's ROM in a $readmemh file


@pytest.mark.slow
def test_data_term_grids_in_verilog_round_and_saturate_as_the_golden_model(tmp_path):
    """Every 9-bit signed input through grids that shift down by one bit (ties to even), up by one bit, and not at
    all (saturating), every term kept: the twin's window-and-increment grid equals the golden model's."""
    down = data_term_spec("dt_down", 3, bits=5, frac=2, budgets=[6], half_even=True, in_width=9, in_frac=3,
                          in_signed=True, lanes=2)  # fmt: skip
    up = data_term_spec("dt_up", 3, bits=4, frac=3, budgets=[5], in_width=6, in_frac=2, in_signed=False, lanes=3)
    same = data_term_spec("dt_same", 3, bits=3, frac=3, budgets=[4], in_width=5, in_frac=3, in_signed=False)
    codes = np.arange(-256, 256).repeat(3).reshape(-1, 3)
    codes[:, 1] = codes[::-1, 0]
    check_twin_equals_golden([down, up, same], codes, [0], tmp_path)


@pytest.mark.slow
def test_yosys_sizes_a_small_design(tmp_path):
    rng = np.random.default_rng(3)
    dense, _ = random_dense(
        rng, "dense_s", 12, 3, group_size=6, reuse=1, weight_bits=4, mode="weight_term", data_bits=5,
        weight_budgets=[2, 5], data_budgets=[1, 2],
    )  # fmt: skip
    first = data_term_spec("dt_s", 12, bits=4, frac=2, budgets=[1, 2], in_width=6, in_frac=3, in_signed=True)
    sized = measure.synthesize([first, dense], tmp_path, units_per_layer=2)
    assert sized["tool"].startswith("Yosys ") and "synth_xilinx xc7 -nodsp" in sized["tool"]
    assert set(sized["layers"]) == {"dt_s", "dense_s"}
    assert "2 of 3 mMAC units" in sized["method"]
    for figures in (sized["total"], *sized["layers"].values()):
        assert set(tools.RESOURCE_KEYS) <= set(figures)
        assert figures["LUT"] == sum(figures[f"LUT{n}"] for n in range(1, 7)) + figures["SRL"]  # shift registers
        assert figures["DSP48E1"] == 0 and figures["BRAM_18K"] == 0
    assert sized["layers"]["dense_s"]["LUT"] > 0 and sized["layers"]["dt_s"]["FF"] >= 12 * 5
    assert sized["total"]["LUT"] >= sized["layers"]["dense_s"]["LUT"] + sized["layers"]["dt_s"]["LUT"]
    stat = json.loads((tmp_path / "yosys" / "mrfpga_top_stat.json").read_text())
    assert "\\mrfpga_dense_s_u0" in stat["modules"]
    assert sized["depth"]["lut_levels"] >= 2 and sized["depth"]["logic_levels"] >= sized["depth"]["lut_levels"]


def test_verilators_runtime_is_compiled_once_and_again_when_its_source_changes(tmp_path, monkeypatch):
    """tools.object_cache_program, Verilator's OBJCACHE: a runtime source's object is kept by command, compiler
    and source; the next build with the same takes the kept one, a changed source is compiled again, any other
    compile runs as given, and a program that cannot run (a noexec cache folder) is not used."""
    monkeypatch.setenv("MRFPGA_CACHE_DIR", str(tmp_path / "cache"))
    program = tools.object_cache_program()
    include = tmp_path / "include"
    include.mkdir()
    source = include / "verilated.cpp"
    source.write_text("int verilated_answer() { return 42; }\n")

    def build(name, cpp=source):
        obj_dir = tmp_path / name
        obj_dir.mkdir()
        done = subprocess.run([str(program), "g++", "-O0", "-c", "-o", "verilated.o", str(cpp)], cwd=obj_dir)
        assert done.returncode == 0
        return (obj_dir / "verilated.o").read_bytes()

    first = build("first")
    (kept,) = (tmp_path / "cache" / "verilator").glob("verilated-*.o")
    assert kept.read_bytes() == first
    kept.write_bytes(b"kept")  # what the next build takes, if it takes the kept object
    assert build("second") == b"kept"
    source.write_text("int verilated_answer() { return 43; }\n")
    assert build("changed") not in (b"kept", first)
    other = include / "model.cpp"
    other.write_text("int model() { return 1; }\n")
    build("other", other)
    assert len(list((tmp_path / "cache" / "verilator").glob("*.o"))) == 2  # the model's object is not kept
    program.chmod(0o644)  # as on a noexec mount: no OBJCACHE, and the build compiles everything itself
    assert tools.object_cache_program() is None
