"""The twin measured: Verilator simulation on given input codes at every resolution (outputs and cycles per
sample) and Yosys ``synth_xilinx`` sizing of the whole design."""

import time
from pathlib import Path

import numpy as np

from mrfpga.hls.package_data import package_dir

from .tools import (
    SYNTH_OPTIONS,
    hierarchy_cells,
    mean_stand_ins,
    rounded_resources,
    run_testbench,
    synthesize_sources,
    verilator_build,
    yosys_version,
)
from .verilog import TOP, module_name, resolution_bits, write_verilog

TESTBENCH = package_dir("templates") / "rtl" / "twin_tb.cpp"


def build_twin(specs, out_dir, progress=None, timeout=1800):
    """Write the Verilog and build the Verilator testbench in ``out_dir/obj_dir``; return the executable."""
    start = time.monotonic()
    binary = verilator_build([write_verilog(specs, out_dir)], TOP, TESTBENCH, out_dir, timeout=timeout)
    if progress:
        progress(f"rtl: Verilator built the twin in {time.monotonic() - start:.0f} s")
    return binary


def run_twin(specs, codes_in, resolutions, out_dir, progress=None):
    """Simulate the chain of ``specs`` in Verilator on ``codes_in`` (samples, n_in) at each resolution.

    ``resolutions``: a count (0..n-1) or a list of resolution indices. Returns ``{"resolutions": [...],
    "outputs": [codes (samples, n_out) per resolution], "cycles": [[cycles per sample] per resolution]}``,
    the cycles counted from the edge that samples ``start`` to the one after which ``done`` shows.
    """
    if isinstance(resolutions, int):
        resolutions = list(range(resolutions))
    codes_in = np.asarray(codes_in, np.int64)
    first, last = specs[0], specs[-1]
    if codes_in.ndim != 2 or codes_in.shape[1] != first.n_in:
        raise ValueError(f"input codes of shape {codes_in.shape}, expected (samples, {first.n_in})")
    rb = resolution_bits(specs)
    if any(not 0 <= r < 1 << rb for r in resolutions):
        raise ValueError(f"resolutions {resolutions} do not fit the {rb}-bit resolution input")
    out_dir = Path(out_dir)
    binary = build_twin(specs, out_dir, progress)
    start = time.monotonic()
    outputs, cycles = run_testbench(
        binary, codes_in, first.in_width, last.n_outputs, last.out_width, last.out_signed, resolutions, out_dir
    )
    if progress:
        progress(
            f"rtl: simulated {len(codes_in)} samples at {len(resolutions)} resolutions "
            f"in {time.monotonic() - start:.1f} s"
        )
    return {"resolutions": list(resolutions), "outputs": outputs, "cycles": cycles}


def sampled_units(spec, units_per_layer):
    """Indices of the units synthesized for an mMAC layer: all, or ``units_per_layer`` spread evenly."""
    n = spec.n_units
    if units_per_layer is None or n <= units_per_layer:
        return list(range(n))
    return sorted({round(m * (n - 1) / (units_per_layer - 1)) for m in range(units_per_layer)})


def unit_samples(cores, units_per_layer, design):
    """The mMAC units left out of a Yosys run, ``(black boxes, {core module: (sampled units, boxed units)}, the
    method's words)``: ``units_per_layer`` of each core's units synthesized (``sampled_units``), each other one to
    be counted as its core's mean sampled unit (``tools.mean_stand_ins``)."""
    boxes, groups, n_sampled, n_units = [], {}, 0, 0
    for core in cores:
        kept = sampled_units(core, units_per_layer)
        names = [f"{module_name(core)}_u{u}" for u in range(core.n_units)]
        boxed = [name for u, name in enumerate(names) if u not in kept]
        groups[module_name(core)] = ([names[u] for u in kept], boxed)
        boxes += boxed
        n_sampled, n_units = n_sampled + len(kept), n_units + core.n_units
    if not boxes:
        return boxes, groups, f"{design}, every unit synthesized"
    return (
        boxes,
        groups,
        (
            f"{design}; {n_sampled} of {n_units} mMAC units synthesized, each other unit counted as its layer's mean "
            "sampled unit"
        ),
    )


def synthesize(specs, out_dir, units_per_layer=4, progress=None, depth=True):
    """Size the chain with Yosys: ``{"tool", "method", "seconds", "total", "layers": {name: {...}}, "depth"}``,
    ``depth`` the longest combinational path (``tools.read_depth``).

    One Yosys run over the whole design (``tools.SYNTH_OPTIONS``, the plain baseline's too), each layer and each
    mMAC unit a module of its own. Units differ only in their ROM contents: with ``units_per_layer`` set, that
    many units of each layer (spread evenly) are synthesized and every other unit counts as the mean of its
    layer's sampled units; ``None`` synthesizes every unit.
    """
    out_dir = Path(out_dir)
    verilog = write_verilog(specs, out_dir / "yosys")  # the ROM files beside it, where Yosys runs
    tool = f"{yosys_version()} synth_xilinx xc7 {SYNTH_OPTIONS}"
    boxes, groups, method = unit_samples([s for s in specs if s.kind == "mmac_dense"], units_per_layer, "whole design")
    start = time.monotonic()
    stat, path = synthesize_sources([verilog], TOP, out_dir / "yosys", SYNTH_OPTIONS, boxes, depth)
    seconds = time.monotonic() - start
    cells = hierarchy_cells(stat, TOP, mean_stand_ins(stat, groups))
    if progress:
        progress(f"rtl: Yosys synthesized the design in {seconds:.0f} s ({method})")
    return {
        "tool": tool,
        "method": method,
        "seconds": round(seconds, 1),
        "total": rounded_resources(cells[TOP]),
        "layers": {spec.name: rounded_resources(cells[module_name(spec)]) for spec in specs},
        "depth": path,
    }
