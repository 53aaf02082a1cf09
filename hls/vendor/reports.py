"""The vendor's numbers for a synthesized project, next to the kit's estimates and the board's totals.

After ``mrfpga synth`` (``vivado_hls`` or ``vitis-run``/``vitis_hls`` running hls4ml's ``build_prj.tcl``)
an hls4ml project holds

- ``<name>_prj/solution1/syn/report/<top>_csynth.xml``: the C-synthesis report (``<top>_axis`` when the
  io_stream project's AXI-Stream wrapper was the top; latency, interval,
  clock, resource estimate), the same layout for Vivado HLS and Vitis HLS;
- ``vivado_synth.rpt``, when ``build_prj.tcl`` ran with ``vsynth=1``: the ``report_utilization`` of
  hls4ml's ``vivado_synth.tcl`` (``synth_design`` + ``opt_design``, post-synthesis).

hls4ml's own parser, :func:`hls4ml.report.parse_vivado_report`, reads both (it finds the project name
and solution from ``project.tcl`` and ``<name>_prj/vivado_hls.app`` or ``hls.app``, like its
``read_vivado_report``). This module wraps it: it checks the files first so a missing or broken report
gets an error naming the file, silences its prints, turns its strings into numbers, and fixes
up what it leaves raw (Vitis' ``DSP`` and Vivado HLS' ``DSP48E`` are both ``DSP48E`` here; the
``Block RAM Tile`` count of ``vivado_synth.rpt``, in 36 Kib tiles, becomes 18 Kib blocks).
"""

import contextlib
import io
import xml.etree.ElementTree as ET
from pathlib import Path

from mrfpga.training.errors import MrfpgaError

# mrfpga.cli.pipeline.PROJECT: the HLS project's folder inside a run directory.
PROJECT_SUBDIR = "hls_project"
SOLUTION = "solution1"  # hls4ml's build_prj.tcl: open_solution "solution1"
RESOURCE_KEYS = ("LUT", "FF", "BRAM_18K", "DSP48E")
# Report key -> key of the kit's estimates and of Board.resources.
ESTIMATE_KEYS = {"LUT": "LUT", "FF": "FF", "BRAM_18K": "BRAM_18K", "DSP48E": "DSP48E1"}
# What Vivado/Vitis HLS write for a latency it cannot bound (variable trip count, no LOOP_TRIPCOUNT).
UNDEFINED = ("undef", "?", "-", "NA", "")


class ReportError(MrfpgaError, ValueError):
    """A report exists but cannot be read; the message names the file."""


