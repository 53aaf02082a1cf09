"""Is the streaming CNN worth choosing? LUT x interval per resolution against the plain 8-bit design of the same
network, both measured in the same twin flow (issue "The streaming CNN measured whole").

OURS: the 32x32x3 CNN of bench_stream_cnn.py (term convolutions of 16 and 32 filters, switchable BN, data-term
ReLU, 2x2 max pooling, a term Dense of 10), converted io_stream for the pynq-z2 at ``reuse_factor: auto``. PLAIN:
the same architecture in plain QKeras (``scheme: qkeras``: 8-bit ``quantized_bits`` weights, ``quantized_relu(8)``
activations, the BN of one resolution), converted io_stream by hls4ml, as ``mrfpga.hls.twin.plain_stream`` builds
it: the same line buffers, windows, BN and pooling, folded multipliers (LUTs) per window, hls4ml's Dense. Both with
untrained weights spread as the tests spread them (the terms a trained model keeps change our intervals).

Per resolution of ours, the plain design is folded to match: each layer as slowly as our interval at that
resolution allows (``plain_stream.fold_for_interval``), so its interval is at most ours. Printed:

- INTERVAL: back to back, from the cycle-level dataflow model, which the twins equal in Verilator cycle for cycle
  (tests/twin/test_stream.py, test_plain_stream.py; ``--verify`` simulates both here too);
- YOSYS: each design whole (ours: a few units of each mMAC core synthesized, the others their mean; plain: every
  lane; the BN's multipliers on DSP48E1 on both sides, the plain lanes' multipliers in LUTs as HLS builds 8-bit
  products);
- LUT x interval, ours over plain's (below 1: ours is cheaper).

``--lanes conv_0=4,conv_1=3:2`` measures ours with those convolution cores instead of auto's: term slots a cycle
per unit (``lanes``, the layers' ``TermLanes``) and, after a colon, the reuse factor, refolded in the Verilog twin.

Run from the repository root (about 10 minutes: a Yosys run per distinct plain folding):

    .venv/bin/python bench/bench_stream_baseline.py [--units 4] [--verify] [--lanes conv_0=4,conv_1=3:2]
"""

# ruff: noqa: E402 (TF's log level must be set before TensorFlow is imported)
import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import argparse
import contextlib
import dataclasses
import io
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_stream_cnn import KEYS, issue_cnn, spread_switchable_bn

from mrfpga.cli.pipeline import baseline_config
from mrfpga.cli.run_config import from_dict
from mrfpga.hls.project.convert import convert
from mrfpga.hls.twin import plain_stream, stream
from mrfpga.hls.twin.spec import simulate_chain
from mrfpga.training.models import build_cnn


def plain_cnn(seed=0):
    """The issue's CNN in plain 8-bit QKeras, weights spread as ``issue_cnn``'s."""
    config = baseline_config(
        from_dict({"model": {"kind": "cnn", "filters": [16, 32]}, "hls": {"io_type": "io_stream"}})
    )
    model = build_cnn((32, 32, 3), 10, [16, 32], config.quantization, seed=seed)
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if layer.name.startswith("bn_"):
            spread_switchable_bn(layer, rng)
        elif layer.weights:
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def verify(layers, depths, out_dir, r, what):
    """Two frames back to back in Verilator: outputs against the golden model, cycles against the model."""
    first = layers[0].spec
    codes = np.random.default_rng(1).integers(-(1 << (first.in_width - 1)), 1 << (first.in_width - 1), (2, first.n_in))
    ((outputs, timing),) = stream.run_stream_twin(layers, depths, codes, [r], out_dir, True)
    equal = np.array_equal(outputs, simulate_chain([layer.spec for layer in layers], codes, r)[0])
    same = timing == stream.timing(layers, depths, r, 2, True)
    print(f"  VERILATOR {what}: outputs equal the golden model: {equal}; cycles equal the model: {same}")


