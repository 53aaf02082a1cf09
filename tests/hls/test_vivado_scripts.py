"""The generated Vivado scripts run end to end in tclsh against Vivado stand-ins (tests/tcl_standins)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mrfpga.hls.project.boards import load_board
from mrfpga.hls.project.vivado_scripts import vivado_command, write_vivado_scripts

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not on PATH: the stand-ins need it")

STANDINS = Path(__file__).parents[1] / "support" / "tcl_standins"
BOARDS = ("pynq-z2", "zedboard", "zc706", "vc707")
IO_TYPES = ("io_parallel", "io_stream")


def _bus(name, bus, mode, params=()):
    values = "".join(
        f"<spirit:parameter><spirit:name>{k}</spirit:name>"
        f'<spirit:value spirit:format="long">{v}</spirit:value></spirit:parameter>'
        for k, v in params
    )
    return (
        f"<spirit:busInterface><spirit:name>{name}</spirit:name>"
        f'<spirit:busType spirit:vendor="xilinx.com" spirit:library="interface" spirit:name="{bus}" '
        f'spirit:version="1.0"/><spirit:{mode}/><spirit:parameters>{values}</spirit:parameters></spirit:busInterface>'
    )


def fake_export(
    project_dir, io_type, top="myproject", in_bytes=4, tlast=1, axis_resolution=False, streams=("input_1", "layer4_out")
):
    """What ``export_design`` leaves in ``<project>_prj/solution1/impl/ip``, as far as the scripts look."""
    ip = Path(project_dir) / "myproject_prj" / "solution1" / "impl" / "ip"
    (ip / "hdl" / "verilog").mkdir(parents=True)
    (ip / "hdl" / "verilog" / f"{top}.v").write_text(f"module {top}(); endmodule\n")
    buses = [
        _bus("s_axi_control", "aximm", "slave"),
        _bus("ap_clk", "clock", "slave"),
        _bus("ap_rst_n", "reset", "slave"),
    ]
    ports = ["ap_clk", "ap_rst_n", "interrupt", "s_axi_control_AWADDR", "s_axi_control_WDATA"]
    streams = [(streams[0], "slave", in_bytes, 0), (streams[1], "master", 4, tlast)]
    if axis_resolution:
        streams.append(("resolution", "slave", 1, 0))
    for name, mode, nbytes, last in streams if io_type == "io_stream" else []:
        buses.append(_bus(name, "axis", mode, [("TDATA_NUM_BYTES", nbytes), ("HAS_TLAST", last)]))
        ports += [f"{name}_TDATA", f"{name}_TVALID", f"{name}_TREADY"]
    port_xml = "".join(f"<spirit:port><spirit:name>{p}</spirit:name></spirit:port>" for p in ports)
    (ip / "component.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<spirit:component xmlns:spirit="http://www.spiritconsortium.org/'
        'XMLSchema/SPIRIT/1685-2009"><spirit:vendor>xilinx.com</spirit:vendor><spirit:library>hls</spirit:library>'
        f"<spirit:name>{top}</spirit:name><spirit:version>1.0</spirit:version>"
        f"<spirit:busInterfaces>{''.join(buses)}</spirit:busInterfaces>"
        f"<spirit:model><spirit:ports>{port_xml}</spirit:ports></spirit:model></spirit:component>\n"
    )
    return ip


def run_script(script, part, period, cwd, **env):
    log = Path(cwd) / "vivado_calls.log"
    log.unlink(missing_ok=True)
    env = {
        **os.environ,
        "MRFPGA_STANDIN_LOG": str(log),
        "MRFPGA_EXPECT_PART": part,
        "MRFPGA_EXPECT_PERIOD_NS": str(period),
        **env,
    }
    result = subprocess.run(
        ["tclsh", str(STANDINS / "run.tcl"), str(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=30
    )
    return result, log.read_text() if log.exists() else ""


@pytest.fixture
def project(tmp_path):
    """A project folder with the exported IP, and a separate working folder to run Vivado from."""
    (tmp_path / "elsewhere").mkdir()
    return tmp_path / "prj"


@pytest.mark.parametrize("io_type", IO_TYPES)
@pytest.mark.parametrize("board_name", BOARDS)
def test_script_runs_against_the_standins(project, board_name, io_type):
    board = load_board(board_name)
    fake_export(project, io_type)
    script = write_vivado_scripts(project, board_name, io_type, board.clock_period_ns)
    assert script == project / "vivado" / "build_bitstream.tcl"
    assert str(project) not in script.read_text()  # paths are relative to the script: the folder can move

    result, log = run_script(script, board.part, board.clock_period_ns, project.parent / "elsewhere")
    assert result.returncode == 0, result.stderr
    assert f"-part {board.part}" in log.splitlines()[0] and log.startswith("create_project myproject_vivado")
    assert "set_property ip_repo_paths" in log and "myproject_prj/solution1/impl/ip" in log
    out = script.parent / "output"
    if board.arm_host:
        assert "CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ 100" in log
        assert "connect_bd_intf_net /ctrl_smc/M00_AXI /myproject_0/s_axi_control" in log  # the AXI-Lite registers
        assert "create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset:5.0 rst_ps7_0" in log
        assert "launch_runs impl_1 -to_step write_bitstream" in log
        assert (out / "myproject.bit").is_file() and (out / "myproject.hwh").is_file()
        assert ("axi_dma" in log) == (io_type == "io_stream")
        if io_type == "io_stream":
            assert "connect_bd_intf_net /axi_dma_0/M_AXIS_MM2S /myproject_0/input_1" in log
            assert "connect_bd_intf_net /myproject_0/layer4_out /axi_dma_0/S_AXIS_S2MM" in log
            assert "connect_bd_intf_net /ctrl_smc/M01_AXI /axi_dma_0/S_AXI_LITE" in log
    else:
        assert "create_ip -vlnv xilinx.com:hls:myproject:1.0 -module_name myproject_0" in log
        assert f"synth_design -top myproject_0 -part {board.part} -mode out_of_context" in log
        assert "create_clock -name ap_clk -period 10 " in log
        assert "launch_runs" not in log and "create_bd_design" not in log
        assert (out / "myproject_ooc.dcp").is_file()


@pytest.mark.parametrize("board_name", ["pynq-z2", "vc707"])
def test_clock_period_from_the_config_reaches_the_hardware(project, board_name):
    board = load_board(board_name)
    fake_export(project, "io_stream")
    script = write_vivado_scripts(project, board, "io_stream", 8)
    result, log = run_script(script, board.part, 8, project)
    assert result.returncode == 0, result.stderr
    assert ("PCW_FPGA0_PERIPHERAL_FREQMHZ 125" in log) if board.arm_host else ("-period 8 " in log)


@pytest.mark.parametrize("board_name", ["zedboard", "vc707"])
def test_standins_reject_a_wrong_part(project, board_name):
    fake_export(project, "io_parallel")
    script = write_vivado_scripts(project, board_name, "io_parallel", 10)
    result, _ = run_script(script, "xc7z010clg400-1", 10, project)
    assert result.returncode != 0 and "part" in result.stderr and "expected xc7z010clg400-1" in result.stderr


@pytest.mark.parametrize("board_name", ["zc706", "vc707"])
def test_standins_reject_a_wrong_clock(project, board_name):
    board = load_board(board_name)
    fake_export(project, "io_stream")
    script = write_vivado_scripts(project, board, "io_stream", 10)
    result, _ = run_script(script, board.part, 5, project)
    assert result.returncode != 0 and "expected 5 ns" in result.stderr


@pytest.mark.parametrize("board_name", ["pynq-z2", "vc707"])
def test_missing_ip_repository_fails(project, board_name):
    board = load_board(board_name)
    script = write_vivado_scripts(project, board, "io_parallel", 10)  # no HLS export
    result, _ = run_script(script, board.part, 10, project)
    assert result.returncode != 0 and "export" in result.stderr


def tcl_lines(tmp_path, body, part="xc7z020clg400-1", period=10):
    script = tmp_path / "snippet.tcl"
    script.write_text(body)
    return run_script(script, part, period, tmp_path)


def test_standins_reject_a_missing_repo_path_an_unknown_command_and_a_missing_file(tmp_path):
    head = f"create_project p {tmp_path / 'p'} -part xc7z020clg400-1 -force\n"
    result, _ = tcl_lines(tmp_path, head + f"set_property ip_repo_paths {tmp_path / 'nope'} [current_project]\n")
    assert result.returncode != 0 and "no such file or folder" in result.stderr
    result, _ = tcl_lines(tmp_path, head + "open_hw_manager\n")
    assert result.returncode != 0 and "open_hw_manager is not stubbed" in result.stderr
    result, _ = tcl_lines(tmp_path, head + f"add_files {tmp_path / 'missing.v'}\n")
    assert result.returncode != 0 and "missing.v" in result.stderr
    result, log = tcl_lines(tmp_path, head + "puts [current_project]\n")
    assert result.returncode == 0 and result.stdout == "p\n" and log.splitlines()[-1] == "current_project"


def test_without_board_files_the_zynq_script_warns_and_still_builds(project):
    fake_export(project, "io_parallel")
    script = write_vivado_scripts(project, "pynq-z2", "io_parallel", 10)
    result, log = run_script(script, "xc7z020clg400-1", 10, project, MRFPGA_STANDIN_NO_BOARD_FILES="1")
    assert result.returncode == 0, result.stderr
    assert "no board files" in result.stdout and "apply_board_preset 0" in log and "set_property board_part" not in log


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"axis_resolution": True}, "exactly one AXI-Stream input"),
        ({"tlast": 0}, "no TLAST"),
        ({"in_bytes": 20}, "160 bits wide"),
        ({"tlast": 0, "top": "myproject_axis", "streams": ("in_stream", "out_stream")}, "no TLAST"),
    ],
)
def test_stream_ip_the_dma_cannot_drive_is_refused_by_the_script(project, kwargs, message):
    fake_export(project, "io_stream", **kwargs)
    script = write_vivado_scripts(project, "pynq-z2", "io_stream", 10, top=kwargs.get("top"))
    result, _ = run_script(script, "xc7z020clg400-1", 10, project)
    assert result.returncode != 0 and message in result.stderr


@pytest.mark.parametrize("word_bytes", [4, 8])
@pytest.mark.parametrize("board_name", BOARDS)
def test_axis_wrapper_ip_runs_against_the_standins(project, board_name, word_bytes):
    """The io_stream IP is the AXI-Stream top myproject_axis (hls.project.axis_wrapper): 32/64-bit words, TLAST."""
    board = load_board(board_name)
    top = "myproject_axis"
    fake_export(project, "io_stream", top=top, in_bytes=word_bytes, streams=("in_stream", "out_stream"))
    script = write_vivado_scripts(project, board_name, "io_stream", board.clock_period_ns, top=top)
    result, log = run_script(script, board.part, board.clock_period_ns, project)
    assert result.returncode == 0, result.stderr
    if board.arm_host:
        assert f"create_bd_cell -type ip -vlnv xilinx.com:hls:{top}:1.0 {top}_0" in log
        assert f"connect_bd_intf_net /axi_dma_0/M_AXIS_MM2S /{top}_0/in_stream" in log
        assert f"connect_bd_intf_net /{top}_0/out_stream /axi_dma_0/S_AXIS_S2MM" in log
        assert f"connect_bd_intf_net /ctrl_smc/M00_AXI /{top}_0/s_axi_control" in log  # the resolution register
        assert f"CONFIG.c_m_axis_mm2s_tdata_width {8 * word_bytes}" in log
        assert (script.parent / "output" / "myproject.bit").is_file()
    else:
        assert f"create_ip -vlnv xilinx.com:hls:{top}:1.0 -module_name {top}_0" in log
        assert (script.parent / "output" / f"{top}_ooc.dcp").is_file()


def test_generator_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown io_type 'io_serial'.*io_parallel, io_stream"):
        write_vivado_scripts(tmp_path, "pynq-z2", "io_serial", 10)
    with pytest.raises(ValueError, match="unknown board"):
        write_vivado_scripts(tmp_path, "kv260", "io_parallel", 10)
    script = write_vivado_scripts(tmp_path, "zc706", "io_parallel", None, project_name="net", top="net_axi")
    text = script.read_text()
    assert (
        'set part            "xc7z045ffg900-2"' in text
        and "net_prj" in text
        and 'set top             "net_axi"' in text
    )
    assert "@{part}" not in text and "set clock_period_ns 10\n" in text
    assert vivado_command(script) == f"vivado -mode batch -source {script}"
