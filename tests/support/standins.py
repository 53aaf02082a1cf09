"""Runs hls4ml's build_prj.tcl (as the kit leaves it) in tclsh against the HLS stand-ins (tcl_standins/hls.tcl)."""

import os
import subprocess
from pathlib import Path

from mrfpga.hls.vendor.synth import vivado_hls_args

STANDINS = Path(__file__).parent / "tcl_standins"


def run_hls_build(project_dir, part, period_ns, export=True):
    """(the finished process, the logged calls) of ``build_prj.tcl`` run in ``project_dir``."""
    log = Path(project_dir) / "hls_calls.log"
    log.unlink(missing_ok=True)
    env = {
        **os.environ,
        "MRFPGA_STANDIN_LOG": str(log),
        "MRFPGA_EXPECT_PART": part,
        "MRFPGA_EXPECT_PERIOD_NS": str(period_ns),
    }
    cmd = ["tclsh", str(STANDINS / "run_hls.tcl"), "build_prj.tcl", vivado_hls_args(export=export)]
    done = subprocess.run(cmd, cwd=project_dir, env=env, capture_output=True, text=True, timeout=60)
    return done, log.read_text().splitlines() if log.exists() else []
