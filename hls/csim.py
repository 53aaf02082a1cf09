"""C simulation with g++, both ways: hls4ml's compile/predict and the generated testbench.

Inputs must already be on the HLS input grid for a bit-exact comparison
(SPEC section 7); ``snap_to_input_grid`` puts them there, and the same
snapped inputs go to Keras, the exact reference and both simulations.
"""

import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from mrfpga.training.errors import MrfpgaError

# The input port, ap_fixed<16,6>, unless the first layer's grid needs more (convert.input_port_type).
INPUT_FRAC_BITS = 10
INPUT_INT_BITS = 6


TESTBENCH_FLAGS = ("-O2", "-std=c++11")
LIBRARY_FLAGS = ("-O3", "-fPIC", "-std=c++11")  # hls4ml's build_lib.sh, when a project's script cannot tell
# What every build of a project parses before its own code, a third to two thirds of each g++ run: the standard
# headers and ap_types (vendor-independent and the same in every project; the cache is keyed by their content).
PRECOMPILED_SWITCH = "MRFPGA_PRECOMPILED_HEADERS"  # "0": plain builds (a like-for-like timing against hls4ml)
PRECOMPILED = ("algorithm", "iostream", "map", "string", "vector", "ap_fixed.h", "ap_int.h", "hls_stream.h")
# build_lib.sh: hls4ml's include-flags line ends its set-up; the kit's line (project.use_precompiled_header),
# marked so, goes just before it.
BUILD_SCRIPT_INCLUDES = 'INCFLAGS="'
KIT_LINE_MARK = "# mrfpga:"


class CsimError(MrfpgaError, RuntimeError):
    pass


def library_flags(project_dir):
    """The flags the project's build_lib.sh compiles the library with on this machine (hls4ml's script picks the
    C++ standard and -fno-gnu-unique by asking g++): its set-up lines, run."""
    script = Path(project_dir) / "build_lib.sh"
    if not script.exists():
        return LIBRARY_FLAGS
    # Up to the kit's own line (project.use_precompiled_header) or hls4ml's include flags.
    setup = re.split(f"\n(?:{re.escape(KIT_LINE_MARK)}|{re.escape(BUILD_SCRIPT_INCLUDES)})", script.read_text())[0]
    return _flags_of(setup)


@functools.cache
def _flags_of(setup):
    done = subprocess.run(["bash", "-c", f'{setup}\necho "$CFLAGS"'], capture_output=True, text=True)
    return tuple(done.stdout.split()) if done.returncode == 0 and done.stdout.strip() else LIBRARY_FLAGS


