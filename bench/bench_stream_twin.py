"""The streaming CNN measured whole: its Verilog twin in Verilator and Yosys (issue "The streaming CNN measured
whole").

The model is the one bench/bench_stream_cnn.py estimates (32x32x3 input, 3x3 same-padded term convolutions of 16
and 32 filters, each with a switchable BN, a data-term ReLU and 2x2 max pooling; a term Dense of 10), untrained
weights spread as the tests spread them, converted io_stream for the pynq-z2 with ``reuse_factor: auto``. Printed:

- the folding chosen and the ESTIMATED resources (``mrfpga.hls.cost.estimate``);
- VERILATOR: frames of random input codes through the whole twin (every layer, the project's FIFOs) at the lowest
  and highest resolution: outputs against the golden model (equal or not), each frame's cycles and the interval
  back to back against the cycle-level dataflow model, and against the C-sim-counted layer figures;
- YOSYS: the whole design (``synth_xilinx``, BN multipliers as DSP48E1; a few units of each mMAC core
  synthesized, the others counted as their mean), per layer and in total, against the board.

Run from the repository root (several minutes: the Verilator build and the Yosys run of the whole design):

    .venv/bin/python bench/bench_stream_twin.py [--frames 2] [--units 4]
"""

# ruff: noqa: E402 (TF's log level must be set before TensorFlow is imported)
import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_stream_cnn import KEYS, issue_cnn

from mrfpga.hls.cost.estimate import estimate, layer_cycles, layer_interval
from mrfpga.hls.project.boards import load_board
from mrfpga.hls.project.convert import convert
from mrfpga.hls.twin import stream
from mrfpga.hls.twin.spec import simulate_chain


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2, help="frames simulated at each resolution")
    parser.add_argument("--units", type=int, default=4, help="mMAC units synthesized per core (0: every one)")
    parser.add_argument("--out", type=Path, default=None, help="keep the twin here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        model = issue_cnn()
        with contextlib.redirect_stdout(io.StringIO()):
            hls_model = convert(model, out / "prj", board="pynq-z2", io_type="io_stream", reuse_factor="auto")
        n_res = max(layer.spec.n_resolutions for layer in stream.stream_twin_layers(hls_model)[0])
        figures = estimate(hls_model, n_res, load_board("pynq-z2"))
        layers, depths = stream.stream_twin_layers(hls_model)
        print("folding (reuse_factor auto, by the estimate):", hls_model.mrfpga_folding)
        print("FIFO depths:", depths)
        board = load_board("pynq-z2").resources
        print("ESTIMATE (cost model):", ", ".join(f"{k} {figures['resources'][k]:,}/{board[k]:,}" for k in KEYS))

        first = layers[0].spec
        rng = np.random.default_rng(1)
        codes = rng.integers(-(1 << (first.in_width - 1)), 1 << (first.in_width - 1), (args.frames, first.n_in))
        start = time.monotonic()
        binary = stream.build_stream_twin(layers, depths, out / "twin")
        print(f"VERILATOR: twin built in {time.monotonic() - start:.0f} s")
        nodes = [
            n for n in hls_model.get_layers() if n.class_name in (*stream.STREAM_TWIN_LAYERS, *stream.STREAM_POOLS)
        ]
        for r in (0, n_res - 1):
            for back_to_back in (False, True):
                start = time.monotonic()
                ((outputs, timing),) = stream.run_stream_twin(
                    layers, depths, codes, [r], out / "twin", back_to_back, binary
                )
                seconds = time.monotonic() - start
                model_timing = stream.timing(layers, depths, r, len(codes), back_to_back)
                equal = np.array_equal(outputs, simulate_chain([layer.spec for layer in layers], codes, r)[0])
                mode = "back to back" if back_to_back else "one at a time"
                print(
                    f"  resolution {r}, {len(codes)} frames {mode} ({seconds:.0f} s): outputs equal the golden "
                    f"model: {equal}; cycles {timing} (dataflow model {model_timing}: "
                    f"{'equal' if timing == model_timing else 'DIFFERENT'})"
                )
                if back_to_back:
                    print(f"    interval (Verilator, frame to frame): {timing[-1][1] - timing[-2][1]:,} cycles")
                else:
                    (first_in, last_out), *_ = timing
                    print(f"    latency (Verilator): {last_out - first_in + 1:,} cycles")
            counted = [layer_cycles(n, r) for n in nodes]
            print(
                f"    C-sim-counted layers at resolution {r}: {counted} (sum {sum(counted):,}; the slowest layer's "
                f"interval {max(layer_interval(n, r) for n in nodes):,})"
            )

        start = time.monotonic()
        sized = stream.synthesize(layers, depths, out / "twin", args.units or None, progress=print)
        print(f"YOSYS ({sized['tool']}; {sized['method']}; {time.monotonic() - start:.0f} s):")
        for name, res in sized["layers"].items():
            print(f"  {name:>12}: " + ", ".join(f"{k} {res.get(k, 0):,}" for k in KEYS))
        total = sized["total"]
        print("  total: " + ", ".join(f"{k} {total.get(k, 0):,}/{board[k]:,}" for k in KEYS))


if __name__ == "__main__":
    main()
