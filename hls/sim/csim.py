"""C simulation with g++, both ways: hls4ml's compile/predict and the generated testbench.

Inputs must already be on the HLS input grid for a bit-exact comparison
(the C simulation reads them on its input port's fixed-point grid);
``snap_to_input_grid`` puts them there, and the same snapped inputs go to
Keras, the exact reference and both simulations.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np

from mrfpga.training.errors import DataError, MrfpgaError

from .precompiled import precompiled_header

# The input port, ap_fixed<16,6>, unless the first layer's grid needs more (convert.input_port_type).
INPUT_FRAC_BITS = 10
INPUT_INT_BITS = 6


TESTBENCH_FLAGS = ("-O2", "-std=c++11")
# What the testbench the kit writes logs (project.writer.patch_testbench) and C simulation reads back.
CYCLES_LOG = "tb_data/csim_cycles.log"
LAYER_CYCLES_LOG = "tb_data/csim_layer_cycles.log"  # per call: each kit layer's cycles, in call order


class CsimError(MrfpgaError, RuntimeError):
    pass


def snap_to_input_grid(x, width=INPUT_INT_BITS + INPUT_FRAC_BITS, integer=INPUT_INT_BITS):
    """Round half up to the input port's ap_fixed<width, integer> grid (ap_fixed<16,6> unless the model's
    input grid needs more, ``convert.input_port_type``) and saturate, as the HLS input type would."""
    step = 2.0 ** (width - integer)
    top = 2.0 ** (integer - 1)
    return np.clip(np.floor(np.asarray(x, np.float64) * step + 0.5) / step, -top, top - 1 / step).astype(np.float32)


def resolution_column(n, resolution):
    return np.full((n, 1), resolution, np.float64)


def check_input(hls_model, x):
    """``x`` as float64 samples, one per row (a single sample of the input shape gets its own row), when
    every sample has the model's input shape (or as many values, flattened) and every value is finite;
    else a ``DataError`` naming the shape expected."""
    graph = getattr(hls_model, "hls4ml_model", hls_model)
    shape = tuple(int(d) for d in graph.get_input_variables()[0].shape)
    size = int(np.prod(shape))
    expected = f"each sample of shape {shape}" + (f" (or {size} values, flattened)" if len(shape) > 1 else "")
    try:
        array = np.asarray(x, np.float64)
    except (TypeError, ValueError):
        raise DataError(f"x is not an array of numbers; predict takes {expected}") from None
    if array.shape == shape or (array.ndim == 1 and array.size == size):
        array = array.reshape(1, *array.shape)
    if array.ndim < 2 or array.shape[1:] not in (shape, (size,)):
        raise DataError(
            f"x has shape {array.shape}; predict takes an array of shape (samples, {', '.join(map(str, shape))}): "
            f"{expected}"
        )
    if len(array) == 0:
        raise DataError("x has no samples")
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise DataError(f"x has {bad} values that are NaN or infinite; predict takes finite numbers")
    return np.ascontiguousarray(array)


def predict(hls_model, x, resolution):
    """hls4ml's g++-compiled predict at one resolution, in double precision (exact for our output types)."""
    graph = getattr(hls_model, "hls4ml_model", hls_model)  # hls4ml's ModelGraph, or the kit's model around it
    x = check_input(graph, x)
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
    path = Path(project_dir) / CYCLES_LOG
    if not path.is_file():
        return None
    return np.array([int(v) for v in path.read_text().split()], np.int64)


def read_csim_layer_cycles(project_dir):
    """Cycles each kit layer counted, per testbench call (calls, kit layers in call order), or None."""
    path = Path(project_dir) / LAYER_CYCLES_LOG
    if not path.is_file():
        return None
    return np.array([[int(v) for v in line.split()] for line in path.read_text().splitlines()], np.int64)


def mismatches(a, b):
    """Samples whose output vectors differ in any element (exact comparison)."""
    return int(np.sum(np.any(np.asarray(a) != np.asarray(b), axis=1)))
