"""Conversion-only checks of the streaming CNN (no g++): the io_parallel size limit, the FIFO depths written into
the project, and what the estimate counts for an io_stream CNN (docs/mmac_core.md, docs/estimates.md)."""

import re

import pytest
from model_builders import stream_cnn

from mrfpga.cli.run_config import QuantizationConfig
from mrfpga.hls.cost.estimate import estimate, layer_cycles, layer_interval, layer_resources
from mrfpga.hls.cost.folding import FIT_MARGIN
from mrfpga.hls.layers.mmac import IO_PARALLEL_CONV_MAX_VALUES
from mrfpga.hls.project.boards import load_board
from mrfpga.hls.project.convert import convert
from mrfpga.training.errors import ConversionError
from mrfpga.training.models import build_cnn


@pytest.fixture(scope="module")
def cifar_shaped_cnn():
    """The issue's CNN: 32x32x3, 3x3 same convolutions of 16 and 32 filters, switchable BN, 2x2 pooling."""
    return build_cnn((32, 32, 3), 10, [16, 32], QuantizationConfig())


@pytest.fixture(scope="module")
def streamed(cifar_shaped_cnn, tmp_path_factory):
    out = tmp_path_factory.mktemp("stream")
    hls_model = convert(cifar_shaped_cnn, out, io_type="io_stream")
    hls_model.write()
    return hls_model


def test_io_parallel_refuses_a_large_convolution_and_points_to_io_stream(cifar_shaped_cnn, tmp_path):
    with pytest.raises(ConversionError, match=r"layer conv_0: in io_parallel .*io_stream"):
        convert(cifar_shaped_cnn, tmp_path, io_type="io_parallel")


def test_the_digits_cnn_stays_io_parallel(tmp_path):
    model = build_cnn((8, 8, 1), 10, [8, 16], QuantizationConfig())
    hls_model = convert(model, tmp_path, io_type="io_parallel")
    conv = [n for n in hls_model.get_layers() if n.class_name == "MMACConv2D"]
    assert len(conv) == 2
    assert all(
        n.get_input_variable().size() + n.get_output_variable().size() <= IO_PARALLEL_CONV_MAX_VALUES for n in conv
    )


def test_fifos_hold_one_image_row(streamed):
    cpp = streamed.config.get_output_dir() + "/firmware/myproject.cpp"
    depths = {}
    with open(cpp) as f:
        for name, depth in re.findall(r"#pragma HLS STREAM variable=(\w+) depth=(\d+)", f.read()):
            depths[name] = int(depth)
    by_var = {n.get_output_variable().name: n for n in streamed.get_layers()}
    assert depths and set(depths) <= set(by_var)
    for name, depth in depths.items():
        shape = by_var[name].get_output_variable().shape
        assert depth == (max(2, shape[-2]) if len(shape) == 3 else 1), name
    assert depths.items() <= streamed.mrfpga_fifo_depths.items()


def test_stream_estimate_one_bn_multiplier_per_channel_and_the_slowest_layer_sets_the_interval(streamed):
    figures = estimate(streamed, 8, streamed.mrfpga_board)
    nodes = {n.name: n for n in streamed.get_layers()}
    assert figures["resources"]["DSP48E1"] == 16 + 32  # the BN channels; the mMAC multiplies nothing
    for r in range(8):
        assert figures["interval"][r] == max(layer_interval(n, r) for n in nodes.values())
        assert figures["cycles"][r] == sum(layer_cycles(n, r) for n in nodes.values())
    conv = nodes["conv_0"]
    assert layer_interval(conv, 7) < layer_cycles(conv, 7)  # the line buffer walk overlaps the core
    # The first window complete two padded rows and two columns into the 34x34 walk, then the core without a pause
    # (the walk keeps ahead of it), the last pixel's cycle counted.
    assert layer_cycles(conv, 7) == (2 * 34 + 2) + 1 + layer_interval(conv, 7) + 1
    assert figures["cycles"][0] < figures["cycles"][7] and figures["interval"][0] < figures["interval"][7]
    # The pack-by-pack layers: one stream word of logic (a pixel's channels), one word per cycle.
    assert layer_cycles(nodes["bn_0"], 0) == 32 * 32 + 3  # + its three register stages
    assert layer_resources(nodes["terms_0"])["LUT"] < 1000
    assert set(figures["layers"]) == set(nodes) - {"features", "resolution"}
    assert figures["resources"]["BRAM_18K"] < 280


