"""The kit's Python API, in hls4ml's shape.

    import mrfpga.hls

    config = mrfpga.hls.config_from_keras_model(model, board="pynq-z2")
    config["LayerName"]["dense_0"]["ReuseFactor"] = 2
    hls_model = mrfpga.hls.convert_from_keras_model(model, "prj", hls_config=config)
    hls_model.compile()
    y = hls_model.predict(x, resolution=3)
    hls_model.verify(x, model)  # {resolution: mismatching samples}, exact comparison

``convert_from_keras_model`` returns a ``MultiResolutionModel``: hls4ml's ``ModelGraph`` (``.hls4ml_model``; its
other attributes pass through) with the resolution as an argument of ``predict``.
"""

import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tensorflow as tf
from hls4ml.model import ModelGraph

from mrfpga.hls.cost.estimate import counted_cycles, estimate
from mrfpga.hls.cost.folding import Folding
from mrfpga.hls.layers.mmac import DEFAULT_UNIT, UNITS
from mrfpga.hls.project.convert import convert
from mrfpga.hls.settings import check_hls_settings, check_positive_integer
from mrfpga.hls.sim import csim
from mrfpga.hls.sim.reference import exact_forward
from mrfpga.training.errors import ConfigError

MMAC_CLASSES = ("QDense", "QConv2D")
DEFAULTS = {"Board": "pynq-z2", "Backend": "Vivado", "IOType": "io_parallel", "ClockPeriod": None}
CONFIG_KEYS = (*DEFAULTS, "Model", "LayerName")
LAYER_KEYS = ("ReuseFactor", "MMACUnit", "TermLanes")  # per layer and model-wide (TermLanes: per layer)


def _check_unit(unit, key):
    if unit is not None and unit not in UNITS:
        raise ConfigError(f"{key}: {unit!r} is not one of {', '.join(UNITS)}")


def _check_layer_settings(settings, key, model_wide=False):
    """A ``Model`` or ``LayerName`` entry of an ``hls_config``: only ReuseFactor (an integer of at least 1;
    model-wide also ``"auto"``), MMACUnit and, per layer, TermLanes (an integer of at least 1: term slots an mMAC
    unit walks a cycle)."""
    if not isinstance(settings, dict):
        raise ConfigError(f"{key}: expected a dict of {', '.join(LAYER_KEYS)}, got {settings!r}")
    unknown = sorted(set(settings) - set(LAYER_KEYS))
    if unknown:
        raise ConfigError(f"{key}: unknown key {unknown[0]!r}; the kit reads {', '.join(LAYER_KEYS)}")
    if settings.get("ReuseFactor") is not None and not (model_wide and settings["ReuseFactor"] == "auto"):
        check_positive_integer(settings["ReuseFactor"], f"{key}['ReuseFactor']")
    _check_unit(settings.get("MMACUnit"), f"{key}['MMACUnit']")
    if "TermLanes" in settings:
        if model_wide:
            raise ConfigError(f"{key}: TermLanes is a layer's setting (hls_config['LayerName'][name]['TermLanes'])")
        check_positive_integer(settings["TermLanes"], f"{key}['TermLanes']")


def check_hls_config(config):
    """An ``hls_config`` (``config_from_keras_model``'s shape): its keys and every value, with the checks a
    run configuration's ``hls:`` section has; a ``ConfigError`` naming the entry otherwise."""
    if not isinstance(config, dict):
        raise ConfigError(f"hls_config: expected a dict from config_from_keras_model, got {type(config).__name__}")
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(f"hls_config: unknown key {unknown[0]!r}; the kit reads {', '.join(CONFIG_KEYS)}")
    _check_layer_settings(config.get("Model", {}), "hls_config['Model']", model_wide=True)
    layers = config.get("LayerName", {})
    if not isinstance(layers, dict):
        raise ConfigError(f"hls_config['LayerName']: expected a dict of layer names, got {layers!r}")
    for name, settings in layers.items():
        _check_layer_settings(settings, f"hls_config['LayerName'][{name!r}]")


