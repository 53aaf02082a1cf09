"""mMAC Dense stacks through conversion and g++ C simulation: the shapes and schemes that matter."""

import os
import subprocess
from pathlib import Path

import pytest
from csim_base import PROJECT_NAME, CsimCase, value_fixture

from mrfpga.cli.run_config import QuantizationConfig
from mrfpga.hls.sim import csim, precompiled

pytestmark = pytest.mark.slow


class TestDigitsShape(CsimCase):
    """64 inputs, the reference resolutions, NAF, groups of 16."""

    @pytest.mark.parametrize("build", ["library", "testbench"])
    def test_builds_read_the_headers_precompiled(self, project, build, monkeypatch):
        """build_lib.sh and the testbench build take the kit's precompiled header, and g++ uses it (``-H`` marks
        a precompiled header it reads with "!"; one it rejects is read as text)."""
        out_dir = project.config.get_output_dir()
        flags = precompiled.library_flags(out_dir) if build == "library" else csim.TESTBENCH_FLAGS
        header = precompiled.precompiled_header(out_dir, flags)
        assert header is not None
        if build == "library":
            assert f"-include {header}" in (Path(out_dir) / "build_lib.sh").read_text()
        source = f"firmware/{PROJECT_NAME}.cpp" if build == "library" else f"{PROJECT_NAME}_test.cpp"
        cmd = ["g++", *flags, "-include", header, "-H", "-fsyntax-only", "-Ifirmware", "-Ifirmware/ap_types", source]
        done = subprocess.run(cmd, cwd=out_dir, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"! {header}.gch" in done.stderr.splitlines()
        monkeypatch.setenv(precompiled.PRECOMPILED_SWITCH, "0")  # plain builds on request
        assert precompiled.precompiled_header(out_dir, flags) is None


class TestShortLastGroup(CsimCase):
    """Fan-ins 20 and 12: neither a multiple of the group size."""

    n_inputs = value_fixture(20)
    hidden = value_fixture([12])


class TestSingleOutput(CsimCase):
    n_outputs = value_fixture(1)
    hidden = value_fixture([5])
    quantization = value_fixture(QuantizationConfig(group_size=8, resolutions=[[1, 2], [2, 6], [3, 12]]))


class TestBinaryEncoding(CsimCase):
    quantization = value_fixture(
        QuantizationConfig(encoding="binary", group_size=8, resolutions=[[1, 4], [2, 8], [4, 16]])
    )


class TestWideGrid(CsimCase):
    """Finer activation grid and wider weights: longer shifts, wider accumulators."""

    n_inputs = value_fixture(33)
    quantization = value_fixture(
        QuantizationConfig(
            weight_bits=10, activation_bits=10, activation_integer=2, group_size=4, resolutions=[[2, 3], [5, 9]]
        )
    )


class TestOneResolution(CsimCase):
    quantization = value_fixture(QuantizationConfig(resolutions=[[3, 20]]))


class TestHeseEncoding(CsimCase):
    quantization = value_fixture(
        QuantizationConfig(encoding="hese", group_size=8, resolutions=[[1, 3], [2, 7], [3, 14]])
    )


class TestShiftMode(CsimCase):
    """The first mMAC reads the raw, signed input: each weight term shifts the whole activation."""

    input_activation = value_fixture(False)


class TestLearnedDataClip(CsimCase):
    """Data terms with a learned clip: the base model randomizes it, so the grid moves (even below 1 bit)."""

    @pytest.fixture(scope="class")
    @classmethod
    def activation(cls, quantization):
        from mrfpga.training import quantized_data_term

        return lambda: quantized_data_term(8, 3, quantization.data_budgets, learnable_alpha=True)


@pytest.mark.extended
class TestDigitsShapeStream(TestDigitsShape):
    io = "io_stream"  # the same case through io_stream


class TestReuseFolding(CsimCase):
    """Reuse 3: 24 and 10 outputs on 8 and 4 units (the second layer's last round has idle units); fan-in 50
    leaves a short last group."""

    n_inputs = value_fixture(50)
    reuse_factor = value_fixture(3)


class TestTermPairUnit(CsimCase):
    """The term-pair unit after data-term layers: each step one (weight term, data term) pair of the group's
    values, whose data terms are extracted when the group is loaded."""

    mmac_unit = value_fixture("term_pair")
    reuse_factor = value_fixture(4)


class TestReuseAboveOutputs(CsimCase):
    """A reuse factor above a layer's output count: that layer takes one round per output, no idle rounds."""

    hidden = value_fixture([3])
    n_outputs = value_fixture(2)
    reuse_factor = value_fixture(64)

    def test_layers_fold_to_their_output_count(self, project):
        for node in project.get_layers():
            if node.class_name == "MMACDense":
                assert node.get_attr("n_units") == 1
                assert node.get_attr("rounds") == node.get_attr("n_out")


class TestReuseFoldingStream(TestReuseFolding):
    """The streaming Dense (io_stream): units serve outputs, reuse 3 folds 24 and 10 outputs onto 8 and 4 units
    (the second layer's last round has idle units); the first layer's one input word of 50 values is cut into
    groups of 16, 16, 16 and 2 (four phases of the word, a short last group), the second's 24 into 16 and 8."""

    io = "io_stream"

    def test_units_serve_outputs(self, project):
        dense = [node for node in project.get_layers() if node.class_name == "MMACDense"]
        assert [(node.get_attr("rounds"), node.get_attr("n_units")) for node in dense] == [(3, 8), (3, 4)]
        assert [node.get_attr("n_groups") for node in dense] == [4, 2]


class TestTermPairUnitStream(TestTermPairUnit):
    io = "io_stream"  # the same case through io_stream: the streaming Dense's term-pair unit