def with_lanes(layers, option):
    """``layers`` with the convolution cores named in ``option`` (``conv_0=4,conv_1=3:2``) refolded."""
    folding = {}
    for item in option.split(","):
        name, value = item.split("=")
        lanes, _, reuse = value.partition(":")
        folding[name] = (int(lanes), int(reuse or 1))
    out = []
    for layer in layers:
        spec = layer.spec
        if spec.name in folding:
            lanes, reuse = folding.pop(spec.name)
            spec = dataclasses.replace(spec, core=spec.core.with_folding(reuse, lanes))
        out.append(stream.StreamLayer(spec, layer.words))
    if folding:
        raise SystemExit(f"--lanes: no convolution named {', '.join(folding)}")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=4, help="mMAC units synthesized per core (0: every one)")
    parser.add_argument("--verify", action="store_true", help="simulate both designs in Verilator too")
    parser.add_argument("--out", type=Path, default=None, help="keep the twins here (default: a temporary folder)")
    parser.add_argument(
        "--lanes", default="", help="convolution cores as layer=lanes[:reuse],... (refolded in the twin)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        with contextlib.redirect_stdout(io.StringIO()):
            ours_model = convert(issue_cnn(), out / "ours_prj", board="pynq-z2", io_type="io_stream",
                                 reuse_factor="auto")  # fmt: skip
            plain_model = convert(plain_cnn(), out / "plain_prj", board="pynq-z2", io_type="io_stream")
        ours, ours_depths = stream.stream_twin_layers(ours_model)
        plain, plain_depths = plain_stream.plain_stream_layers(plain_model)
        n_res = max(layer.spec.n_resolutions for layer in ours)
        print("ours: folding (reuse_factor auto):", ours_model.mrfpga_folding)
        if args.lanes:
            ours = with_lanes(ours, args.lanes)
            print("ours: the Verilog twin with", args.lanes)
        intervals = [stream.interval(ours, ours_depths, r) for r in range(n_res)]
        start = time.monotonic()
        ours_sized = stream.synthesize(ours, ours_depths, out / "ours", args.units or None)
        print(f"YOSYS ours ({ours_sized['method']}; {time.monotonic() - start:.0f} s): "
              + ", ".join(f"{k} {ours_sized['total'].get(k, 0):,}" for k in KEYS))  # fmt: skip
        if args.verify:
            verify(ours, ours_depths, out / "ours_twin", n_res - 1, "ours")
        matched = {}
        for target in sorted(set(intervals)):
            folded = plain_stream.fold_for_interval(plain, target)
            key = tuple(sorted(plain_stream.layer_reuse(folded).items()))
            if key not in matched:
                start = time.monotonic()
                sized = plain_stream.synthesize(folded, plain_depths, out / f"plain_{len(matched)}")
                matched[key] = (folded, stream.interval(folded, plain_depths), sized)
                print(f"YOSYS plain at {dict(key)} ({time.monotonic() - start:.0f} s): "
                      + ", ".join(f"{k} {sized['total'].get(k, 0):,}" for k in KEYS))  # fmt: skip
                if args.verify:
                    verify(folded, plain_depths, out / f"plain_twin_{len(matched)}", 0, f"plain at {dict(key)}")
        print("\nLUT x interval per resolution (intervals: the dataflow model, = Verilator; LUT: Yosys):")
        print(f"{'res':>4}{'interval':>10}{'LUT':>9}{'LUT x int':>15} | {'plain folding':<36}{'interval':>10}"
              f"{'LUT':>9}{'LUT x int':>15}{'ratio':>7}")  # fmt: skip
        ours_lut = ours_sized["total"]["LUT"]
        for r, target in enumerate(intervals):
            folded = plain_stream.fold_for_interval(plain, target)
            key = tuple(sorted(plain_stream.layer_reuse(folded).items()))
            _, plain_interval, sized = matched[key]
            lut = sized["total"]["LUT"]
            ratio = ours_lut * target / (lut * plain_interval)
            folding = ", ".join(f"{name} {reuse}" for name, reuse in key)
            print(f"{r:>4}{target:>10,}{ours_lut:>9,}{ours_lut * target:>15,} | {folding:<36}{plain_interval:>10,}"
                  f"{lut:>9,}{lut * plain_interval:>15,}{ratio:>7.2f}")  # fmt: skip
        (_, _, sized), *_ = matched.values()
        print("\nper layer, ours | plain (first folding):")
        for name in ours_sized["layers"]:
            a, b = ours_sized["layers"][name], sized["layers"].get(name, {})
            print(f"  {name:>12}: " + ", ".join(f"{k} {a.get(k, 0):,}" for k in KEYS) + " | "
                  + ", ".join(f"{k} {b.get(k, 0):,}" for k in KEYS))  # fmt: skip


if __name__ == "__main__":
    main()