def config_from_keras_model(
    model: tf.keras.Model,
    board: str = "pynq-z2",
    backend: str = "Vivado",
    io_type: str = "io_parallel",
    clock_period: float | None = None,
    reuse_factor: int | str = 1,
    mmac_unit: str | None = None,
) -> dict[str, Any]:
    """An editable configuration: hls4ml's ``Model`` and ``LayerName`` entries plus the kit's own keys.
    ``reuse_factor="auto"``: per layer, the folding the cost model fits on the board (docs/estimates.md); a
    layer's own ``ReuseFactor`` still wins.

    The arguments are checked as a run configuration's ``hls:`` section is (``check_hls_settings``)."""
    found = check_hls_settings(board, backend, io_type, clock_period, reuse_factor)
    unit = DEFAULT_UNIT if mmac_unit is None else mmac_unit
    _check_unit(unit, "mmac_unit")
    layers = {}
    for layer in model.layers:
        if type(layer).__name__ in MMAC_CLASSES:
            own = {} if reuse_factor == "auto" else {"ReuseFactor": reuse_factor}
            layers[layer.name] = {**own, "MMACUnit": unit}
    return {
        "Board": board,
        "Backend": backend,
        "IOType": io_type,
        "ClockPeriod": found.clock_period_ns if clock_period is None else float(clock_period),
        "Model": {"ReuseFactor": reuse_factor, "MMACUnit": unit},
        "LayerName": layers,
    }


def convert_from_keras_model(
    model: tf.keras.Model,
    output_dir: str | os.PathLike[str],
    hls_config: dict[str, Any] | None = None,
    board: str | None = None,
    backend: str | None = None,
    io_type: str | None = None,
    clock_period: float | None = None,
    reuse_factor: int | str | None = None,
    project_name: str = "myproject",
) -> "MultiResolutionModel":
    """One hls4ml project for every resolution of ``model``; keyword arguments (those not None) override
    ``hls_config``. Every setting is checked as a run configuration's ``hls:`` section is."""
    if hls_config is None:
        hls_config = {}
    check_hls_config(hls_config)
    model_config = hls_config.get("Model", {})

    def chosen(argument, key, default):
        if argument is not None:
            return argument
        value = hls_config.get(key)
        return default if value is None else value

    settings = {
        "board": chosen(board, "Board", DEFAULTS["Board"]),
        "backend": chosen(backend, "Backend", DEFAULTS["Backend"]),
        "io_type": chosen(io_type, "IOType", DEFAULTS["IOType"]),
        "clock_period": chosen(clock_period, "ClockPeriod", None),
        "reuse_factor": reuse_factor if reuse_factor is not None else model_config.get("ReuseFactor") or 1,
    }
    check_hls_settings(**settings)
    if not isinstance(project_name, str) or not project_name.isidentifier():
        raise ConfigError(f"project_name: {project_name!r} must be a C identifier (letters, digits, _)")
    graph = convert(
        model,
        output_dir,
        **settings,
        project_name=project_name,
        mmac_unit=model_config.get("MMACUnit"),
        layer_config=hls_config.get("LayerName"),
    )
    return MultiResolutionModel(graph)