def cache_dir():
    """The kit's cache: ``$MRFPGA_CACHE_DIR``, else ``$XDG_CACHE_HOME/mrfpga`` (``~/.cache/mrfpga``)."""
    if os.environ.get("MRFPGA_CACHE_DIR"):
        return Path(os.environ["MRFPGA_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mrfpga"


def precompiled_header(project_dir, flags, compiler="g++"):
    """A header to ``-include`` that g++ (run with ``flags``) reads precompiled from the ``.gch`` beside it: the
    standard headers and ap_types of ``project_dir``. None when that cannot be: the build is then the plain one,
    with the same result. Built once per compiler, flag set and ap_types content, in ``cache_dir()/pch``."""
    ap_types = Path(project_dir) / "firmware" / "ap_types"
    if os.environ.get(PRECOMPILED_SWITCH) == "0" or shutil.which(compiler) is None or not ap_types.is_dir():
        return None
    flags = tuple(flags)
    text = "".join(f"#include <{h}>\n" if "." not in h else f'#include "{h}"\n' for h in PRECOMPILED)
    key = hashlib.sha256()
    for part in (_compiler_version(compiler), " ".join(flags), text):
        key.update(part.encode() + b"\0")
    for path in sorted(p for p in ap_types.rglob("*") if p.is_file()):
        key.update(path.relative_to(ap_types).as_posix().encode() + b"\0" + path.read_bytes())
    header = _built_header(compiler, flags, text, str(ap_types.resolve()), key.hexdigest()[:20])
    if header is None or not header.with_suffix(".h.gch").exists():  # the cache may be emptied meanwhile
        return None
    return header


@functools.cache
def _compiler_version(compiler):
    return subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout


@functools.cache
def _built_header(compiler, flags, text, ap_types, key):
    root = cache_dir() / "pch"
    final = root / key
    header = final / "mrfpga_pch.h"
    if (final / "mrfpga_pch.h.gch").exists():
        return header
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{key}-"))
    except OSError:  # no writable cache: plain builds
        return None
    try:
        (staging / header.name).write_text(text)
        # Its own copy, named relatively: the header's file names (__FILE__ in ap_types' asserts) end up in the
        # binaries, and must not name the project that happened to build it first.
        shutil.copytree(ap_types, staging / "ap_types")
        cmd = [compiler, *flags, "-Iap_types", "-x", "c++-header", header.name, "-o", f"{header.name}.gch"]
        if subprocess.run(cmd, cwd=staging, capture_output=True, timeout=600).returncode != 0:
            return None
        try:
            staging.rename(final)  # whole or not at all; another process may have put the same one first
        except OSError:
            pass
    except (OSError, subprocess.TimeoutExpired):
        return None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return header if (final / "mrfpga_pch.h.gch").exists() else None


def snap_to_input_grid(x, width=INPUT_INT_BITS + INPUT_FRAC_BITS, integer=INPUT_INT_BITS):
    """Round half up to the input port's ap_fixed<width, integer> grid (ap_fixed<16,6> unless the model's
    input grid needs more, ``convert.input_port_type``) and saturate, as the HLS input type would."""
    step = 2.0 ** (width - integer)
    top = 2.0 ** (integer - 1)
    return np.clip(np.floor(np.asarray(x, np.float64) * step + 0.5) / step, -top, top - 1 / step).astype(np.float32)


def resolution_column(n, resolution):
    return np.full((n, 1), resolution, np.float64)


def predict(hls_model, x, resolution):
    """hls4ml's g++-compiled predict at one resolution, in double precision (exact for our output types)."""
    x = np.ascontiguousarray(x, np.float64)
    graph = getattr(hls_model, "hls4ml_model", hls_model)  # hls4ml's ModelGraph, or the kit's model around it
    out = graph.predict([x, resolution_column(len(x), resolution)])
    return np.asarray(out, np.float64).reshape(len(x), -1)


def write_tb_data(project_dir, x, expected_per_resolution):
    """One testbench line per (resolution, sample): the features, then the resolution index."""
    tb = Path(project_dir) / "tb_data"
    tb.mkdir(exist_ok=True)
    with open(tb / "tb_input_features.dat", "w") as fin, open(tb / "tb_output_predictions.dat", "w") as fpr:
        for r, expected in enumerate(expected_per_resolution):
            for row, out in zip(x, expected, strict=True):
                fin.write(" ".join(repr(float(v)) for v in np.ravel(row)) + f" {r}\n")
                fpr.write(" ".join(repr(float(v)) for v in out) + "\n")


def compiled_library(project_dir, project_name):
    """hls4ml's compiled firmware (``firmware/<name>-<stamp>.so``, left by ``compile()``) when it is newer than
    every firmware source it is built from (the AXI-Stream wrapper is not), else None."""
    firmware = Path(project_dir) / "firmware"
    libraries = sorted(firmware.glob(f"{project_name}-*.so"), key=lambda p: p.stat().st_mtime)
    if not libraries:
        return None
    sources = [
        p for p in firmware.rglob("*") if p.suffix in (".cpp", ".h") and not p.stem.startswith(f"{project_name}_axis")
    ]
    newest_source = max(p.stat().st_mtime for p in sources)
    return libraries[-1] if libraries[-1].stat().st_mtime >= newest_source else None


def compile_testbench(project_dir, project_name, compiler="g++", sources=None, output="tb_csim", flags=()):
    """g++ the project's testbench (``<name>_test.cpp``, or ``sources``) with the firmware into ``output``.

    The firmware is hls4ml's compiled library when ``compile()`` left a current one (the same code, built
    once), else ``firmware/<name>.cpp``."""
    if shutil.which(compiler) is None:
        raise CsimError(f"{compiler} is not on PATH; install it (e.g. apt-get install g++)")
    project_dir = Path(project_dir)
    library = compiled_library(project_dir, project_name)
    # Relative to the project, where the testbench runs: the run directory may be moved after the build.
    firmware = str(library.relative_to(project_dir)) if library else f"firmware/{project_name}.cpp"
    sources = [*(sources or [f"{project_name}_test.cpp"]), firmware]
    # A folder of the caller's goes first on the include path and could hold other headers: no precompiled ones then.
    header = None if flags else precompiled_header(project_dir, TESTBENCH_FLAGS, compiler)
    precompiled = ["-include", str(header)] if header else []
    cmd = [
        compiler, *TESTBENCH_FLAGS, *precompiled, *flags, "-Ifirmware", "-Ifirmware/ap_types",
        '-DWEIGHTS_DIR="firmware/weights"', *sources, "-o", output,
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=project_dir, capture_output=True, text=True)
    if done.returncode != 0:
        raise CsimError(f"testbench compilation failed ({' '.join(cmd)}):\n{done.stderr[-4000:]}")
    return project_dir / output


def run_testbench(project_dir, n_outputs):
    """Run the compiled testbench on tb_data; returns its outputs, one row per input line."""
    project_dir = Path(project_dir)
    done = subprocess.run(["./tb_csim"], cwd=project_dir, capture_output=True, text=True)
    if done.returncode != 0:
        raise CsimError(f"testbench failed with exit code {done.returncode}:\n{done.stderr[-4000:]}")
    rows = [line.split() for line in (project_dir / "tb_data" / "csim_results.log").read_text().splitlines()]
    out = np.array([[float(v) for v in row] for row in rows if row], np.float64)
    if out.ndim != 2 or out.shape[1] != n_outputs:
        raise CsimError(f"testbench wrote {out.shape} results; expected {n_outputs} values per line")
    return out


def read_csim_cycles(project_dir):
    """Cycles the kit's layers counted for each testbench call (one line per tb_data line), or None when the
    project has no counting layer (hls4ml's own layers only)."""
    from .project import CYCLES_LOG

    path = Path(project_dir) / CYCLES_LOG
    if not path.is_file():
        return None
    return np.array([int(v) for v in path.read_text().split()], np.int64)


def read_csim_layer_cycles(project_dir):
    """Cycles each kit layer counted, per testbench call (calls, kit layers in call order), or None."""
    from .project import LAYER_CYCLES_LOG

    path = Path(project_dir) / LAYER_CYCLES_LOG
    if not path.is_file():
        return None
    return np.array([[int(v) for v in line.split()] for line in path.read_text().splitlines()], np.int64)


def mismatches(a, b):
    """Samples whose output vectors differ in any element (exact comparison)."""
    return int(np.sum(np.any(np.asarray(a) != np.asarray(b), axis=1)))
