"""End to end, as a user runs it: train, convert, C-simulate, report."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from processes import mrfpga_in_process
from sklearn.datasets import load_digits

from mrfpga.cli import pipeline
from mrfpga.cli.run_config import load_config
from mrfpga.hls.package_data import package_dir

pytestmark = pytest.mark.slow

MRFPGA = str(Path(sys.executable).parent / "mrfpga")


def mrfpga(*args):
    done = subprocess.run([MRFPGA, *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def check_report(report, samples):
    rows = report["resolutions"]
    for row in rows:
        assert row["samples"] == samples
        assert row["csim_mismatches"] == row["predict_mismatches"] == row["testbench_mismatches"] == 0, row
        assert row["gamma"] == row["a"] * row["k"]
        assert row["csim_accuracy"] == row["keras_accuracy"]
    by_gamma = sorted(rows, key=lambda r: r["gamma"])
    cycles = [r["estimated_cycles"] for r in by_gamma]
    assert cycles == sorted(cycles) and cycles[0] < cycles[-1]
    assert report["resources"]["estimated"]["DSP48E1"] == 0


@pytest.mark.longest
def test_user_npz_whose_width_is_not_a_multiple_of_the_group_size(tmp_path, capsys):
    x, y = load_digits(return_X_y=True)
    # 20 central pixels as uint8 images, as image sets are kept: data.scale auto takes them to x / 255 = digit / 17,
    # deliberately off the input grid.
    x = (x[:, 22:42] * 15).astype(np.uint8)
    np.savez(tmp_path / "pixels.npz", x_train=x[:1300], y_train=y[:1300], x_test=x[1300:], y_test=y[1300:])
    config = yaml.safe_load((package_dir("examples") / "digits_mlp.yaml").read_text())
    config["data"] = "pixels.npz"  # relative to the config file
    config["model"]["hidden"] = [16]
    config["quantization"]["resolutions"] = [[2, 8], [2, 12], [3, 14], [3, 20]]  # 4 of the 8: a shorter run
    config["training"]["epochs"] = 3
    config["hls"]["csim_samples"] = 60
    config["hls"]["board"] = "zc706"
    config["hls"]["baseline"] = False  # tests/cli/test_baseline_report.py runs the baseline
    (tmp_path / "user.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"

    mrfpga("train", tmp_path / "user.yaml", "--out", run)
    # The later stages in process: the console script's start is the first stage's.
    mrfpga_in_process(capsys, "convert", run)
    out, _ = mrfpga_in_process(capsys, "csim", run)
    assert "mismatch" in out

    report = json.loads((run / "report.json").read_text())
    check_report(report, 60)
    assert report["folding"] is None  # reuse_factor 4 as the example sets it, not auto
    scale = {"kind": "multiply", "factor": 1 / 255, "dtype": "uint8", "setting": "auto"}
    assert report["input"]["scale"] == json.loads((run / "input.json").read_text())["scale"] == scale
    for row in report["resolutions"]:
        assert row["test_samples"] == 497 and 0 < row["keras_test_accuracy"] <= 1
        throughput = row["throughput"]
        assert throughput["source"].startswith("C-sim count") and throughput["clock_mhz"] == 100.0
        assert throughput["frames_per_second"] == 1e9 / (10.0 * row["csim_cycles"]["max"])
    assert (report["board"], report["part"]) == ("zc706", "xc7z045ffg900-2")
    assert (run / "accuracy_cycles.png").stat().st_size > 10_000
    header = (run / "hls_project" / "firmware" / "myproject.h").read_text()
    # The run-time resolution port, a scalar every layer reads by value.
    assert re.search(r"\b\w+ resolution\b", header) and "resolution[" not in header
    top = (run / "hls_project" / "firmware" / "myproject.cpp").read_text()
    assert "#pragma HLS INTERFACE s_axilite port=resolution bundle=control" in top
    script = (run / "hls_project" / "vivado" / "build_bitstream.tcl").read_text()
    assert "xc7z045ffg900-2" in script and "myproject_prj/solution1/impl/ip" in script

    # Re-running a stage never silently replaces its outputs.
    _, err = mrfpga_in_process(capsys, "csim", run, status=2)
    assert "--force" in err

    # The Verilog twin of this run (the demo measures its own; its test is in make test-all): the same outputs
    # as the C simulation at every resolution, cycle for cycle, and a Yosys-measured size that fits the board.
    simulated = sorted(p.relative_to(run) for p in (run / "hls_project").rglob("*"))
    out, _ = mrfpga_in_process(capsys, "hw", run)
    assert sorted(p.relative_to(run) for p in (run / "hls_project").rglob("*")) == simulated  # left as it was
    report = json.loads((run / "report.json").read_text())
    for row in report["resolutions"]:
        assert row["rtl_mismatches"] == 0 and row["rtl_cycles_equal_csim"], row
    measured = report["measured_resources"]
    assert measured["tool"].startswith("Yosys") and "synth_xilinx" in measured["tool"] and "Yosys" in out
    assert 0 < measured["total"]["LUT"] <= 218600 and measured["total"]["DSP48E1"] == 0


@pytest.mark.extended  # the demo itself (make demo) prints the same figures; CI measures the twin above
def test_demo_job_meets_its_promises(tmp_path):
    """The embedded default: >= 90% at the highest resolution, 0 mismatches everywhere (predict, testbench and
    the Verilog twin), the twin's cycles equal the C-simulation count sample by sample and fall with the weight
    terms k (the weight-term unit's steps do not depend on the data terms a; k 20 / k 8 >= 2), the
    Yosys-measured design takes at most half the pynq-z2 with no DSP48E1, and the estimate is within 25% of the
    measurement."""
    config = load_config(package_dir("examples") / "digits_mlp.yaml")
    report = pipeline.run(config, tmp_path / "demo", verbose=0)
    check_report(report, 450)
    rows = report["resolutions"]
    assert len(rows) == 8
    assert rows[-1]["keras_accuracy"] >= 0.90
    assert (report["board"], report["clock_period_ns"]) == ("pynq-z2", 10.0)
    assert report["mmac_unit"] == "weight_term"
    for row in rows:
        assert row["rtl_mismatches"] == 0 and row["rtl_cycles_equal_csim"], row
    cycles = [row["rtl_cycles"]["max"] for row in rows]  # the reference list never lowers k
    assert all(low <= high for low, high in zip(cycles, cycles[1:], strict=False)), cycles
    assert cycles[-1] / cycles[0] >= 2
    measured = report["measured_resources"]
    assert measured["tool"].startswith("Yosys") and "synth_xilinx" in measured["tool"]
    assert measured["total"]["LUT"] <= 26600 and measured["total"]["DSP48E1"] == 0
    estimated = report["resources"]["estimated"]["LUT"]
    assert abs(estimated - measured["total"]["LUT"]) <= 0.25 * measured["total"]["LUT"]


@pytest.mark.longest
@pytest.mark.parametrize(
    "scheme, extra",
    [
        # make test-all: every scheme's CLI run, each covered in kind elsewhere. The onion and row-wise runs:
        # tests/test_methods.py trains them from a config, test_csim_onion.py and test_csim_rowwise.py convert
        # them; the plain QKeras runs: test_csim_mmac_conv.py's TestQKerasCnn* convert the CNN through the
        # CLI's convert.
        pytest.param("onion", {"training": {"method": "onion"}}, marks=pytest.mark.extended),
        pytest.param("rowwise", {"training": {"method": "rowwise", "reassign_every": 2, "hessian_iterations": 3}},
                     marks=pytest.mark.extended),
        pytest.param("qkeras", {"training": {"method": "qkeras"}}, marks=pytest.mark.extended),
        pytest.param("qkeras", {"training": {"method": "qkeras"}, "quantization": {"qkeras_kernel": "quantized_po2"}},
                     marks=pytest.mark.extended),
        pytest.param("qkeras", {"training": {"method": "qkeras"}, "model": {"kind": "cnn", "filters": [4, 6]}},
                     marks=pytest.mark.extended),
        pytest.param("qkeras", {"training": {"method": "qkeras"}, "model": {"kind": "cnn", "filters": [4, 6]},
                                "hls": {"io_type": "io_stream"}}, marks=pytest.mark.extended),
    ],
    ids=["onion", "rowwise", "qkeras_bits", "qkeras_po2", "qkeras_cnn", "qkeras_cnn_io_stream"],
)  # fmt: skip
def test_every_scheme_runs_through_the_cli_bit_exactly(tmp_path, scheme, extra):
    """The same CLI for the other schemes: onion (one row per precision), row-wise and the plain QKeras baseline."""
    config = yaml.safe_load((package_dir("examples") / "digits_mlp.yaml").read_text())
    config["model"]["hidden"] = [16]
    config["quantization"]["resolutions"] = [[2, 8], [2, 12], [3, 14], [3, 20]]  # 4 of the 8: a shorter run
    config["training"]["epochs"] = 3
    config["hls"]["csim_samples"] = 100
    config["hls"]["measure"] = False  # the user-npz test measures the twin; this one is about the schemes
    config["quantization"]["scheme"] = scheme
    for section, values in extra.items():
        config[section].update(values)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    out = mrfpga("run", tmp_path / "c.yaml", "--out", tmp_path / "run")
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    rows = report["resolutions"]
    assert report["scheme"] == scheme and len(rows) == (4 if scheme == "onion" else 1)
    for row in rows:
        assert row["csim_mismatches"] == row["predict_mismatches"] == row["testbench_mismatches"] == 0, row
        assert row["samples"] == 100 and row["label"] in out
    if scheme == "onion":
        assert "No hardware measurement (hls.measure: false)" in out and "rtl_cycles" not in rows[0]
        assert [r["precision"] for r in rows] == [2, 4, 6, 8]  # the default precisions
        cycles = [r["estimated_cycles"] for r in rows]
        assert cycles == sorted(cycles) and cycles[0] < cycles[-1]  # fewer bits, fewer terms to walk
    elif scheme == "rowwise":
        top = (tmp_path / "run" / "hls_project" / "firmware" / "myproject.cpp").read_text()
        assert "nnet::rowwise_dense<" in top
    else:
        top = (tmp_path / "run" / "hls_project" / "firmware" / "myproject.cpp").read_text()
        assert "nnet::dense<" in top and "nnet::mmac" not in top  # hls4ml's own layers
        if config["model"].get("kind") == "cnn":  # hls4ml's convolution, the kit's one-resolution BN after it
            assert "nnet::conv_2d_cl<" in top and "nnet::switchable_scale_shift<" in top
