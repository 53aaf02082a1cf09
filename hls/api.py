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

from pathlib import Path

import numpy as np

from mrfpga.hls.cost.estimate import counted_cycles, estimate
from mrfpga.hls.layers.mmac import DEFAULT_UNIT, UNITS
from mrfpga.hls.project.boards import load_board
from mrfpga.hls.project.convert import convert
from mrfpga.hls.sim import csim
from mrfpga.hls.sim.reference import exact_forward
from mrfpga.training.errors import ConversionError

MMAC_CLASSES = ("QDense", "QConv2D")


def config_from_keras_model(
    model, board="pynq-z2", backend="Vivado", io_type="io_parallel", clock_period=None, reuse_factor=1, mmac_unit=None
):
    """An editable configuration: hls4ml's ``Model`` and ``LayerName`` entries plus the kit's own keys."""
    load_board(board)  # a clear error for an unknown board, now
    unit = mmac_unit or DEFAULT_UNIT
    if unit not in UNITS:
        raise ConversionError(f"mmac_unit {unit!r} is not one of {', '.join(UNITS)}")
    layers = {}
    for layer in model.layers:
        if type(layer).__name__ in MMAC_CLASSES:
            layers[layer.name] = {"ReuseFactor": reuse_factor, "MMACUnit": unit}
    return {
        "Board": board,
        "Backend": backend,
        "IOType": io_type,
        "ClockPeriod": clock_period or load_board(board).clock_period_ns,
        "Model": {"ReuseFactor": reuse_factor, "MMACUnit": unit},
        "LayerName": layers,
    }


def convert_from_keras_model(
    model,
    output_dir,
    hls_config=None,
    board=None,
    backend=None,
    io_type=None,
    clock_period=None,
    reuse_factor=None,
    project_name="myproject",
):
    """One hls4ml project for every resolution of ``model``; keyword arguments override ``hls_config``."""
    config = hls_config or config_from_keras_model(
        model, board or "pynq-z2", backend or "Vivado", io_type or "io_parallel", clock_period, reuse_factor or 1
    )
    model_config = config.get("Model", {})
    graph = convert(
        model,
        output_dir,
        board=board or config.get("Board", "pynq-z2"),
        backend=backend or config.get("Backend", "Vivado"),
        io_type=io_type or config.get("IOType", "io_parallel"),
        clock_period=clock_period or config.get("ClockPeriod"),
        reuse_factor=reuse_factor or model_config.get("ReuseFactor", 1),
        project_name=project_name,
        mmac_unit=model_config.get("MMACUnit"),
        layer_config=config.get("LayerName"),
    )
    return MultiResolutionModel(graph)


class MultiResolutionModel:
    """hls4ml's ModelGraph of a multi-resolution model, with the resolution chosen per call."""

    def __init__(self, graph):
        self.hls4ml_model = graph

    def __getattr__(self, name):
        return getattr(self.hls4ml_model, name)

    @property
    def output_dir(self):
        return Path(self.hls4ml_model.config.get_output_dir())

    @property
    def n_resolutions(self):
        return self.hls4ml_model.mrfpga_resolutions

    @property
    def resolutions(self):
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

    def snap_to_input_grid(self, x):
        """``x`` on the top function's input grid (round half up, saturate), as the HLS input port takes it."""
        precision = self.hls4ml_model.get_input_variables()[0].type.precision
        return csim.snap_to_input_grid(x, precision.width, precision.integer)

    def write(self):
        self.hls4ml_model.write()

    def compile(self):
        self.hls4ml_model.compile()

    def predict(self, x, resolution=None):
        """g++ C simulation (hls4ml's compiled library) at ``resolution`` (default: the highest)."""
        r = self.n_resolutions - 1 if resolution is None else int(resolution)
        if not 0 <= r < self.n_resolutions:
            raise ConversionError(f"resolution {resolution} is out of range: the model has {self.n_resolutions}")
        return csim.predict(self.hls4ml_model, x, r)

    def compare(self, x, keras_model):
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

    def verify(self, x, keras_model):
        """Mismatching samples per resolution, C simulation against the exact Keras reference (``==``)."""
        return {r: csim.mismatches(row["predict"], row["exact"]) for r, row in enumerate(self.compare(x, keras_model))}

    def testbench(self, x, expected):
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

    def estimate(self):
        """The cost model's figures (estimates, not measurements): cycles per resolution, resources."""
        figures = estimate(self.hls4ml_model, self.n_resolutions, self.hls4ml_model.mrfpga_board)
        figures["counted_cycles"] = [counted_cycles(self.hls4ml_model, r) for r in range(self.n_resolutions)]
        figures["source"] = "estimate (docs/estimates.md)"
        return figures

    def build(self, bitstream=False):
        """C simulation and synthesis with the vendor tools when they are on PATH (``mrfpga synth``); without
        them, ``ToolMissing`` names the tool and the exact commands."""
        from mrfpga.hls.vendor.synth import run_synthesis

        self.hls4ml_model.write()
        return run_synthesis(self.output_dir, self.hls4ml_model.config.get_config_value("Backend"), bitstream)
