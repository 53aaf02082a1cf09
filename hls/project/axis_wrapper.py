"""An AXI-Stream top for io_stream projects, in the manner of hls4ml's VivadoAccelerator backend.

hls4ml's io_stream top takes ``hls::stream<nnet::array<...>>`` ports: words as wide as a packed array and
no TLAST, which an AXI DMA cannot drive. ``<project>_axis()`` (``firmware/<project>_axis.cpp``) takes
32/64-bit AXI-Stream words with TLAST, one value per word, and the resolution as an AXI-Lite register;
the word format is documented in the generated header and the README. ``use_axis_top`` makes it the HLS
top (so the exported IP), and ``<project>_axis_test.cpp`` checks it against the hls4ml top with g++.
"""

import re
import subprocess
from pathlib import Path
from string import Template

import numpy as np

from mrfpga.hls.layers.common import RESOLUTION_PORT
from mrfpga.hls.package_data import package_dir
from mrfpga.hls.sim.csim import CsimError, compile_testbench
from mrfpga.training.errors import ConversionError

TESTBENCH = "tb_axis"


class _CppTemplate(Template):
    delimiter = "@"  # unused in C++


def axis_top(project_name):
    """The wrapper's function name: the exported IP's name."""
    return f"{project_name}_axis"


def _word_bits(precision, what):
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

    if not isinstance(precision, FixedPrecisionType | IntegerPrecisionType):
        raise ConversionError(f"the AXI-Stream wrapper needs a fixed-point or integer {what}, not {precision}")
    for bits in (32, 64):
        if precision.width <= bits:
            return bits
    raise ConversionError(f"the {what} {precision} is {precision.width} bits wide; an AXI-Stream word holds 32 or 64")


def _values_per_word(var):
    """How many values one word of an hls4ml stream (an nnet::array) holds."""
    t = var.type
    return t.n_elem // t.n_pack if getattr(t, "unpack", False) else t.n_elem * getattr(t, "n_pack", 1)


def template_values(hls_model):
    """The placeholders of the wrapper templates, from a converted io_stream model."""
    if hls_model.config.get_config_value("IOType") != "io_stream":
        raise ConversionError("the AXI-Stream wrapper is for io_stream projects")
    inputs = [v for v in hls_model.get_input_variables() if v.name != RESOLUTION_PORT]
    resolution = [v for v in hls_model.get_input_variables() if v.name == RESOLUTION_PORT]
    outputs = hls_model.get_output_variables()
    if len(inputs) != 1 or len(outputs) != 1 or len(resolution) != 1:
        raise ConversionError(
            f"the AXI-Stream wrapper handles one data input, one output and the {RESOLUTION_PORT!r} port; "
            f"the model has inputs {[v.name for v in hls_model.get_input_variables()]} and outputs "
            f"{[v.name for v in outputs]}"
        )
    (inp,), (out,), (res,) = inputs, outputs, resolution
    p_in, p_out = inp.type.precision, out.type.precision
    in_bits, out_bits = _word_bits(p_in, "input type"), _word_bits(p_out, "output type")
    project = hls_model.config.get_project_name()
    n_res = getattr(hls_model, "mrfpga_resolutions", 2**res.type.precision.width)
    vitis = hls_model.config.backend.name.startswith("Vitis")
    return {
        "project": project,
        "upper": project.upper(),
        "guard": f"{project.upper()}_AXIS_H_",
        "n_in": inp.size(),
        "n_out": out.size(),
        "in_type": inp.type.name,
        "out_type": out.type.name,
        "in_depth": inp.size() // _values_per_word(inp),
        "out_depth": out.size() // _values_per_word(out),
        "in_precision": p_in.definition_cpp(),
        "out_precision": p_out.definition_cpp(),
        "in_width": p_in.width,
        "out_width": p_out.width,
        "in_frac": p_in.width - getattr(p_in, "integer", p_in.width),
        "out_frac": p_out.width - getattr(p_out, "integer", p_out.width),
        "out_signed": "true" if p_out.signed else "false",
        "out_raw_type": f"ap_{'' if p_out.signed else 'u'}int<{p_out.width}>",
        "out_extension": "sign-extended" if p_out.signed else "zero-extended",
        "in_word_bits": in_bits,
        "out_word_bits": out_bits,
        "resolution_type": res.type.name,
        "n_res": n_res,
        "n_res_minus_1": n_res - 1,
        # Vitis HLS drops zero-width side channels (the stream is exactly the DMA's); Vivado HLS's ap_axiu
        # cannot have them, so its IP has 1-bit TUSER/TID/TDEST that the DMA does not use.
        "side_channels": "0, 0, 0" if vitis else "1, 1, 1",
        "axiu_note": (
            "Vitis HLS: no TUSER/TID/TDEST, exactly the AXI DMA's stream signals."
            if vitis
            else "Vivado HLS cannot make zero-width TUSER/TID/TDEST: 1 bit each, unused by the AXI DMA."
        ),
    }


