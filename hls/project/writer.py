"""The kit's part of an HLS project, written inside hls4ml's own write flow (after its ``write_hls``).

hls4ml's ``write()`` and ``compile()`` run the backend's write flow, so a project they leave is complete:
the resolution port as a scalar, the testbench's exact output and per-sample cycle log, the top's
interface (AXI-Lite in io_parallel; the AXI-Stream wrapper top in io_stream) and the Vivado scripts.
Only models converted by ``mrfpga.hls.project.convert`` (they carry ``mrfpga_board``) are touched.
"""

import re
import shutil
from pathlib import Path

from hls4ml.backends import get_backend
from hls4ml.model.optimizer import ModelOptimizerPass
from hls4ml.model.optimizer.optimizer import optimizer_map

from mrfpga.hls.layers.common import RESOLUTION_PORT
from mrfpga.hls.package_data import package_dir
from mrfpga.hls.settings import BACKENDS
from mrfpga.hls.sim.csim import CYCLES_LOG, LAYER_CYCLES_LOG
from mrfpga.hls.sim.precompiled import BUILD_SCRIPT_INCLUDES, KIT_LINE_MARK, library_flags, precompiled_header
from mrfpga.training.errors import ConversionError

from .axis_wrapper import axis_top, use_axis_top, write_axis_wrapper
from .vivado_scripts import use_axi_lite_interface, write_vivado_scripts

TB_PRECISION = 60  # decimal digits the testbench prints: enough for any exact ap_fixed value here
# Every kit header goes into every kit project: a layer's include list names its own family's header, which
# includes the shared ones.
SOURCES = (
    "nnet_mmac_common.h",
    "nnet_data_terms.h",
    "nnet_data_terms_stream.h",
    "nnet_scale_shift.h",
    "nnet_scale_shift_stream.h",
    "nnet_mmac_dense.h",
    "nnet_mmac_dense_stream.h",
    "nnet_mmac_conv2d.h",
    "nnet_mmac_conv2d_stream.h",
    "nnet_rowwise.h",
)
COUNTING_HEADERS = SOURCES  # the kit's layers count their cycles in C simulation
CYCLE_COUNTERS_HEADER = "nnet_mmac_common.h"  # nnet::csim_cycles(), read by the testbench


class WriteKitProject(ModelOptimizerPass):
    """The last pass of the Vivado and Vitis write flows."""

    def __init__(self):
        self.name = "mrfpga_write_project"

    def transform(self, model):
        if getattr(model, "mrfpga_board", None) is not None:
            finish_project(model)
        return True


def install():
    """The kit's part of a project, written by hls4ml's own write flow (so compile() leaves it too)."""
    for backend_name in BACKENDS:
        if f"{backend_name.lower()}:{WriteKitProject().name}" not in optimizer_map:
            get_backend(backend_name).register_pass(
                WriteKitProject().name, WriteKitProject, flow=f"{backend_name.lower()}:write"
            )


def finish_project(model):
    project = Path(model.config.get_output_dir())
    name = model.config.get_project_name()
    io_type = model.config.get_config_value("IOType")
    # The kit's headers go into its own projects only (hls4ml's register_source would add them to every one).
    for header in SOURCES:
        shutil.copyfile(package_dir("templates") / header, project / "firmware" / "nnet_utils" / header)
    scalar_resolution_port(project, name)
    patch_testbench(project, name)
    use_precompiled_header(project)
    top = name
    if io_type == "io_stream":
        write_axis_wrapper(model, project)
        use_axis_top(project, name)
        top = axis_top(name)
    else:
        use_axi_lite_interface(project, name, io_type)
    write_vivado_scripts(
        project, model.mrfpga_board, io_type, model.config.get_config_value("ClockPeriod"), name, top=top
    )


def _patch(path, transform):
    text = path.read_text()
    new = transform(text)
    if new != text:
        path.write_text(new)