class MultiResolutionModel:
    """hls4ml's ModelGraph of a multi-resolution model, with the resolution chosen per call."""

    def __init__(self, graph: ModelGraph) -> None:
        self.hls4ml_model = graph

    def __getattr__(self, name: str) -> Any:
        return getattr(self.hls4ml_model, name)

    @property
    def output_dir(self) -> Path:
        return Path(self.hls4ml_model.config.get_output_dir())

    @property
    def n_resolutions(self) -> int:
        return self.hls4ml_model.mrfpga_resolutions

    @property
    def folding(self) -> "Folding | None":
        """``reuse_factor="auto"``: the reuse factor chosen per layer and the estimate it was chosen on (see
        ``Folding.to_dict``); None when the reuse factors were given."""
        return self.hls4ml_model.mrfpga_folding

    @property
    def resolutions(self) -> list[dict[str, int]]:
        """What each resolution index means in the first mMAC layer: data terms a, weight terms k per group,
        the exponent floor (onion precisions), and the term slots every group walks (K)."""
        mmac = [n for n in self.hls4ml_model.get_layers() if n.class_name in ("MMACDense", "MMACConv2D")]
        # A layer with one resolution (a power-of-two kernel) says nothing of the others.
        node = next((n for n in mmac if len(n.get_attr("weight_budgets")) == self.n_resolutions), None)
        if node is None:
            return [{"index": r} for r in range(self.n_resolutions)]
        return [
            {
                "index": r,
                "data_terms": node.get_attr("data_budgets")[r],
                "weight_terms": node.get_attr("weight_budgets")[r],
                "weight_floor": node.get_attr("weight_floors")[r],
                "group_terms": node.get_attr("group_terms")[r],
            }
            for r in range(self.n_resolutions)
        ]

    def snap_to_input_grid(self, x: npt.ArrayLike) -> np.ndarray:
        """``x`` on the top function's input grid (round half up, saturate), as the HLS input port takes it."""
        x = csim.check_input(self.hls4ml_model, x)
        precision = self.hls4ml_model.get_input_variables()[0].type.precision
        return csim.snap_to_input_grid(x, precision.width, precision.integer)

    def resolution_index(self, resolution: int | None) -> int:
        """``resolution`` as an index 0..n-1 (None: the highest); a ``ConfigError`` for anything else."""
        n = self.n_resolutions
        if resolution is None:
            return n - 1
        if isinstance(resolution, bool) or not isinstance(resolution, numbers.Integral):
            raise ConfigError(f"resolution: {resolution!r} is not an index; give an integer 0..{n - 1}")
        if not 0 <= resolution < n:
            raise ConfigError(f"resolution: {resolution} is out of range: the model has {n}, indices 0..{n - 1}")
        return int(resolution)

    def write(self) -> None:
        self.hls4ml_model.write()

    def compile(self) -> None:
        self.hls4ml_model.compile()

    def predict(self, x: npt.ArrayLike, resolution: int | None = None) -> np.ndarray:
        """g++ C simulation (hls4ml's compiled library) at ``resolution`` (default: the highest), an integer
        index; ``x``: finite samples of the model's input shape (``DataError`` otherwise)."""
        return csim.predict(self.hls4ml_model, x, self.resolution_index(resolution))

    def compare(self, x: npt.ArrayLike, keras_model: tf.keras.Model) -> list[dict[str, np.ndarray]]:
        """Per resolution: Keras' output, the exact (float64) reference and the C simulation's, on ``x``
        snapped to the input grid first."""
        from mrfpga.training.resolution import set_resolution

        x = self.snap_to_input_grid(x)
        rows = []
        try:
            for r in range(self.n_resolutions):
                set_resolution(keras_model, r)
                rows.append(
                    {
                        "keras": keras_model.predict(x, verbose=0, batch_size=1024).astype(np.float64),
                        "exact": exact_forward(keras_model, x),
                        "predict": self.predict(x, r),
                    }
                )
        finally:
            set_resolution(keras_model, self.n_resolutions - 1)
        return rows

    def verify(self, x: npt.ArrayLike, keras_model: tf.keras.Model) -> dict[int, int]:
        """Mismatching samples per resolution, C simulation against the exact Keras reference (``==``)."""
        return {r: csim.mismatches(row["predict"], row["exact"]) for r, row in enumerate(self.compare(x, keras_model))}

    def testbench(
        self, x: npt.ArrayLike, expected: Sequence[npt.ArrayLike]
    ) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        """The generated testbench (g++) on ``x`` at every resolution: its outputs per resolution and the
        cycles the kit's layers counted per sample (None without a counting layer)."""
        x = self.snap_to_input_grid(x)
        project = self.output_dir
        csim.write_tb_data(project, x, expected)
        csim.compile_testbench(project, self.hls4ml_model.config.get_project_name())
        out = csim.run_testbench(project, np.asarray(expected[0]).shape[1])
        counted = csim.read_csim_cycles(project)
        n = len(x)
        outputs = [out[r * n : (r + 1) * n] for r in range(self.n_resolutions)]
        cycles = None if counted is None else [counted[r * n : (r + 1) * n] for r in range(self.n_resolutions)]
        return outputs, cycles

    def estimate(self) -> dict[str, Any]:
        """The cost model's figures (estimates, not measurements): cycles per resolution, resources."""
        figures = estimate(self.hls4ml_model, self.n_resolutions, self.hls4ml_model.mrfpga_board)
        figures["counted_cycles"] = [counted_cycles(self.hls4ml_model, r) for r in range(self.n_resolutions)]
        figures["source"] = "estimate (docs/estimates.md)"
        return figures

    def build(self, bitstream: bool = False) -> int:
        """C simulation and synthesis with the vendor tools when they are on PATH (``mrfpga synth``); without
        them, ``ToolMissing`` names the tool and the exact commands."""
        from mrfpga.hls.vendor.synth import run_synthesis

        self.hls4ml_model.write()
        return run_synthesis(self.output_dir, self.hls4ml_model.config.get_config_value("Backend"), bitstream)
