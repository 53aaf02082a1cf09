"""The AXI-Stream top of io_stream projects (mrfpga.hls.project.axis_wrapper): g++ C simulation against the hls4ml
top and ``predict`` at every resolution, the pipeline hook, and the HLS build script that exports it as the
IP (run in tclsh against HLS stand-ins)."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import test_csim_mmac_conv as conv
from csim_base import CsimCase
from standins import run_hls_build

from mrfpga.cli import pipeline
from mrfpga.hls.project import axis_wrapper
from mrfpga.hls.project.boards import load_board
from mrfpga.hls.sim import csim
from mrfpga.training.resolution import n_resolutions

pytestmark = pytest.mark.slow

N_SAMPLES = 24
HLS_HEADERS = Path(__file__).parents[1] / "support" / "hls_headers"  # a stand-in for the vendor's ap_axi_sdata.h


class AxisChecks:
    io = "io_stream"  # the AXI-Stream top wraps an io_stream design

    @pytest.fixture(scope="class")
    @classmethod
    def predicted(cls, model, project, inputs):
        """hls4ml's predict at every resolution, on the first samples."""
        return [csim.predict(project, inputs[:N_SAMPLES], r) for r in range(n_resolutions(model))]

    @pytest.fixture(scope="class")
    @classmethod
    def axis_testbench(cls, project, inputs, predicted):
        out_dir = project.config.get_output_dir()
        axis_wrapper.write_axis_wrapper(project)
        axis_wrapper.compile_axis_testbench(out_dir, pipeline.PROJECT_NAME)
        return out_dir

    @pytest.mark.parametrize("samples_per_call", [1, 5])
    def test_axis_top_matches_predict_at_every_resolution(self, axis_testbench, inputs, predicted, samples_per_call):
        assert csim.mismatches(predicted[0], predicted[-1]) > 0  # so the resolution register must be honored
        csim.write_tb_data(axis_testbench, inputs[:N_SAMPLES], predicted)
        out = axis_wrapper.run_axis_testbench(axis_testbench, predicted[0].shape[1], samples_per_call)
        for r, expected in enumerate(predicted):
            assert csim.mismatches(out[r * N_SAMPLES : (r + 1) * N_SAMPLES], expected) == 0, f"resolution {r}"

    def test_pipeline_check_of_the_axis_top(self, axis_testbench, inputs, predicted):
        csim.write_tb_data(axis_testbench, inputs[:N_SAMPLES], predicted)
        pipeline.check_axis_wrapper(axis_testbench, predicted, samples_per_call=7)
        wrong = [predicted[0]] + [p + 2.0**-20 for p in predicted[1:]]
        with pytest.raises(csim.CsimError, match="differs from predict"):
            pipeline.check_axis_wrapper(axis_testbench, wrong, samples_per_call=7)

    def test_axis_top_with_the_vendor_word_type(self, axis_testbench, inputs, predicted):
        """With ap_axi_sdata.h on the include path (as in Vivado/Vitis HLS C simulation and co-simulation) the
        top takes the vendor's ap_axiu; the testbench also checks every word against tb_data's expected
        outputs."""
        csim.write_tb_data(axis_testbench, inputs[:N_SAMPLES], predicted)
        axis_wrapper.compile_axis_testbench(
            axis_testbench, pipeline.PROJECT_NAME, include_dirs=[HLS_HEADERS], output="tb_axis_vendor"
        )
        done = subprocess.run(["./tb_axis_vendor", "3"], cwd=axis_testbench, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        assert " 0 errors; checked against the expected outputs; words: the vendor's ap_axiu" in done.stdout
        out = np.loadtxt(Path(axis_testbench) / "tb_data" / "axis_csim_results.log", ndmin=2)
        assert csim.mismatches(out, np.concatenate(predicted)) == 0
        # A wrong expected output fails the testbench itself, as HLS C simulation would report it.
        csim.write_tb_data(axis_testbench, inputs[:N_SAMPLES], [p + 2.0**-20 for p in predicted])
        wrong = subprocess.run(["./tb_axis_vendor", "3"], cwd=axis_testbench, capture_output=True, text=True)
        assert wrong.returncode == 1 and ", expected " in wrong.stderr

    @pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not on PATH: the stand-ins need it")
    @pytest.mark.parametrize("board_name", ["pynq-z2", "vc707"])
    def test_write_exports_the_axis_top(self, project, board_name):
        out_dir = Path(project.config.get_output_dir())
        converted_for = project.mrfpga_board
        project.mrfpga_board = load_board(board_name)
        try:
            for _ in range(2):  # hls4ml's write flow, the kit's pass included, rewrites the project each time
                project.write()
        finally:
            project.mrfpga_board = converted_for
        build = (out_dir / "build_prj.tcl").read_text()
        assert build.count("set_top ${project_name}_axis\n") == 1 and "set_top ${project_name}\n" not in build
        assert (out_dir / "firmware" / "myproject_axis.cpp").is_file()
        assert 'set top             "myproject_axis"' in (out_dir / "vivado" / "build_bitstream.tcl").read_text()

        # The HLS build targets the part and clock the project was converted for (pynq-z2's).
        part, period = project.config.get_config_value("Part"), project.config.get_config_value("ClockPeriod")
        done, calls = run_hls_build(out_dir, part, period)
        assert done.returncode == 0, done.stderr
        assert "set_top myproject_axis" in calls and f"set_part {part}" in calls
        assert "add_files firmware/myproject_axis.cpp -cflags -std=c++0x" in calls
        # C simulation and co-simulation run the IP top's own testbench.
        assert "add_files -tb ${project_name}_test.cpp" not in build
        assert "add_files -tb myproject_axis_test.cpp -cflags -std=c++0x" in calls
        assert calls[-2:] == ["csynth_design", "export_design -format ip_catalog -version 1.0.0"]


class TestAxisDense(AxisChecks, CsimCase):
    """One input word per value, all values of a sample in one hls4ml stream word."""

    @pytest.fixture(scope="class")
    @classmethod
    def n_inputs(cls):
        return 20

    @pytest.fixture(scope="class")
    @classmethod
    def hidden(cls):
        return [12]

    @pytest.fixture(scope="class")
    @classmethod
    def n_outputs(cls):
        return 5


class TestAxisConv(AxisChecks, conv.TestTermConvShortChannelGroupsStream):
    """A 5x5x20 input: 25 hls4ml stream words of 20 values each, one output."""