def use_precompiled_header(project):
    """build_lib.sh reads the standard and ap_types headers precompiled (``sim.precompiled.precompiled_header``, built
    now if this machine's cache lacks it): the same library in about 60% of the time. The line checks that
    the file is there, so the project still builds plainly anywhere else."""
    header = precompiled_header(project, library_flags(project))
    if header is None or any(c.isspace() or c in '"$`\\' for c in str(header)):  # the script would split it
        return
    line = (
        f"{KIT_LINE_MARK} headers precompiled once on the machine that wrote this project"
        " (mrfpga.hls.sim.precompiled)\n"
        f'if [ -f "{header}.gch" ]; then CFLAGS+=" -include {header}"; fi\n'
    )
    _patch(
        project / "build_lib.sh",
        lambda text: (
            text if KIT_LINE_MARK in text else text.replace(BUILD_SCRIPT_INCLUDES, line + BUILD_SCRIPT_INCLUDES, 1)
        ),
    )


def scalar_resolution_port(project, name):
    """The top takes the resolution by value: one register every layer reads (legal in DATAFLOW, where an
    array argument may have one reader only). hls4ml writes it as a one-element array input; its testbench
    and Python bridge keep that array and pass its element."""
    port = re.compile(rf"(\w+) {RESOLUTION_PORT}\[1\]")
    firmware = project / "firmware"
    for path in (firmware / f"{name}.h", firmware / f"{name}.cpp"):
        _patch(path, lambda text: port.sub(rf"\1 {RESOLUTION_PORT}", text, count=1))
    _patch(
        firmware / f"{name}.cpp",
        lambda text: re.sub(rf"\n\s*#pragma HLS ARRAY_RESHAPE variable={RESOLUTION_PORT} complete dim=0", "", text),
    )
    # An index into the scalar would compile (bit 0 of an ap_uint) and silently select the wrong resolution.
    if re.search(rf"\b{RESOLUTION_PORT}\[", (firmware / f"{name}.cpp").read_text()):
        raise ConversionError(f"{firmware / name}.cpp indexes the resolution port: it is a scalar, pass it as is")
    call = re.compile(rf"(\b{name}\([^;]*?)\b({RESOLUTION_PORT}(?:_ap)?)\b(?!\[)")
    for path in (project / f"{name}_test.cpp", project / f"{name}_bridge.cpp"):
        _patch(path, lambda text: call.sub(r"\1\2[0]", text))


def patch_testbench(project, name):
    """Exact outputs (hls4ml prints 6 digits) and, where the kit's layers count cycles, one count per call."""
    path = project / f"{name}_test.cpp"
    text = path.read_text()
    anchor = "std::ofstream fout(RESULTS_LOG);"
    if anchor not in text:
        raise ConversionError(f"{path}: cannot find where the testbench opens its results file")
    if f"fout.precision({TB_PRECISION});" not in text:
        text = text.replace(anchor, f"{anchor}\n    fout.precision({TB_PRECISION});")
    firmware = (project / "firmware" / "parameters.h").read_text()
    if any(header in firmware for header in COUNTING_HEADERS) and "csim_cycles" not in text:
        text = text.replace(
            anchor,
            f'{anchor}\n    std::ofstream fcycles("{CYCLES_LOG}");\n    std::ofstream flayers("{LAYER_CYCLES_LOG}");',
        )
        include = f'#include "firmware/{name}.h"\n'
        text = text.replace(
            include, f'{include}#include "firmware/nnet_utils/{CYCLE_COUNTERS_HEADER}"  // nnet::csim_cycles()\n', 1
        )
        call = re.compile(rf"^(\s*){name}\(.*\);\n", re.M)
        text = call.sub(
            lambda m: (
                f"{m.group(1)}nnet::csim_cycles() = 0;\n{m.group(1)}nnet::csim_layer_cycles().clear();\n"
                f"{m.group(1)}nnet::csim_layer_mark() = 0;\n"
                f"{m.group(0)}{m.group(1)}fcycles << nnet::csim_cycles()"
                ' << "\\n";\n'
                f"{m.group(1)}for (unsigned long c : nnet::csim_layer_cycles()) flayers << c << ' ';\n"
                f'{m.group(1)}flayers << "\\n";\n'
            ),
            text,
        )
    path.write_text(text)