def read_hls_reports(project_dir):
    """The synthesis results of an hls4ml project, or of the run directory that holds it in ``hls_project/``.

    Returns a dict: ``best_latency``, ``worst_latency``, ``interval_min``, ``interval_max`` (cycles,
    None where HLS reports ``undef``), ``target_clock_ns``, ``estimated_clock_ns``, ``clock_uncertainty_ns``,
    ``resources`` = {``csynth``: {LUT, FF, BRAM_18K, DSP48E}, ``available``: the part's totals as the
    C-synthesis report gives them, ``vivado_synth``: {LUT, FF, BRAM_18K, DSP48E, BRAM_tiles} or None},
    and where they came from: ``project_dir``, ``top``, ``solution``, ``tool_version``, ``part``,
    ``csynth_report``, ``vivado_synth_report`` (None when absent).

    Raises FileNotFoundError naming the expected report when the project was not synthesized, and
    ReportError (a ValueError) naming the file when a report is malformed.
    """
    from hls4ml.report import vivado_report

    project, hint = _locate_project(Path(project_dir))
    tcl = project / "project.tcl"
    try:
        # The same lookup parse_vivado_report makes, so the paths below are the ones it reads.
        prj_name, top = vivado_report._parse_project_script(str(project))
    except (IndexError, NameError) as err:  # no quoted name, or no 'set backend' line
        raise ReportError(f"{tcl}: cannot read 'set project_name' and 'set backend' from it ({err!r})") from err
    prj_dir = project / prj_name
    expected = prj_dir / SOLUTION / "syn" / "report" / f"{top}_csynth.xml"
    apps = [prj_dir / name for name in ("vivado_hls.app", "hls.app") if (prj_dir / name).is_file()]
    if not apps:
        raise FileNotFoundError(_missing(expected, hint, f"(and no {prj_dir / 'vivado_hls.app'} or hls.app)"))
    _parse_xml(apps[0])
    solutions = vivado_report._find_solutions(str(prj_dir))
    if not solutions:
        raise FileNotFoundError(_missing(expected, hint, f"({apps[0]} lists no solution folder)"))
    report_dir = prj_dir / solutions[0] / "syn" / "report"
    # An io_stream project's IP top is the kit's AXI-Stream wrapper around hls4ml's top: report the whole IP.
    top = next((t for t in (f"{top}_axis", top) if (report_dir / f"{t}_csynth.xml").is_file()), top)
    csynth = report_dir / f"{top}_csynth.xml"
    if not csynth.is_file():
        raise FileNotFoundError(_missing(csynth, hint))
    root = _parse_xml(csynth)
    for path in ("PerformanceEstimates", "AreaEstimates/Resources", "AreaEstimates/AvailableResources"):
        if root.find(path) is None:
            raise ReportError(f"{csynth} is not a C-synthesis report: it has no <{path.replace('/', '><')}>")

    with contextlib.redirect_stdout(io.StringIO()), _parsing_top(vivado_report, prj_name, top):
        try:
            raw = vivado_report.parse_vivado_report(str(project))
        except AttributeError as err:  # an element it expects is missing: .text of None
            raise ReportError(
                f"{csynth} lacks an element hls4ml's parser expects (UserAssignments/TargetClockPeriod, "
                "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod or "
                f"SummaryOfOverallLatency/Best-caseLatency, Worst-caseLatency, Interval-min, Interval-max): {err}"
            ) from err
        except (IndexError, KeyError, ValueError, StopIteration) as err:  # in a co-simulation or timing report
            raise ReportError(f"hls4ml's parse_vivado_report cannot read the reports in {project}: {err!r}") from err
    c = raw["CSynthesisReport"]
    vsynth_path = project / "vivado_synth.rpt"
    return {
        "project_dir": str(project),
        "top": top,
        "solution": solutions[0],
        "tool_version": root.findtext("ReportVersion/Version"),
        "part": root.findtext("UserAssignments/Part"),
        "csynth_report": str(csynth),
        "vivado_synth_report": str(vsynth_path) if "VivadoSynthReport" in raw else None,
        "best_latency": _cycles(c["BestLatency"], csynth, "Best-caseLatency"),
        "worst_latency": _cycles(c["WorstLatency"], csynth, "Worst-caseLatency"),
        "interval_min": _cycles(c["IntervalMin"], csynth, "Interval-min"),
        "interval_max": _cycles(c["IntervalMax"], csynth, "Interval-max"),
        "target_clock_ns": _number(c["TargetClockPeriod"], float, csynth, "TargetClockPeriod"),
        "estimated_clock_ns": _number(c["EstimatedClockPeriod"], float, csynth, "EstimatedClockPeriod"),
        "clock_uncertainty_ns": _optional_float(root.findtext("UserAssignments/ClockUncertainty")),
        "resources": {
            "csynth": _csynth_resources(c, "", csynth),
            "available": _csynth_resources(c, "Available", csynth),
            "vivado_synth": _vivado_synth(raw["VivadoSynthReport"], vsynth_path)
            if "VivadoSynthReport" in raw
            else None,
        },
    }


@contextlib.contextmanager
def _parsing_top(vivado_report, prj_name, top):
    """hls4ml's parser takes the top from project.tcl; make it read ``top``'s reports (the AXI-Stream
    wrapper's). It also prints a line for every report it does not find: the caller silences stdout."""
    original = vivado_report._parse_project_script
    vivado_report._parse_project_script = lambda path: (prj_name, top)
    try:
        yield
    finally:
        vivado_report._parse_project_script = original


