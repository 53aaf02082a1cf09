"""Vivado scripts that take the exported HLS IP to a bitstream (Zynq boards) or an out-of-context netlist (vc707)."""

import shlex
from pathlib import Path
from string import Template

from mrfpga.hls.package_data import package_dir
from mrfpga.training.errors import ConversionError

from .boards import Board, load_board

IO_TYPES = ("io_parallel", "io_stream")
SCRIPT_NAME = "build_bitstream.tcl"
SHARED_PROCS = "vivado_procs.tcl"  # written into each script, so that it stays one file
# Vivado board-file names of the Zynq boards (board part "vendor:name:part0:version").
BOARD_PATTERNS = {"pynq-z2": "*:pynq-z2:*", "zedboard": "*:zedboard:*", "zc706": "*:zc706:*"}


class _TclTemplate(Template):
    delimiter = "@"  # Tcl owns "$", "[" and "{"


def write_vivado_scripts(project_dir, board, io_type, clock_period_ns, project_name="myproject", top=None):
    """Write ``project_dir/vivado/build_bitstream.tcl`` for ``board`` (name or Board) and return its path.

    The script finds the HLS IP at ``../<project_name>_prj/solution1/impl/ip`` relative to itself, so the
    project folder can move. ``top`` is the exported IP's name (the HLS top function; default ``project_name``).
    """
    if io_type not in IO_TYPES:
        raise ConversionError(f"unknown io_type {io_type!r}; expected one of {', '.join(IO_TYPES)}")
    board = board if isinstance(board, Board) else load_board(board)
    period = float(clock_period_ns if clock_period_ns is not None else board.clock_period_ns)
    if not period > 0:
        raise ConversionError(f"clock period must be positive, got {clock_period_ns!r} ns")
    if board.arm_host and board.name not in BOARD_PATTERNS:
        raise ConversionError(f"no Vivado board files known for {board.name!r}: add it to BOARD_PATTERNS")
    template = "block_design.tcl" if board.arm_host else "vc707_ip.tcl"
    templates = package_dir("templates")
    text = _TclTemplate((templates / template).read_text()).substitute(
        shared_procs=(templates / SHARED_PROCS).read_text().rstrip("\n"),
        board=board.name,
        part=board.part,
        board_pattern=BOARD_PATTERNS.get(board.name, ""),
        clock_period_ns=f"{period:g}",
        fclk_mhz=f"{1000 / period:g}",
        io_type=io_type,
        project_name=project_name,
        top=top or project_name,
    )
    script = Path(project_dir) / "vivado" / SCRIPT_NAME
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(text)
    return script


def vivado_command(script):
    """The command line that runs ``script``."""
    return f"vivado -mode batch -source {shlex.quote(str(script))}"


def use_axi_lite_interface(project_dir, project_name="myproject", io_type="io_parallel"):
    """The block design's register map on one AXI-Lite slave: in io_parallel every port (data in, the
    resolution register, results out); in io_stream the resolution register and control, with the data
    left on AXI-Stream. Synthesis-only pragmas: C simulation is unchanged. Safe to run twice (hls4ml's
    compile() rewrites the file)."""
    from mrfpga.hls.layers.common import RESOLUTION_PORT

    path = Path(project_dir) / "firmware" / f"{project_name}.cpp"
    text = path.read_text()
    if "#pragma HLS INTERFACE s_axilite port=return bundle=control" in text:
        return
    kind = "ap_vld" if io_type == "io_parallel" else "axis"
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(f"#pragma HLS INTERFACE {kind} port="):
            indent = line[: len(line) - len(line.lstrip())]
            ports = [p.strip() for p in stripped.split("port=", 1)[1].split(",")]
            lite = ports if io_type == "io_parallel" else [RESOLUTION_PORT]
            streams = [p for p in ports if p not in lite]
            new = [f"#pragma HLS INTERFACE axis port={','.join(streams)}"] if streams else []
            new += [f"#pragma HLS INTERFACE s_axilite port={p} bundle=control" for p in [*lite, "return"]]
            lines[i] = "".join(f"{indent}{pragma}\n" for pragma in new)
            path.write_text("".join(lines))
            return
    raise ConversionError(f"{path}: no {kind} interface pragma to replace")