@pytest.mark.slow
def test_stream_cnn_run_reports_layer_cycles_and_the_interval(tmp_path):
    """``mrfpga run`` of a meta CNN in io_stream: 0 mismatches, and report.json has each layer's estimated cycles
    and interval per resolution, the C-simulated count of each kit layer equal to its estimate, the design's
    interval (the slowest layer's), and the streaming twin's measurement."""
    from mrfpga.cli import pipeline
    from mrfpga.cli.run_config import from_dict

    config = from_dict(
        {
            "model": {"kind": "cnn", "filters": [2, 3]},
            "quantization": {"resolutions": [[2, 8], [3, 20]]},
            "training": {"epochs": 1},
            "hls": {"io_type": "io_stream", "csim_samples": 20},
        }
    )
    report = pipeline.run(config, tmp_path / "run", verbose=0)
    # No reuse factor set: reuse_factor auto folded each layer with weights, and report.json says how.
    folding = report["folding"]
    assert set(folding["layer_reuse"]) == {"conv_0", "conv_1", "logits"} and folding["source"].startswith("estimate")
    layers = report["layers"]
    for r, row in enumerate(report["resolutions"]):
        assert row["csim_mismatches"] == 0
        assert row["estimated_interval"] == max(layer["interval"][r] for layer in layers.values())
        counted = [layer for layer in layers.values() if "csim_cycles" in layer]
        assert {layer["class"] for layer in counted} >= {"DataTerm", "MMACConv2D", "SwitchableScaleShift"}
        assert all(layer["csim_cycles"][r] == layer["cycles"][r] for layer in counted)
        assert row["csim_cycles"]["max"] == sum(layer["cycles"][r] for layer in counted)
    rows = report["resolutions"]
    # The line buffer's walk (one input position a cycle) can set the interval at every resolution.
    assert rows[0]["estimated_interval"] <= rows[1]["estimated_interval"]
    assert report["resources"]["estimated"]["DSP48E1"] == 2 + 3  # one BN multiplier per channel
    # The whole streaming design's twin (hls.measure, on by default): in Verilator the C-simulated frames come out
    # as the exact reference at every resolution, every frame's cycles as the dataflow model of the C-sim-counted
    # layers, back to back a frame every slowest layer's interval; Yosys sizes it, a DSP48E1 per BN channel.
    for row in rows:
        assert row["rtl_mismatches"] == 0 and row["rtl_cycles_equal_model"], row
        assert row["rtl_cycles"]["interval"] == row["estimated_interval"] == row["hardware"]["cycles"]["interval"]
        assert row["hardware"]["lut_x_cycles"] == row["hardware"]["LUT"] * row["estimated_interval"]
    measured = report["measured_resources"]
    assert "whole streaming design" in measured["method"] and measured["total"]["DSP48E1"] == 2 + 3
    # The plain 8-bit baseline (hls.baseline, on by default): hls4ml's io_stream design of the same CNN, trained,
    # folded per resolution to at most our interval, sized by Yosys in the same flow; ours over it in LUT x interval.
    base = report["baseline"]
    assert base["scheme"] == "qkeras" and 0 < base["accuracy"] <= 1 and base["sized"]
    for row in rows:
        ours, plain = row["hardware"], row["baseline"]
        assert plain["cycles"]["interval"] <= ours["cycles"]["interval"] and plain["within_interval"], row["index"]
        assert plain["lut_x_cycles"] == plain["LUT"] * plain["cycles"]["interval"]
        assert plain["DSP48E1"] == 2 + 3 and plain["sources"]["LUT"].startswith("Yosys")
        assert row["vs_baseline"]["lut_x_cycles"] == round(ours["lut_x_cycles"] / plain["lut_x_cycles"], 4)


def test_the_issues_cnn_fits_the_pynq_z2_by_default(tmp_path):
    """examples/digits32_cnn_stream.yaml's setting (reuse_factor auto, the default) on the issue's CNN, its
    weights spread as the bench does: every estimated resource within the usable 80% of the pynq-z2, DSP48E1 at
    most one per BN channel, the layers balanced (none folded past the slowest layer's interval), cycles per frame
    never falling with the resolution (the weight-term unit's steps follow k, not a) and the top resolution taking
    half as long again as the lowest; the same folding converts for the other boards."""
    model = stream_cnn()
    hls_model = convert(model, tmp_path / "pynq", board="pynq-z2", io_type="io_stream", reuse_factor="auto")
    board, folding = hls_model.mrfpga_board, hls_model.mrfpga_folding
    figures = estimate(hls_model, 8, board)
    totals = figures["resources"]
    assert {k: totals[k] for k in folding.usable} == folding.resources
    assert all(totals[k] <= FIT_MARGIN * board.resources[k] for k in folding.usable), totals
    bn_channels = sum(n.get_attr("n_chan") for n in hls_model.get_layers() if n.class_name == "SwitchableScaleShift")
    assert totals["DSP48E1"] <= bn_channels == 48
    assert max(figures["interval"]) == folding.interval
    cycles = figures["cycles"]
    assert all(low <= high for low, high in zip(cycles, cycles[1:], strict=False)) and cycles[-1] / cycles[0] > 1.5
    layers = {name: {"ReuseFactor": reuse} for name, reuse in folding.layer_reuse.items()}
    for other in ("zedboard", "zc706", "vc707"):
        converted = convert(model, tmp_path / other, board=other, io_type="io_stream", layer_config=layers)
        assert converted.config.get_config_value("Part") == load_board(other).part
