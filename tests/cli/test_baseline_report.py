"""The plain baseline in report.json (cli/pipeline.py ``add_baseline``): a tiny run, end to end (train,
convert, C-simulate, the Verilog twin in Verilator and Yosys, then the 8-bit plain QKeras baseline trained and
sized), whose report gives per resolution the design's figures and the baseline's, each with its source, at
the reuse factor whose cycles are the closest; ``mrfpga report`` prints them."""

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_digits

from mrfpga.cli import pipeline
from mrfpga.cli.main import main
from mrfpga.cli.run_config import from_dict
from mrfpga.hls.package_data import package_dir
from mrfpga.hls.twin import plain
from mrfpga.training.errors import ConfigError

FIGURES = ("accuracy", "cycles", "LUT", "FF", "CARRY4", "BRAM_18K", "DSP48E1", "lut_x_cycles", "depth")


def tiny_config(tmp_path, **hls):
    """8 central pixels of the digits, one hidden layer of 4, two resolutions, 10 samples C-simulated."""
    x, y = load_digits(return_X_y=True)
    x = x[:, 26:34] / 16.0
    np.savez(tmp_path / "pixels.npz", x_train=x[:1300], y_train=y[:1300], x_test=x[1300:], y_test=y[1300:])
    raw = yaml.safe_load((package_dir("examples") / "digits_mlp.yaml").read_text())
    raw["data"] = str(tmp_path / "pixels.npz")
    raw["model"]["hidden"] = [4]
    raw["quantization"]["resolutions"] = [[2, 8], [3, 16]]
    raw["training"]["epochs"] = 2
    raw["hls"].update(csim_samples=10, reuse_factor=1, **hls)
    return from_dict(raw)


def test_the_baseline_key():
    raw = yaml.safe_load((package_dir("examples") / "digits_mlp.yaml").read_text())
    assert from_dict(raw).hls.baseline is True  # on by default
    raw["hls"]["baseline"] = False
    assert from_dict(raw).hls.baseline is False
    raw["hls"]["baseline"] = "no"
    with pytest.raises(ConfigError, match="hls.baseline"):
        from_dict(raw)


def test_baseline_config_keeps_a_fraction_bit():
    config = from_dict(yaml.safe_load((package_dir("examples") / "digits_mlp.yaml").read_text()))
    for bits, integer in ((3, 2), (4, 3), (8, 3)):
        q = pipeline.baseline_config(config, bits).quantization
        assert (q.scheme, q.weight_bits, q.activation_bits, q.activation_integer) == ("qkeras", bits, bits, integer)
        assert (q.bias_bits, q.bias_integer) == (config.quantization.bias_bits, config.quantization.bias_integer)


@pytest.mark.slow
def test_report_gives_each_resolution_the_baseline_at_the_closest_cycles(tmp_path, capsys):
    config = tiny_config(tmp_path)
    run = tmp_path / "run"
    report = pipeline.run(config, run, verbose=0)
    out = capsys.readouterr().out
    assert "the 8-bit plain baseline at the closest cycles" in out

    base = report["baseline"]
    assert (base["width"], base["scheme"], base["samples"]) == (8, "qkeras", 10)
    assert "Keras" in base["source"] and "trained in this run" in base["source"] and "valid" in base["matching"]
    # The baseline model, saved by the run: its Keras accuracy on the run's test samples is the one reported.
    model = pipeline.load_model(run / "rtl" / "baseline")
    baseline_config = pipeline.baseline_config(config)
    x, y = pipeline._test_inputs(baseline_config, run, model)
    assert base["accuracy"] == pipeline.keras_accuracy(model, x, y)
    # Every (valid) model-wide reuse factor's cycles, from the fold of the converted model.
    folded = pipeline.plain_chain(baseline_config, model, tmp_path / "prj")
    largest = max(s.n_products for s in folded if isinstance(s, plain.PlainDense))
    cycles_at = {r: plain.total_cycles(plain.with_reuse(folded, r, hls4ml_valid=True)) for r in range(1, largest + 1)}

    for row in report["resolutions"]:
        ours, theirs = row["hardware"], row["baseline"]
        for figures in (ours, theirs):
            assert set(FIGURES) <= set(figures) and set(FIGURES) <= set(figures["sources"])
            assert all(figures["sources"][key] for key in FIGURES)
            assert figures["cycles"]["latency"] == figures["cycles"]["interval"]  # io_parallel: one input at a time
            assert figures["lut_x_cycles"] == figures["LUT"] * figures["cycles"]["latency"]
            assert figures["depth"]["logic_levels"] >= figures["depth"]["lut_levels"] >= 1
            assert "Yosys" in figures["sources"]["LUT"] and "Yosys" in figures["sources"]["BRAM_18K"]
            assert figures["DSP48E1"] == 0 and figures["LUT"] > 0
        assert ours["accuracy"] == row["keras_accuracy"] and "Keras" in ours["sources"]["accuracy"]
        assert ours["cycles"]["latency"] == row["rtl_cycles"]["max"] and "Verilator" in ours["sources"]["cycles"]
        assert theirs["accuracy"] == base["accuracy"] and "golden model" in theirs["sources"]["cycles"]
        # The matched reuse factor's cycles are the closest any valid reuse factor gives.
        target, got = ours["cycles"]["latency"], theirs["cycles"]["latency"]
        assert got == cycles_at[theirs["reuse_factor"]]
        assert abs(got - target) == min(abs(c - target) for c in cycles_at.values())
        sized = base["sized"][str(theirs["reuse_factor"])]
        assert theirs["LUT"] == sized["total"]["LUT"] and sized["cycles"] == got
        assert row["vs_baseline"]["lut_x_cycles"] == round(ours["lut_x_cycles"] / theirs["lut_x_cycles"], 4)

    # 'mrfpga report' prints them before the vendor reports (none here: C synthesis never ran).
    assert main(["report", str(run)]) == 2
    out = capsys.readouterr().out
    assert "the 8-bit plain baseline at the closest cycles" in out and "baseline cycles: the plain twin's" in out