def _locate_project(path):
    """The project folder (the one with hls4ml's project.tcl) and the run directory to name in hints."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if (path / "project.tcl").is_file():
        return path, path.parent if path.name == PROJECT_SUBDIR else path
    if (path / PROJECT_SUBDIR / "project.tcl").is_file():
        return path / PROJECT_SUBDIR, path
    raise FileNotFoundError(
        f"no hls4ml project in {path}: neither {path / 'project.tcl'} nor {path / PROJECT_SUBDIR / 'project.tcl'} "
        f"exists; run 'mrfpga convert {path}' and then 'mrfpga synth {path}' first"
    )


def _missing(expected, hint, detail=""):
    detail = f" {detail}" if detail else ""
    return (
        f"no C-synthesis report: {expected} does not exist{detail}; run 'mrfpga synth {hint}' first "
        "(it needs vivado_hls or vitis-run on PATH)"
    )


def _parse_xml(path):
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ReportError(
            f"{path} is not well-formed XML ({err}); was the synthesis interrupted? Rerun 'mrfpga synth'"
        ) from err


def _number(text, kind, path, what):
    try:
        return kind(text.strip())
    except (AttributeError, ValueError) as err:
        raise ReportError(f"{path}: {what} is {text!r}, not a number") from err


def _cycles(text, path, what):
    if text is None or text.strip() in UNDEFINED:
        return None
    return _number(text, int, path, what)


def _optional_float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _csynth_resources(c, prefix, path):
    # parse_vivado_report renames Vivado HLS' DSP48E to DSP, which is what Vitis HLS writes.
    keys = {"LUT": "LUT", "FF": "FF", "BRAM_18K": "BRAM_18K", "DSP48E": "DSP"}
    out = {}
    for ours, theirs in keys.items():
        if prefix + theirs not in c:
            raise ReportError(f"{path}: <AreaEstimates><{prefix or ''}Resources> has no <{theirs}>")
        out[ours] = _number(c[prefix + theirs], int, path, f"{prefix}{theirs}")
    return out


def _vivado_synth(v, path):
    """hls4ml's VivadoSynthReport: 'BRAM_18K' there is the 'Block RAM Tile' count, in 36 Kib tiles."""
    if not v:
        raise ReportError(f"{path} has no Slice Logic / Memory / DSP utilization table hls4ml's parser recognizes")
    out = {}
    for key in ("LUT", "FF", "DSP48E"):
        out[key] = _number(v[key], int, path, key) if key in v else None
    tiles = _number(v["BRAM_18K"], float, path, "Block RAM Tile") if "BRAM_18K" in v else None
    out["BRAM_18K"] = None if tiles is None else round(2 * tiles)  # a tile = one RAMB36 = two RAMB18
    out["BRAM_tiles"] = tiles
    return out


def estimates_from_report_json(report):
    """The ``estimates`` argument of :func:`compare` from a run's ``report.json`` (a loaded dict)."""
    return {
        **report["resources"]["estimated"],
        "estimated_cycles": [r["estimated_cycles"] for r in sorted(report["resolutions"], key=lambda r: r["index"])],
        "clock_period_ns": report.get("clock_period_ns"),
    }


