"""Synthesis reports: parsed as the vendor wrote them, set beside the estimates, and clear errors otherwise.

The samples under tests/data/reports/ are hls4ml projects after synthesis, laid out and formatted as
Vivado HLS 2020.1 (with hls4ml's vivado_synth.rpt from Vivado 2020.1) and Vitis HLS 2023.2 write them.
"""

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mrfpga.hls.project.boards import load_board
from mrfpga.hls.vendor.reports import (
    ReportError,
    compare,
    describe,
    estimates_from_report_json,
    format_comparison,
    read_hls_reports,
)

DATA = Path(__file__).parents[1] / "data" / "reports"
VIVADO = DATA / "vivado_hls_2020.1"
VITIS = DATA / "vitis_hls_2023.2"
XML = Path("myproject_prj/solution1/syn/report/myproject_csynth.xml")

# report.json["resources"]["estimated"] and the per-resolution estimated_cycles of a digits run.
ESTIMATES = {
    "LUT": 17012,
    "FF": 6104,
    "BRAM_18K": 0,
    "DSP48E1": 0,
    "estimated_cycles": [74, 90, 106, 122, 170, 194, 218, 242],
    "clock_period_ns": 10.0,
}


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _csynth_fields(path):
    """The numbers, read straight from the XML the way a reader of the file would."""
    root = ET.parse(path).getroot()
    lat = root.find("PerformanceEstimates/SummaryOfOverallLatency")
    res = root.find("AreaEstimates/Resources")
    dsp = res.findtext("DSP48E") or res.findtext("DSP")
    return {
        "best_latency": int(lat.findtext("Best-caseLatency")),
        "worst_latency": int(lat.findtext("Worst-caseLatency")),
        "interval_min": int(lat.findtext("Interval-min")),
        "interval_max": int(lat.findtext("Interval-max")),
        "target_clock_ns": float(root.findtext("UserAssignments/TargetClockPeriod")),
        "estimated_clock_ns": float(root.findtext("PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")),
        "csynth": {"LUT": int(res.findtext("LUT")), "FF": int(res.findtext("FF")),
                   "BRAM_18K": int(res.findtext("BRAM_18K")), "DSP48E": int(dsp)},
    }  # fmt: skip


@pytest.mark.parametrize("project", [VIVADO, VITIS], ids=["vivado_hls_2020.1", "vitis_hls_2023.2"])
def test_parsed_numbers_are_the_files(project, capsys):
    r = read_hls_reports(project)
    want = _csynth_fields(project / XML)
    assert {k: r[k] for k in want if k != "csynth"} == {k: v for k, v in want.items() if k != "csynth"}
    assert r["resources"]["csynth"] == want["csynth"]
    assert r["csynth_report"] == str(project / XML)
    assert (r["top"], r["solution"]) == ("myproject", "solution1")
    assert capsys.readouterr().out == ""  # hls4ml's "... report not found." lines are kept quiet


def test_an_io_stream_project_reports_its_axis_wrapper_top(tmp_path):
    """The wrapper is the IP: its report, not the hls4ml top's inside it, holds the whole design."""
    project = _copy(VIVADO, tmp_path / "p")
    wrapper_xml = project / XML.with_name("myproject_axis_csynth.xml")
    text = (project / XML).read_text()
    wrapper_xml.write_text(text.replace("<Best-caseLatency>", "<Best-caseLatency>1", 1))
    r = read_hls_reports(project)
    assert (r["top"], r["csynth_report"]) == ("myproject_axis", str(wrapper_xml))
    assert (
        r["best_latency"]
        == _csynth_fields(wrapper_xml)["best_latency"]
        != _csynth_fields(project / XML)["best_latency"]
    )


def test_vivado_hls_2020_numbers():
    # Literal values: the test fails if the parser picks the wrong element, not only if it disagrees with ET.
    r = read_hls_reports(VIVADO)
    assert (r["best_latency"], r["worst_latency"], r["interval_min"], r["interval_max"]) == (9, 419, 10, 420)
    assert (r["target_clock_ns"], r["estimated_clock_ns"], r["clock_uncertainty_ns"]) == (10.0, 8.621, 1.25)
    assert r["resources"]["csynth"] == {"LUT": 18342, "FF": 5873, "BRAM_18K": 4, "DSP48E": 0}
    assert r["resources"]["available"] == {"LUT": 53200, "FF": 106400, "BRAM_18K": 280, "DSP48E": 220}
    assert (r["tool_version"], r["part"]) == ("2020.1", "xc7z020-clg400-1")


