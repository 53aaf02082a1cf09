"""Vendor synthesis of a generated project, when the tools are on PATH."""

import shutil
import subprocess
from pathlib import Path

VIVADO_ARGS = "reset=1 csim=1 synth=1 cosim=0 validation=0 export=0 vsynth=0"
VITIS_OPTS = (
    "array set opt {\n reset 1\n csim 1\n synth 1\n cosim 0\n validation 0\n export 0\n vsynth 0\n fifo_opt 0\n}\n"
)


class ToolMissing(RuntimeError):
    pass


def synth_command(backend):
    if backend == "Vitis":
        return "vitis-run", ["vitis-run", "--tcl", "build_prj.tcl", "--mode", "hls"]
    return "vivado_hls", ["vivado_hls", "-f", "build_prj.tcl", VIVADO_ARGS]


def run_synthesis(project_dir, backend):
    """Run C simulation and C synthesis in the project; raise ToolMissing naming the tool and the command."""
    project_dir = Path(project_dir)
    tool, cmd = synth_command(backend)
    shown = " ".join(f'"{c}"' if " " in c else c for c in cmd)
    if shutil.which(tool) is None:
        raise ToolMissing(
            f"{tool} is not on PATH: install {'AMD Vitis' if backend == 'Vitis' else 'Vivado HLS'} "
            f"(and source its settings64.sh), then run:\n  cd {project_dir} && {shown}"
        )
    if backend == "Vitis":
        (project_dir / "build_opt.tcl").write_text(VITIS_OPTS)
    return subprocess.run(cmd, cwd=project_dir).returncode
