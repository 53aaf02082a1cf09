"""Vivado scripts that take the exported HLS IP to a bitstream (Zynq boards) or an out-of-context netlist (vc707)."""

import shlex
from pathlib import Path
from string import Template

from .boards import Board, load_board
from .resources import package_dir

IO_TYPES = ("io_parallel", "io_stream")
SCRIPT_NAME = "build_bitstream.tcl"
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
        raise ValueError(f"unknown io_type {io_type!r}; expected one of {', '.join(IO_TYPES)}")
    board = board if isinstance(board, Board) else load_board(board)
    period = float(clock_period_ns if clock_period_ns is not None else board.clock_period_ns)
    if not period > 0:
        raise ValueError(f"clock period must be positive, got {clock_period_ns!r} ns")
    if board.arm_host and board.name not in BOARD_PATTERNS:
        raise ValueError(f"no Vivado board files known for {board.name!r}: add it to BOARD_PATTERNS")
    template = "block_design.tcl" if board.arm_host else "vc707_ip.tcl"
    text = _TclTemplate((package_dir("templates") / template).read_text()).substitute(
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


def use_axi_lite_interface(project_dir, project_name="myproject"):
    """Put an io_parallel top function's ports and control on one AXI-Lite slave (the block design's register
    map: data in, the resolution register, results out). Synthesis-only pragmas: C simulation is unchanged."""
    path = Path(project_dir) / "firmware" / f"{project_name}.cpp"
    if "#pragma HLS INTERFACE s_axilite port=return bundle=control" in path.read_text():
        return  # already done (hls4ml's compile() rewrites the file, so this may run again)
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#pragma HLS INTERFACE ap_vld port="):
            indent = line[: len(line) - len(line.lstrip())]
            ports = stripped.split("port=", 1)[1].split(",") + ["return"]
            lines[i] = "".join(
                f"{indent}#pragma HLS INTERFACE s_axilite port={p.strip()} bundle=control\n" for p in ports
            )
            path.write_text("".join(lines))
            return
    raise ValueError(f"{path}: no ap_vld interface pragma to replace (is this an io_parallel project?)")
