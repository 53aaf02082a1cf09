"""Vendor synthesis of a generated project, when the tools are on PATH."""

import shutil
import subprocess
from pathlib import Path

from mrfpga.hls.project.vivado_scripts import SCRIPT_NAME, vivado_command
from mrfpga.training.errors import ToolMissing


def vivado_hls_args(export):
    return f"reset=1 csim=1 synth=1 cosim=0 validation=0 export={int(export)} vsynth=0"


def vitis_opts(export):
    steps = {"reset": 1, "csim": 1, "synth": 1, "cosim": 0, "validation": 0, "export": int(export), "vsynth": 0}
    return "array set opt {\n" + "".join(f" {k} {v}\n" for k, v in {**steps, "fifo_opt": 0}.items()) + "}\n"


def synth_command(backend, export=False):
    if backend == "Vitis":
        return "vitis-run", ["vitis-run", "--tcl", "build_prj.tcl", "--mode", "hls"]
    return "vivado_hls", ["vivado_hls", "-f", "build_prj.tcl", vivado_hls_args(export)]


def _require(tool, product, project_dir, shown):
    if shutil.which(tool) is None:
        raise ToolMissing(
            f"{tool} is not on PATH: install {product} (and source its settings64.sh), then run:\n"
            f"  cd {project_dir} && {shown}"
        )


def run_synthesis(project_dir, backend, bitstream=False):
    """C simulation and C synthesis in the project; with ``bitstream``, export the IP and run the Vivado
    script through to a bitstream (Zynq) or an out-of-context netlist (vc707). Raises ToolMissing naming
    the missing tool and the exact commands."""
    project_dir = Path(project_dir)
    tool, cmd = synth_command(backend, export=bitstream)
    shown = " ".join(f'"{c}"' if " " in c else c for c in cmd)
    if backend == "Vitis":
        shown = f"{shown}   # options in build_opt.tcl: {vitis_opts(bitstream)!r}"
    vivado = vivado_command(Path("vivado") / SCRIPT_NAME)
    if bitstream:
        shown = f"{shown} && {vivado}"
    _require(tool, "AMD Vitis" if backend == "Vitis" else "Vivado HLS", project_dir, shown)
    if bitstream:
        _require("vivado", "Vivado", project_dir, shown)
    if backend == "Vitis":
        (project_dir / "build_opt.tcl").write_text(vitis_opts(bitstream))
    code = subprocess.run(cmd, cwd=project_dir).returncode
    if code or not bitstream:
        return code
    return subprocess.run(
        ["vivado", "-mode", "batch", "-source", str(Path("vivado") / SCRIPT_NAME)], cwd=project_dir
    ).returncode