def test_vivado_post_synthesis_utilization():
    r = read_hls_reports(VIVADO)
    assert r["vivado_synth_report"] == str(VIVADO / "vivado_synth.rpt")
    # Slice LUTs, Slice Registers, DSPs; 1.5 Block RAM Tiles (36 Kib) = 3 BRAM_18K.
    assert r["resources"]["vivado_synth"] == {"LUT": 15873, "FF": 5412, "BRAM_18K": 3, "DSP48E": 0, "BRAM_tiles": 1.5}


def test_vitis_2023_numbers_are_the_top_level_ones():
    # The Vitis report also lists every module under <ModuleInformation>: the top-level summary wins.
    r = read_hls_reports(VITIS)
    assert (r["best_latency"], r["worst_latency"], r["interval_min"], r["interval_max"]) == (14, 1285, 15, 1286)
    assert (r["target_clock_ns"], r["estimated_clock_ns"]) == (5.0, 4.107)
    assert r["resources"]["csynth"] == {"LUT": 31877, "FF": 9214, "BRAM_18K": 24, "DSP48E": 2}  # <DSP> in Vitis
    assert r["resources"]["vivado_synth"] is None and r["vivado_synth_report"] is None
    assert r["tool_version"] == "2023.2"


def test_run_directory_is_accepted(tmp_path):
    _copy(VIVADO, tmp_path / "run" / "hls_project")
    r = read_hls_reports(tmp_path / "run")
    assert r["project_dir"] == str(tmp_path / "run" / "hls_project") and r["worst_latency"] == 419


def test_compare_lines_up_estimates_and_board_totals():
    board = load_board("pynq-z2")
    rows = {r["item"]: r for r in compare(read_hls_reports(VIVADO), ESTIMATES, board)}
    for key, theirs in (("LUT", "LUT"), ("FF", "FF"), ("BRAM_18K", "BRAM_18K"), ("DSP48E", "DSP48E1")):
        assert rows[key]["estimate"] == ESTIMATES[theirs]
        assert rows[key]["board"] == board.resources[theirs]
    lut = rows["LUT"]
    assert (lut["csynth"], lut["vivado_synth"]) == (18342, 15873)
    assert lut["ratio"] == pytest.approx(15873 / 17012)  # measured = Vivado post-synthesis when present
    assert lut["utilization"] == pytest.approx(15873 / 53200)
    assert rows["BRAM_18K"]["utilization"] == pytest.approx(3 / 280) and rows["BRAM_18K"]["ratio"] is None
    best, worst = rows["latency, best case"], rows["latency, worst case"]
    assert (best["estimate"], best["csynth"], worst["estimate"], worst["csynth"]) == (74, 9, 242, 419)
    assert worst["ratio"] == pytest.approx(419 / 242)
    assert [rows[f"  at resolution {r}"]["estimate"] for r in range(8)] == ESTIMATES["estimated_cycles"]
    clock = rows["clock, target"]
    assert (clock["estimate"], clock["csynth"], clock["board"], clock["utilization"]) == (10.0, 10.0, 10.0, None)
    assert rows["interval, max"]["csynth"] == 420


def test_compare_without_vivado_synthesis_measures_csynth():
    rows = {r["item"]: r for r in compare(read_hls_reports(VITIS), ESTIMATES, load_board("zc706"))}
    assert rows["LUT"]["vivado_synth"] is None
    assert rows["LUT"]["utilization"] == pytest.approx(31877 / 218600)
    assert (rows["DSP48E"]["csynth"], rows["DSP48E"]["board"]) == (2, 900)


def test_format_comparison_columns_line_up():
    text = format_comparison(compare(read_hls_reports(VIVADO), ESTIMATES, load_board("pynq-z2")))
    lines = text.splitlines()
    head = lines[0]
    lut = next(line for line in lines if line.startswith("LUT "))
    assert lut.split() == ["LUT", "17012", "18342", "15873", "53200", "0.93x", "29.8%"]
    # Right-aligned columns: every value ends where its heading ends.
    for label, value in zip(
        ["kit estimate", "C synthesis", "Vivado synth", "board", "measured/est", "used/board"],
        lut.split()[1:],
        strict=True,
    ):
        assert lut.index(value) + len(value) == head.index(label) + len(label), label
    assert any(line.split()[:3] == ["latency,", "worst", "case"] and line.split()[4:6] == ["242", "419"]
               for line in lines)  # fmt: skip


def test_format_comparison_leaves_out_an_empty_column():
    text = format_comparison(compare(read_hls_reports(VITIS), ESTIMATES, load_board("zc706")))
    assert "Vivado synth" not in text.splitlines()[0] and "C synthesis" in text.splitlines()[0]
    assert describe(read_hls_reports(VITIS)).endswith("(HLS 2023.2, part xc7z045-ffg900-2)")