def _render(name, values):
    return _CppTemplate((package_dir("templates") / name).read_text()).substitute(values)


def write_axis_wrapper(hls_model, project_dir=None):
    """Write ``firmware/<project>_axis.h/.cpp`` and the testbench ``<project>_axis_test.cpp``; returns their paths.

    hls4ml's write()/compile() leave these files alone; it is ``use_axis_top`` that must follow them."""
    values = template_values(hls_model)
    project_dir = Path(project_dir or hls_model.config.get_output_dir())
    project = values["project"]
    paths = {
        project_dir / "firmware" / f"{project}_axis.h": "axis_wrapper.h",
        project_dir / "firmware" / f"{project}_axis.cpp": "axis_wrapper.cpp",
        project_dir / f"{project}_axis_test.cpp": "axis_wrapper_test.cpp",
    }
    for path, template in paths.items():
        path.write_text(_render(template, values))
    return list(paths)


def use_axis_top(project_dir, project_name="myproject"):
    """Make the wrapper the HLS top in hls4ml's ``build_prj.tcl`` (its C synthesis and ``export_design``
    then build the AXI-Stream IP), and its testbench the one C simulation and co-simulation run, so that
    they exercise the IP's own ports. Safe to run twice; hls4ml's write()/compile() rewrite the file, so run
    it after them."""
    path = Path(project_dir) / "build_prj.tcl"
    text = path.read_text()
    top = "set_top ${project_name}\n"
    new = 'set_top ${project_name}_axis\nadd_files firmware/${project_name}_axis.cpp -cflags "-std=c++0x"\n'
    testbench = "add_files -tb ${project_name}_test.cpp"
    if new in text and testbench not in text:
        return
    if text.count(top) != 1 or testbench not in text:
        raise ConversionError(
            f"{path}: expected one line 'set_top ${{project_name}}' and the testbench '{testbench}' to point at "
            f"{project_name}_axis"
        )
    for name in (f"firmware/{project_name}_axis.cpp", f"{project_name}_axis_test.cpp"):
        if not (Path(project_dir) / name).is_file():
            raise FileNotFoundError(f"{project_dir}/{name}: write the wrapper first")
    text = text.replace(top, new).replace(testbench, "add_files -tb ${project_name}_axis_test.cpp")
    path.write_text(text)


def compile_axis_testbench(project_dir, project_name="myproject", compiler="g++", include_dirs=(), output=TESTBENCH):
    """g++ the wrapper's testbench; ``include_dirs`` go first on the include path (a folder with the vendor's
    ``ap_axi_sdata.h`` makes the wrapper use its ``ap_axiu``)."""
    sources = [f"{project_name}_axis_test.cpp", f"firmware/{project_name}_axis.cpp"]
    flags = [f"-I{Path(d).resolve()}" for d in include_dirs]
    return compile_testbench(project_dir, project_name, compiler, sources, output, flags)


def run_axis_testbench(project_dir, n_outputs, samples_per_call=1):
    """Run the compiled wrapper testbench on tb_data (``csim.write_tb_data``); returns the unpacked outputs,
    one row per input line. Raises CsimError if any word differs from the hls4ml top's or TLAST is wrong."""
    project_dir = Path(project_dir)
    done = subprocess.run(
        [f"./{TESTBENCH}", str(samples_per_call)], cwd=project_dir, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise CsimError(
            f"AXI-Stream testbench failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
        )
    if not re.search(r"\b0 errors\b", done.stdout):
        raise CsimError(f"AXI-Stream testbench did not report its result: {done.stdout[-2000:]}")
    rows = (project_dir / "tb_data" / "axis_csim_results.log").read_text().splitlines()
    out = np.array([[float(v) for v in row.split()] for row in rows if row.strip()], np.float64)
    if out.ndim != 2 or out.shape[1] != n_outputs:
        raise CsimError(f"AXI-Stream testbench wrote {out.shape} results; expected {n_outputs} values per line")
    return out
