"""The digits CNN (a term meta model, an onion model, a row-wise model) converts through the CLI path for every
board, in both io types.

A project's C++ does not depend on the board: the board sets the part and the
clock of the HLS project's Tcl and the Vivado script. So the pynq-z2 project
of each io type is C-simulated at every resolution against the exact
reference, and every other board's firmware must be byte-for-byte the same.
"""

import filecmp
import shutil

import pytest
from standins import run_hls_build

from mrfpga.cli.pipeline import convert
from mrfpga.cli.run_config import from_dict
from mrfpga.hls.project.boards import known_boards, load_board
from mrfpga.hls.sim import csim
from mrfpga.hls.sim.reference import exact_forward
from mrfpga.training.data import load_digits
from mrfpga.training.resolution import n_resolutions, set_resolution

pytestmark = pytest.mark.slow

IO_TYPES = ("io_parallel", "io_stream")
REFERENCE_BOARD = "pynq-z2"
# At reuse factor 1: the io_parallel CNN's switchable BN multiplies every value at once, more DSP48E1 than the
# pynq-z2 has by the estimate, so reuse_factor auto would stop; these tests are about the boards' scripts.
CNN = {"model": {"kind": "cnn", "filters": [4, 6]}, "hls": {"reuse_factor": 1}}
# The digits CNN of each kind of model: a term meta model, an onion model and a row-wise model.
SCHEMES = {
    "term": {"quantization": {"resolutions": [[1, 3], [2, 8], [3, 20]]}, "training": {"epochs": 2}},
    "onion": {"quantization": {"scheme": "onion"}, "training": {"method": "onion", "epochs": 2}},
    "rowwise": {
        "quantization": {"scheme": "rowwise"},
        "training": {"method": "rowwise", "epochs": 2, "hessian_iterations": 3},
    },
}


# term runs in make test; the other schemes' board sweeps repeat the same per-board checks (make test-all).
@pytest.fixture(
    scope="module", params=[s if s == "term" else pytest.param(s, marks=pytest.mark.extended) for s in SCHEMES]
)
def scheme(request):
    return request.param


@pytest.fixture(scope="module")
def meta_cnn(scheme):
    from mrfpga.cli.pipeline import primary
    from mrfpga.training.methods import train

    return primary(train(from_dict({**CNN, **SCHEMES[scheme]}), load_digits(), verbose=0)[0])


@pytest.fixture(scope="module")
def projects(scheme, meta_cnn, tmp_path_factory):
    """{(board, io_type): (project folder, hls model, config)}, each written by the CLI's convert stage."""
    out = {}
    for io_type in IO_TYPES:
        for board in known_boards():
            config = from_dict({**CNN, **SCHEMES[scheme], "hls": {**CNN["hls"], "board": board, "io_type": io_type}})
            run_dir = tmp_path_factory.mktemp(f"{scheme}_{board}_{io_type}")
            hls_model = convert(config, run_dir, meta_cnn)
            out[board, io_type] = (run_dir / "hls_project", hls_model, config)
    return out


def firmware_differences(a, b):
    """Sources of ``a/firmware`` and ``b/firmware`` that differ or exist on one side only (not build outputs)."""
    found, pending = [], [filecmp.dircmp(a / "firmware", b / "firmware")]
    while pending:
        cmp = pending.pop()
        found += cmp.left_only + cmp.right_only + cmp.diff_files + cmp.funny_files
        pending += cmp.subdirs.values()
    return [name for name in found if not name.endswith((".so", ".o"))]


@pytest.mark.parametrize("io_type", IO_TYPES)
def test_reference_board_csim_is_exact_at_every_resolution(meta_cnn, projects, io_type):
    project, hls_model, config = projects[REFERENCE_BOARD, io_type]
    hls_model.compile()  # rewrites the project through the write flow, the kit's part included
    x = csim.snap_to_input_grid(load_digits().x_test[:32].reshape(-1, 8, 8, 1))
    for r in range(n_resolutions(meta_cnn)):
        set_resolution(meta_cnn, r)
        assert csim.mismatches(csim.predict(hls_model, x, r), exact_forward(meta_cnn, x)) == 0, f"resolution {r}"
    set_resolution(meta_cnn, n_resolutions(meta_cnn) - 1)


@pytest.mark.parametrize("io_type", IO_TYPES)
@pytest.mark.parametrize("board", known_boards())
def test_every_board_gets_the_same_firmware_and_its_own_part(projects, board, io_type):
    project, hls_model, _ = projects[board, io_type]
    reference = projects[REFERENCE_BOARD, io_type][0]
    assert firmware_differences(reference, project) == []
    part = load_board(board).part
    assert hls_model.config.get_config_value("Part") == part
    assert f'"{part}"' in (project / "project.tcl").read_text()
    script = (project / "vivado" / "build_bitstream.tcl").read_text()
    assert part in script


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not on PATH: the stand-ins need it")
@pytest.mark.parametrize("io_type", IO_TYPES)
@pytest.mark.parametrize("board", known_boards())
def test_every_board_hls_build_script_passes_the_standins(projects, board, io_type):
    """hls4ml's build_prj.tcl, as the kit leaves it, synthesizes and exports for the board's part and clock."""
    project, _, _ = projects[board, io_type]
    done, calls = run_hls_build(project, load_board(board).part, load_board(board).clock_period_ns)
    assert done.returncode == 0, done.stderr
    top = "myproject_axis" if io_type == "io_stream" else "myproject"
    assert f"set_top {top}" in calls and calls[-1].startswith("export_design")
