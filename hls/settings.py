"""The HLS settings of a run (``hls:`` in the YAML): board, backend, interface, clock, reuse factor,
C-simulation samples, whether ``run`` measures the Verilog twin; how far a model can use a reuse factor;
and ``check_hls_settings``, the one check of these settings that the run configuration
(``mrfpga.cli.run_config``) and the Python API (``mrfpga.hls.api``) both use."""

import math
import numbers
import warnings
from dataclasses import dataclass

from mrfpga.hls.project.boards import PHYSICAL_PERIOD_NS, load_board
from mrfpga.training.errors import ConfigError, ConversionError, SettingWarning

BACKENDS = ("Vivado", "Vitis")
IO_TYPES = ("io_parallel", "io_stream")


@dataclass
class HLSConfig:
    board: str = "pynq-z2"
    backend: str = "Vivado"
    io_type: str = "io_parallel"
    clock_period: float | None = None  # None: the board's default clock
    reuse_factor: int | str = "auto"  # "auto": per layer, the folding the estimate fits on the board
    csim_samples: int | None = None  # None: the whole test set
    measure: bool = True  # run and demo measure the Verilog twin (Verilator, Yosys); False: 'mrfpga hw' later
    baseline: bool = True  # the twin's figures beside a plain 8-bit QKeras baseline's (trained, sized with Yosys)


def _mhz(period_ns):
    mhz = 1000 / period_ns
    return f"{mhz / 1000:.3g} GHz" if mhz >= 1000 else f"{mhz:.3g} MHz"


def check_positive_integer(value, key):
    """``value`` as an int of at least 1 (an int, not a bool or a float), else a ``ConfigError`` naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{key}: expected an integer of at least 1, got {value!r}")
    if value < 1:
        raise ConfigError(f"{key}: {value} is below the minimum 1")
    return int(value)


def check_clock_period(clock_period, board, key="clock_period"):
    """The clock period in ns (None: the board's default). A period no FPGA fabric reaches (at or below 0,
    under 1 ns) is a ``ConfigError``; one under the part's practical limit is a ``SettingWarning``."""
    if clock_period is None:
        return None
    if isinstance(clock_period, bool) or not isinstance(clock_period, numbers.Real):
        raise ConfigError(f"{key}: expected a number of ns, got {clock_period!r}")
    period = float(clock_period)
    practical = board.practical_period_ns
    limit = f"{board.part} ({board.name}) practically runs at up to about {_mhz(practical)}, a {practical:g} ns period"
    if not math.isfinite(period):
        raise ConfigError(f"{key}: {clock_period} is not a finite number")
    if period <= 0:
        raise ConfigError(
            f"{key}: {clock_period} ns is not a clock period; give it in ns above 0 ({board.name}'s default is "
            f"{board.clock_period_ns:g} ns)"
        )
    if period < PHYSICAL_PERIOD_NS:
        raise ConfigError(
            f"{key}: {clock_period} ns ({_mhz(period)}) is beyond any FPGA fabric; {limit}. The period is in ns: "
            f"10 is 100 MHz"
        )
    if period < practical:
        warnings.warn(
            f"{key}: {clock_period} ns ({_mhz(period)}) is faster than {limit}: synthesis will likely miss timing, "
            "and the latencies reported at this clock will not be reached",
            SettingWarning,
            stacklevel=3,
        )
    return period


def check_hls_settings(board, backend, io_type, clock_period, reuse_factor, prefix=""):
    """The board (a ``Board``) when the settings are ones the kit can convert with, else a ``ConfigError``
    naming the setting (``prefix`` + its name: ``hls.io_type`` in a configuration, ``io_type`` in the API)."""
    if not isinstance(board, str):
        raise ConfigError(f"{prefix}board: expected a board name, got {board!r}")
    try:
        found = load_board(board)
    except ConversionError as err:
        raise ConfigError(f"{prefix}board: {err}") from None
    for value, options, name in ((backend, BACKENDS, "backend"), (io_type, IO_TYPES, "io_type")):
        if value not in options:
            raise ConfigError(f"{prefix}{name}: {value!r} is not one of {', '.join(options)}")
    check_clock_period(clock_period, found, f"{prefix}clock_period")
    if reuse_factor != "auto":
        if isinstance(reuse_factor, str):
            raise ConfigError(f"{prefix}reuse_factor: {reuse_factor!r} is neither an integer of at least 1 nor 'auto'")
        check_positive_integer(reuse_factor, f"{prefix}reuse_factor")
    return found


def useful_reuse_factor(model, quantization):
    """The largest reuse factor any layer of ``model`` can use; above it every layer only idles.

    A term or onion layer's units own whole outputs, so it uses up to ``n_out`` rounds; a row-wise or plain
    QKeras layer shares its multipliers over ``n_in * n_out`` products."""
    per_output = quantization.scheme in ("term", "onion")
    largest = 1
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            n_in, n_out = math.prod(kernel.shape[:-1]), kernel.shape[-1]
            largest = max(largest, n_out if per_output else n_in * n_out)
    return largest
