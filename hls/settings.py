"""The HLS settings of a run (``hls:`` in the YAML): board, backend, interface, clock, reuse factor,
C-simulation samples, whether ``run`` measures the Verilog twin; and how far a model can use a reuse
factor. Validated with the other sections by ``mrfpga.cli.run_config``."""

import math
from dataclasses import dataclass

from mrfpga.hls.layers.mmac import ONION_GROUP_SIZE

BACKENDS = ("Vivado", "Vitis")
IO_TYPES = ("io_parallel", "io_stream")


@dataclass
class HLSConfig:
    board: str = "pynq-z2"
    backend: str = "Vivado"
    io_type: str = "io_parallel"
    clock_period: float | None = None  # None: the board's default clock
    reuse_factor: int = 1
    csim_samples: int | None = None  # None: the whole test set
    measure: bool = True  # run and demo measure the Verilog twin (Verilator, Yosys); False: 'mrfpga hw' later


def useful_reuse_factor(model, quantization):
    """The largest reuse factor any layer of ``model`` can use; above it every layer only idles.

    A term or onion layer shares its units over ``n_out * n_groups`` (output, weight group) pairs,
    a row-wise or plain QKeras layer its multipliers over ``n_in * n_out`` products."""
    group = {"term": quantization.group_size, "onion": ONION_GROUP_SIZE}.get(quantization.scheme, 1)
    largest = 1
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            n_in, n_out = math.prod(kernel.shape[:-1]), kernel.shape[-1]
            largest = max(largest, n_out * -(-n_in // group))
    return largest