def test_compare_without_estimates_or_board():
    rows = compare(read_hls_reports(VITIS))
    assert {r["item"] for r in rows if r["csynth"] is not None} >= {"LUT", "latency, worst case"}
    assert all(r["estimate"] is None and r["board"] is None for r in rows)
    assert "kit estimate" not in format_comparison(rows).splitlines()[0]


def test_estimates_from_report_json():
    report = {
        "clock_period_ns": 10.0,
        "resolutions": [{"index": 1, "estimated_cycles": 90}, {"index": 0, "estimated_cycles": 74}],
        "resources": {"estimated": {"LUT": 1, "FF": 2, "BRAM_18K": 3, "DSP48E1": 0}, "board": {}},
    }
    assert estimates_from_report_json(report) == {
        "LUT": 1, "FF": 2, "BRAM_18K": 3, "DSP48E1": 0, "estimated_cycles": [74, 90], "clock_period_ns": 10.0
    }  # fmt: skip


def test_missing_report_names_the_path_and_the_command(tmp_path):
    project = tmp_path / "run" / "hls_project"
    project.mkdir(parents=True)
    shutil.copy(VIVADO / "project.tcl", project)  # converted, never synthesized
    expected = project / XML
    with pytest.raises(FileNotFoundError) as err:
        read_hls_reports(tmp_path / "run")
    assert str(expected) in str(err.value) and f"run 'mrfpga synth {tmp_path / 'run'}' first" in str(err.value)


def test_missing_xml_in_a_synthesis_project(tmp_path):
    project = _copy(VITIS, tmp_path / "prj")
    (project / XML).unlink()  # e.g. csynth_design failed
    with pytest.raises(FileNotFoundError, match=f"{project / XML} does not exist.*mrfpga synth"):
        read_hls_reports(project)


def test_not_a_project(tmp_path):
    with pytest.raises(FileNotFoundError, match="no hls4ml project.*project.tcl.*mrfpga convert"):
        read_hls_reports(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_hls_reports(tmp_path / "nope")


def test_malformed_xml_names_the_file(tmp_path):
    project = _copy(VIVADO, tmp_path / "prj")
    xml = project / XML
    xml.write_text(xml.read_text()[:700])  # cut off mid-write
    with pytest.raises(ReportError, match=f"{xml} is not well-formed XML"):
        read_hls_reports(project)
    assert issubclass(ReportError, ValueError)  # the CLI reports ValueErrors as 'mrfpga report: error: ...'


def test_malformed_project_app_names_the_file(tmp_path):
    project = _copy(VITIS, tmp_path / "prj")
    app = project / "myproject_prj" / "hls.app"
    app.write_text("<project><solutions>")
    with pytest.raises(ReportError, match=f"{app} is not well-formed XML"):
        read_hls_reports(project)


@pytest.mark.parametrize(
    "old, new, match",
    [
        ("<PerformanceEstimates>", "<Performance>", "is not a C-synthesis report: it has no <PerformanceEstimates>"),
        ("<Best-caseLatency>9</Best-caseLatency>", "", "lacks an element hls4ml's parser expects"),
        ("<LUT>18342</LUT>", "<LUT>lots</LUT>", "LUT is 'lots', not a number"),
        ("<FF>5873</FF>", "", "has no <FF>"),
    ],
)
def test_well_formed_but_wrong_xml_names_the_file(tmp_path, old, new, match):
    project = _copy(VIVADO, tmp_path / "prj")
    xml = project / XML
    text = xml.read_text()
    assert old in text
    xml.write_text(text.replace(old, new).replace(old.replace("<", "</"), new.replace("<", "</")))
    with pytest.raises(ReportError, match=str(xml)) as err:
        read_hls_reports(project)
    assert match in str(err.value)


def test_undefined_latency_is_none(tmp_path):
    # What HLS writes when a loop has a variable bound and no LOOP_TRIPCOUNT.
    project = _copy(VIVADO, tmp_path / "prj")
    xml = project / XML
    xml.write_text(xml.read_text().replace("<Worst-caseLatency>419<", "<Worst-caseLatency>undef<"))
    r = read_hls_reports(project)
    assert r["worst_latency"] is None and r["best_latency"] == 9
    assert compare(r, ESTIMATES)[1]["ratio"] is None


def test_unreadable_vivado_synth_report_names_the_file(tmp_path):
    project = _copy(VIVADO, tmp_path / "prj")
    (project / "vivado_synth.rpt").write_text("ERROR: [Synth 8-439] module 'myproject' not found\n")
    with pytest.raises(ReportError, match=f"{project / 'vivado_synth.rpt'} has no .*utilization table"):
        read_hls_reports(project)
