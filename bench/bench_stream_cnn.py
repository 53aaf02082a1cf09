"""Estimate of a streaming CNN on a pynq-z2, the shape of examples/digits32_cnn_stream.yaml: does it fit the board.

The model (``mrfpga.training.models.build_cnn``): a 32x32x3 input, 3x3 same-padded term-quantized convolutions of
16 and 32 filters, each followed by a switchable BN, a data-term ReLU and 2x2 max pooling; Flatten; a term Dense
of 10 outputs. Untrained weights, spread with a normal distribution as the tests do (the estimate depends on the
term tables). Converted io_stream for the pynq-z2 at a few reuse factors; printed, per layer and in total: the
ESTIMATED LUT / FF / BRAM_18K / DSP48E1 (``mrfpga.hls.cost.estimate``, docs/estimates.md; no synthesis here) against
the board's totals, and the estimated cycles per frame and the interval at the lowest and highest resolution.

Run from the repository root (about a minute a reuse factor on a shared 2-core machine):

    .venv/bin/python bench/bench_stream_cnn.py [--reuse 1 4 8] [--dense-reuse 1]
"""

# ruff: noqa: E402 (TF's log level must be set before TensorFlow is imported)
import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import argparse
import contextlib
import io
import tempfile

import numpy as np

from mrfpga.cli.run_config import QuantizationConfig
from mrfpga.hls.cost.estimate import estimate, layer_resources
from mrfpga.hls.project.convert import convert
from mrfpga.training.models import build_cnn
from mrfpga.training.resolution import n_resolutions
from mrfpga.training.switchable_bn import SwitchableBatchNormalization

KEYS = ("LUT", "FF", "BRAM_18K", "DSP48E1")


def spread_switchable_bn(layer, rng):
    """Different, spread statistics and affine parameters per resolution (untrained BNs are the identity)."""
    for norm in layer.norms:
        n = norm.gamma.shape[0]
        norm.set_weights(
            [rng.uniform(0.5, 1.5, n), rng.uniform(-1, 1, n), rng.uniform(-2, 2, n), rng.uniform(0.5, 4, n)]
        )


def issue_cnn(seed=0):
    model = build_cnn((32, 32, 3), 10, [16, 32], QuantizationConfig(), seed=seed)
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if isinstance(layer, SwitchableBatchNormalization):
            spread_switchable_bn(layer, rng)
        elif layer.weights:
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def report(model, reuse, out_dir, dense_reuse=None):
    layer_config = None if dense_reuse is None else {"logits": {"ReuseFactor": dense_reuse}}
    with contextlib.redirect_stdout(io.StringIO()):
        hls_model = convert(
            model, out_dir, board="pynq-z2", io_type="io_stream", reuse_factor=reuse, layer_config=layer_config
        )
    board = hls_model.mrfpga_board
    n_res = n_resolutions(model)
    figures = estimate(hls_model, n_res, board)
    lo, hi = 0, n_res - 1
    dense = "" if dense_reuse is None else f", the Dense at {dense_reuse}"
    print(f"\n=== reuse_factor {reuse}{dense}: estimate (io_stream, pynq-z2) ===")
    print(
        f"{'layer':<14}{'class':<24}"
        + "".join(f"{k:>10}" for k in KEYS)
        + f"{'cycles r0':>12}{'cycles r' + str(hi):>12}"
    )
    for node in hls_model.get_layers():
        if node.name in hls_model.inputs:
            continue
        res = layer_resources(node)
        layer = figures["layers"][node.name]
        print(
            f"{node.name:<14}{node.class_name:<24}" + "".join(f"{res.get(k, 0):>10}" for k in KEYS)
            + f"{layer['cycles'][lo]:>12}{layer['cycles'][hi]:>12}"
        )  # fmt: skip
    total = figures["resources"]
    print(f"{'total (+FIFOs)':<38}" + "".join(f"{total[k]:>10}" for k in KEYS))
    print(f"{'pynq-z2':<38}" + "".join(f"{board.resources[k]:>10}" for k in KEYS))
    print(f"{'utilization':<38}" + "".join(f"{figures['utilization'][k]:>10.0%}" for k in KEYS))
    print(
        f"estimate cycles per frame (sum over layers): r{lo} {figures['cycles'][lo]}, r{hi} {figures['cycles'][hi]}; "
        f"interval: r{lo} {figures['interval'][lo]}, r{hi} {figures['interval'][hi]}"
    )
    n_bn_channels = sum(n.get_attr("n_chan") for n in hls_model.get_layers() if n.class_name == "SwitchableScaleShift")
    fits = all(total[k] <= board.resources[k] for k in KEYS) and total["DSP48E1"] <= n_bn_channels
    print(
        f"estimate fits the pynq-z2: {'yes' if fits else 'no'} "
        f"(DSP48E1 {total['DSP48E1']}, BN channels {n_bn_channels})"
    )
    return hls_model, figures


def measure_conv_cores(hls_model, out_dir):
    """Yosys on each convolution's per-pixel core (the mmac_dense its conv_pixels runs, the Verilog twin of
    ``core_spec()``, every unit synthesized) beside the cost model's figure for that core; the line buffers and
    FIFOs around it are counted from their sizes, not synthesized."""
    from mrfpga.hls.layers.unit_costs import mmac_dense_resources
    from mrfpga.hls.twin import measure, tools

    print(
        f"\n=== the convolutions' per-pixel cores: MEASURED by {tools.yosys_version()} synth_xilinx xc7 vs estimate ==="
    )
    print(
        f"{'layer':<14}{'units':>7}{'Yosys LUT':>11}{'est. LUT':>10}{'est./Yosys':>12}{'Yosys FF':>10}{'est. FF':>9}"
        f"{'Yosys BRAM':>12}{'est. BRAM':>11}"
    )
    for node in hls_model.get_layers():
        if node.class_name != "MMACConv2D":
            continue
        spec = node.core_spec()
        measured = measure.synthesize([spec], os.path.join(out_dir, node.name), units_per_layer=None, depth=False)
        core = measured["layers"][spec.name]
        estimated = mmac_dense_resources(spec)
        print(
            f"{node.name:<14}{spec.n_units:>7}{core['LUT']:>11}{estimated['LUT']:>10}"
            f"{estimated['LUT'] / core['LUT']:>12.2f}{core['FF']:>10}{estimated['FF']:>9}"
            f"{core['BRAM_18K']:>12}{estimated['BRAM_18K']:>11}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--dense-reuse", type=int, default=None, help="the Dense's own reuse factor")
    parser.add_argument("--yosys", action="store_true", help="also synthesize the conv cores (about a minute each)")
    args = parser.parse_args()
    model = issue_cnn()
    with tempfile.TemporaryDirectory() as tmp:
        for reuse in args.reuse:
            hls_model, _ = report(model, reuse, os.path.join(tmp, f"r{reuse}"), args.dense_reuse)
            if args.yosys:
                measure_conv_cores(hls_model, os.path.join(tmp, f"yosys{reuse}"))


if __name__ == "__main__":
    main()