def compare(reports, estimates=None, board=None):
    """Rows setting the synthesis results beside the kit's estimates and the board's totals.

    ``reports``: :func:`read_hls_reports`'s dict. ``estimates``: ``report.json["resources"]["estimated"]``
    (LUT, FF, BRAM_18K, DSP48E1) plus ``estimated_cycles`` (a list, one per resolution) and optionally
    ``clock_period_ns`` -- :func:`estimates_from_report_json` builds it. ``board``: a
    :class:`mrfpga.hls.project.boards.Board` (``.resources`` with LUT, FF, BRAM_18K, DSP48E1). Both may be None.

    Each row is a dict: ``item``, ``unit``, ``estimate``, ``csynth``, ``vivado_synth``, ``board``, and
    ``ratio`` = measured / estimate and ``utilization`` = measured / board, where measured is the Vivado
    post-synthesis figure when present, else the C-synthesis one.
    """
    estimates = estimates or {}
    cycles = list(estimates.get("estimated_cycles", estimates.get("cycles", [])) or [])
    board_res = getattr(board, "resources", None) or {}
    rows = []

    def row(item, unit, estimate=None, csynth=None, vivado=None, total=None, resource=False):
        measured = vivado if vivado is not None else csynth
        rows.append(
            {
                "item": item,
                "unit": unit,
                "estimate": estimate,
                "csynth": csynth,
                "vivado_synth": vivado,
                "board": total,
                "ratio": measured / estimate if measured is not None and estimate else None,
                "utilization": measured / total if resource and measured is not None and total else None,
            }
        )

    row("latency, best case", "cycles", min(cycles) if cycles else None, reports["best_latency"])
    row("latency, worst case", "cycles", max(cycles) if cycles else None, reports["worst_latency"])
    for r, n in enumerate(cycles):
        row(f"  at resolution {r}", "cycles", n)
    row("interval, min", "cycles", None, reports["interval_min"])
    row("interval, max", "cycles", None, reports["interval_max"])
    # The kit's clock (the configured one) and the board's default clock, beside the one HLS targeted.
    target = reports["target_clock_ns"]
    row("clock, target", "ns", estimates.get("clock_period_ns"), target, None, getattr(board, "clock_period_ns", None))
    row("clock, estimated", "ns", None, reports["estimated_clock_ns"])
    vivado = reports["resources"]["vivado_synth"] or {}
    for key in RESOURCE_KEYS:
        theirs = ESTIMATE_KEYS[key]
        row(
            key,
            "",
            estimates.get(theirs, estimates.get(key)),
            reports["resources"]["csynth"][key],
            vivado.get(key),
            board_res.get(theirs),
            resource=True,
        )
    return rows


COLUMNS = (
    ("item", "", "<"),
    ("estimate", "kit estimate", ">"),
    ("csynth", "C synthesis", ">"),
    ("vivado_synth", "Vivado synth", ">"),
    ("board", "board", ">"),
    ("ratio", "measured/est", ">"),
    ("utilization", "used/board", ">"),
)


def _cell(key, value, unit):
    if value is None:
        return "-"
    if key == "item":
        return f"{value} ({unit})" if unit else value
    if key == "ratio":
        return f"{value:.2f}x"
    if key == "utilization":
        return f"{100 * value:.1f}%"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3f}".rstrip("0")
    return str(int(value)) if isinstance(value, float) else str(value)


def format_comparison(rows):
    """A plain-text table of :func:`compare`'s rows; a column empty in every row is left out."""
    columns = [c for c in COLUMNS if c[0] == "item" or any(r[c[0]] is not None for r in rows)]
    cells = [[_cell(key, r[key], r["unit"]) for key, _, _ in columns] for r in rows]
    heads = [head for _, head, _ in columns]
    widths = [max(len(x) for x in col) for col in zip(heads, *cells, strict=True)]

    def line(values):
        return "  ".join(f"{v:{a}{w}}" for v, w, (_, _, a) in zip(values, widths, columns, strict=True)).rstrip()

    out = [line(heads), "  ".join("-" * w for w in widths)] + [line(c) for c in cells]
    out.append("measured = Vivado post-synthesis where present, else C synthesis.")
    out.append(
        "HLS best/worst latency follow the LOOP_TRIPCOUNT bounds of the term loops; the kit estimates per resolution."
    )
    return "\n".join(out)


def describe(reports):
    """One line naming the report and the tool: the heading for :func:`format_comparison`."""
    tool = f"HLS {reports['tool_version']}" if reports["tool_version"] else "HLS"
    extra = f", Vivado synthesis {reports['vivado_synth_report']}" if reports["vivado_synth_report"] else ""
    return f"{reports['csynth_report']} ({tool}, part {reports['part']}){extra}"
