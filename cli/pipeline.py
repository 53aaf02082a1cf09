"""The main job in stages: train -> convert -> C-simulate and report -> measure the Verilog twin beside a
plain baseline.

A run directory holds ``config.yaml``, ``model.h5``, ``training.json``,
``hls_project/``, ``report.json`` and ``accuracy_cycles.png``; ``mrfpga hw`` (and ``run``) add ``rtl/``.
"""

import json
import time
from pathlib import Path

import numpy as np
import yaml

from mrfpga.training import data as datasets
from mrfpga.training.errors import ConfigError
from mrfpga.training.methods import train as train_method
from mrfpga.training.models import model_input
from mrfpga.training.steps import accuracy_per_resolution
from mrfpga.training.stop_points import stop_point

from .output import (
    OutputError,
    OutputExists,
    check_replaceable,
    completed,
    fresh_output,
    output_kind,
    staging_path,
    write_bytes,
    write_text,
)
from .run_config import check_against_data, from_dict, parse_yaml, read_text

PROJECT = "hls_project"
PROJECT_NAME = "myproject"
INPUT = "input.json"  # the scaling, normalization and input grid the model was trained with


def stage(text):
    print(f"\n== {text}", flush=True)


def load_model(run_dir, name="model.h5"):
    from tensorflow import keras

    from mrfpga.training.quantizers import custom_objects

    path = Path(run_dir) / name
    if not path.is_file():
        raise OutputError(f"{path} does not exist; train first ('mrfpga train CONFIG --out {run_dir}')")
    try:
        return keras.models.load_model(path, custom_objects=custom_objects(), compile=False)
    except (OSError, ValueError) as err:  # h5py: truncated or not HDF5; Keras: not a model file
        raise OutputError(f"{path} is not a readable Keras model ({err}); train again with --force") from None


def load_run_config(run_dir):
    run_dir = Path(run_dir)
    path = run_dir / "config.yaml"
    if not run_dir.exists():
        unfinished = staging_path(run_dir.resolve())
        if unfinished.is_dir():
            raise OutputError(
                f"{run_dir} does not exist yet: its training is unfinished in {unfinished}; continue it with "
                f"'mrfpga train CONFIG --out {run_dir} --resume' (or 'mrfpga run ... --resume')"
            )
        raise OutputError(f"{run_dir} does not exist; train first ('mrfpga train CONFIG --out {run_dir}')")
    if not run_dir.is_dir():
        raise OutputError(f"{run_dir} is a file, not a run directory written by 'mrfpga train'")
    if not path.is_file():
        raise OutputError(f"{run_dir} is not a run directory: {path.name} is missing (run 'mrfpga train' first)")
    try:
        return from_dict(parse_yaml(read_text(path, "run configuration"), path))
    except ConfigError as err:
        raise OutputError(f"{path}: not a run configuration the kit wrote: {err}") from None


def save_model(model, path):
    """``model.save(path)`` in HDF5, serialized in memory and then written: on a full disk h5py fails with
    errors that never name the cause (and may crash the process); a plain write names it (``DiskFull``)."""
    import io

    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        model.save(h5)
    write_bytes(path, buffer.getvalue())


def primary(models):
    """The model a run converts: the meta model, or the one that stands for the method."""
    for name in ("meta", "post_training", "onion", "rowwise", "qkeras"):
        if name in models:
            return models[name]
    return models[sorted(models)[-1]]  # individual: the highest resolution's


def load_data(config):
    """The configured data set, scaled as ``data.scale`` and normalized as ``data.normalize`` say."""
    return datasets.load(config.data.source, config.training.seed, config.data.normalize, scale=config.data.scale)


def describe_input(config, data):
    """What the model's first layer receives: the scaling, the normalization, the grid, the out-of-grid
    fractions of the training and test values, and a warning for each past 0.1%."""
    from mrfpga.training.methods import input_grid

    scale = None if data.scaling is None else data.scaling.to_dict()
    normalization = None if data.normalization is None else data.normalization.to_dict()
    if config.model.kind == "custom":  # the builder makes its own first layer
        return {"scale": scale, "normalization": normalization, "input_grid": None, "out_of_grid": None, "warnings": []}
    grid = input_grid(config, data)
    warnings = [w for w in (grid.warning(data.x_train), grid.warning(data.x_test, "test")) if w]
    return {
        "scale": scale,
        "normalization": normalization,
        "input_grid": grid.to_dict(),
        "out_of_grid": {"train": grid.out_of_grid(data.x_train), "test": grid.out_of_grid(data.x_test)},
        "warnings": warnings,
    }


def load_input(run_dir):
    path = Path(run_dir) / INPUT
    return json.loads(path.read_text()) if path.is_file() else None


def train(config, run_dir, verbose=1):
    """Train the configured method into ``run_dir``: ``model.h5`` (converted later), ``models/*.h5`` and
    ``input.json`` (scaling, normalization and input grid)."""
    run_dir = Path(run_dir)
    write_text(run_dir / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    data = load_data(config)
    check_against_data(config, data)
    stage(
        f"training ({config.training.method}) a {config.model.kind} on {data.name}: {data.n_inputs} inputs, "
        f"{data.n_classes} classes, scheme {config.quantization.scheme}"
    )
    described = describe_input(config, data)
    write_text(run_dir / INPUT, json.dumps(described, indent=2))
    scaling = "none" if data.scaling is None else data.scaling.describe()
    print(
        f"  scale: {scaling}, normalization: {config.data.normalize}, input grid: {described['input_grid']}", flush=True
    )
    for warning in described["warnings"]:
        print(f"WARNING: {warning}", flush=True)
    started = time.time()
    models, histories = train_method(config, data, run_dir / "checkpoints", verbose)
    (run_dir / "models").mkdir(exist_ok=True)
    for name, model in models.items():
        save_model(model, run_dir / "models" / f"{name}.h5")
    model = primary(models)
    save_model(model, run_dir / "model.h5")
    summary = {"loss": histories, "seconds": time.time() - started, "models": sorted(models)}
    # Written last, in one rename: a run directory with training.json has finished training.
    tmp = run_dir / "training.json.partial"
    write_text(tmp, json.dumps(summary, indent=2))
    tmp.replace(run_dir / TRAINED)
    return model


TRAINED = "training.json"


def trained_or_train(config, run_dir, verbose=1):
    """The run's trained model: loaded if a resumed run had finished training, else trained now."""
    if (Path(run_dir) / TRAINED).is_file():
        print(f"Resuming after training: {run_dir}/model.h5", flush=True)
        return load_model(run_dir)
    return train(config, run_dir, verbose)


def convert(config, run_dir, model=None, force=False):
    """``DIR/hls_project`` from the trained model, through the library's ``convert_from_keras_model``."""
    model = model or load_model(run_dir)
    h = config.hls
    project = Path(run_dir).resolve() / PROJECT
    with fresh_output(project, force, kind="hls_project") as staging:
        stage(f"converting to one HLS project for {h.board} ({h.backend}, {h.io_type}) in {project}")
        hls_model = converted(config, model, staging)
        if hls_model.mrfpga_folding is not None:
            print(f"  {hls_model.mrfpga_folding.describe()}", flush=True)
        hls_model.write()  # hls4ml's write flow, the kit's pass included, leaves the whole project
    hls_model.config.config["OutputDir"] = str(project)  # written in staging, now in place
    return hls_model


def converted(config, model, output_dir):
    """The kit's hls4ml model of ``model`` as the config converts it; nothing is written until ``write()``."""
    from mrfpga.hls import convert_from_keras_model

    h = config.hls
    return convert_from_keras_model(
        model, output_dir, board=h.board, backend=h.backend, io_type=h.io_type, clock_period=h.clock_period,
        reuse_factor=h.reuse_factor, project_name=PROJECT_NAME,
    )  # fmt: skip


def check_axis_wrapper(project, predicted, samples_per_call=16):
    """The io_stream IP's top, ``<name>_axis()``, on tb_data: its testbench fails on any word that differs
    from the hls4ml top's or a misplaced TLAST; its unpacked outputs must also equal ``predict`` exactly."""
    from mrfpga.hls.project import axis_wrapper
    from mrfpga.hls.sim.csim import CsimError, mismatches

    stage(f"C simulation with g++: the AXI-Stream top {axis_wrapper.axis_top(PROJECT_NAME)}() on tb_data")
    axis_wrapper.compile_axis_testbench(project, PROJECT_NAME)
    out = axis_wrapper.run_axis_testbench(project, predicted[0].shape[1], samples_per_call)
    n = len(predicted[0])
    bad = {r: mismatches(out[r * n : (r + 1) * n], p) for r, p in enumerate(predicted)}
    bad = {r: m for r, m in bad.items() if m}
    if bad:
        raise CsimError(f"the AXI-Stream top differs from predict (resolution: mismatching samples): {bad}")
    print(f"  0 mismatches at {len(predicted)} resolutions, {samples_per_call} samples per call", flush=True)


def _test_inputs(config, run_dir, model, whole=False):
    """The test split as the kit feeds the board: scaled and normalized as stored with the model, then snapped
    to the HLS input port's grid; its first ``hls.csim_samples`` (all of it with ``whole``)."""
    from mrfpga.hls.project.convert import input_port_type
    from mrfpga.hls.sim.csim import snap_to_input_grid

    stored = load_input(run_dir)
    normalization = datasets.Normalization.from_dict(stored["normalization"]) if stored else None
    # Stored without a "scale" key: trained before the kit scaled data, so unscaled.
    scale = (datasets.Scaling.from_dict(stored.get("scale")) or "none") if stored else config.data.scale
    data = datasets.load(config.data.source, config.training.seed, normalization=normalization, scale=scale)
    if stored is None and (config.data.normalize != "none" or data.scaling is not None):
        raise OutputError(
            f"{Path(run_dir) / INPUT} is missing: the run's scaling and normalization are unknown; train again with "
            "--force"
        )
    n = len(data.x_test) if whole else config.hls.csim_samples or len(data.x_test)
    return snap_to_input_grid(data.x_test[:n], *input_port_type(model)), data.y_test[:n]


def csim(config, run_dir, model=None, hls_model=None, force=False):
    """C-simulate every resolution both ways, compare exactly, estimate, write the report and the plot."""
    from mrfpga.hls.sim import csim as sim

    from .report import build_report, print_table, write_plot

    run_dir = Path(run_dir)
    report_path = run_dir / "report.json"
    if report_path.exists() and not force:
        raise OutputExists(f"{report_path} already exists; pass --force to replace it")
    model = model or load_model(run_dir)
    if hls_model is None:
        hls_model = convert(config, run_dir, model, force=True)
    project = run_dir / PROJECT
    x_test, y_test = _test_inputs(config, run_dir, model, whole=True)
    n = config.hls.csim_samples or len(x_test)
    x, y = model_input(model, x_test[:n]), y_test[:n]
    n_res = hls_model.n_resolutions
    stage(f"Keras on the whole test split: {len(y_test)} samples at {n_res} resolutions")
    test_accuracy = [accuracy for accuracy, _ in accuracy_per_resolution(model, x_test, y_test)]
    print("  accuracy per resolution: " + ", ".join(f"{a:.4f}" for a in test_accuracy), flush=True)
    stage(f"C simulation with g++: hls4ml compile/predict at {n_res} resolutions on {len(x)} samples")
    hls_model.compile()
    rows = hls_model.compare(x, model)
    for r, row in enumerate(rows):
        print(f"  resolution {r}: {sim.mismatches(row['predict'], row['exact'])} mismatches", flush=True)

    stage("C simulation with g++: the generated testbench on tb_data")
    outputs, counted = hls_model.testbench(x, [row["exact"] for row in rows])
    for r, row in enumerate(rows):
        row["testbench"] = outputs[r]
        if counted is not None:  # None without a counting (kit) layer
            row["csim_cycles"] = counted[r]
    if config.hls.io_type == "io_stream":
        check_axis_wrapper(project, [row["predict"] for row in rows])

    estimates = hls_model.estimate()
    layer_counts = sim.read_csim_layer_cycles(project)
    add_layer_counts(estimates, hls_model, layer_counts, len(x))
    if counted is not None and layer_counts is not None and layer_counts.shape[0] == n_res * len(x):
        for r, row in enumerate(rows):  # the slowest kit layer: the interval if the layers overlap (DATAFLOW)
            row["csim_slowest_layer"] = int(layer_counts[r * len(x) : (r + 1) * len(x)].max())
    report = build_report(
        config, hls_model, project, rows, y, estimates, load_input(run_dir), (test_accuracy, len(y_test))
    )
    write_report(report, report_path)
    plot = run_dir / "accuracy_cycles.png"
    tmp = plot.with_name("accuracy_cycles.partial.png")
    write_plot(report, tmp)
    tmp.replace(plot)
    completed(plot)
    print_table(report)
    for warning in report["warnings"]:
        print(f"WARNING: {warning}")
    return report


def write_report(report, path):
    """``report.json`` in one rename: the old one or the new one, never half of either."""
    tmp = path.with_suffix(".json.partial")
    write_text(tmp, json.dumps(report, indent=2))
    tmp.replace(path)
    completed(path)


def add_layer_counts(estimates, hls_model, counted, n_samples):
    """Each kit layer's C-simulated cycles (the mean over the samples, per resolution) beside its estimate."""
    from mrfpga.hls.layers.registry import LAYERS

    kit = [node.name for node in hls_model.hls4ml_model.get_layers() if node.class_name in LAYERS]
    if counted is None or counted.ndim != 2 or counted.shape[1] != len(kit):
        return
    n_res = counted.shape[0] // n_samples
    for j, name in enumerate(kit):
        if name in estimates.get("layers", {}):
            estimates["layers"][name]["csim_cycles"] = [
                float(np.mean(counted[r * n_samples : (r + 1) * n_samples, j])) for r in range(n_res)
            ]


def training_output(config, run_dir, force, resume, command):
    """The run directory's staging (``fresh_output``); with ``resume``, an unfinished run's own, if any."""
    run_dir = Path(run_dir).resolve()

    def check_resumable(staging):
        saved = load_run_config(staging) if (staging / "config.yaml").is_file() else config
        if saved.to_dict() != config.to_dict():
            raise ConfigError(f"{staging} was started with another configuration; resume it with the same one")

    if not resume:
        return fresh_output(run_dir, force, resumable=True)
    if run_dir.exists() and output_kind(run_dir) is None:
        check_replaceable(run_dir)  # not the kit's: refused, saying why
    if run_dir.exists() and not staging_path(run_dir).exists() and not force:
        hint = f"; 'mrfpga csim {run_dir}' converts and C-simulates it" if command == "run" else ""
        raise OutputExists(f"{run_dir} has finished training and has no unfinished run to resume{hint}")
    return fresh_output(run_dir, force, resumable=True, resume=check_resumable)


def train_into(config, run_dir, force=False, resume=False, verbose=1):
    with training_output(config, run_dir, force, resume, "train") as out:
        return trained_or_train(config, out, verbose)


def run(config, run_dir, force=False, verbose=1, resume=False):
    """The main job: train, convert, C-simulate, measure the Verilog twin and report into a new ``run_dir``.

    Stopped after training, it continues with ``resume`` from the trained model."""
    from mrfpga.training.errors import ToolMissing

    with training_output(config, run_dir, force, resume, "run") as out:
        model = trained_or_train(config, out, verbose)
        stop_point("trained")
        hls_model = convert(config, out, model, force=True)
        report = csim(config, out, model, hls_model, force=True)
        if not twin_covers(hls_model):
            print(f"\n{TWIN_COVERS}: no hardware measurement.")
            return report
        if not config.hls.measure:
            print(f"\nNo hardware measurement (hls.measure: false): 'mrfpga hw {run_dir}' runs it.")
            return report
        try:
            return hw(config, out, model, hls_model)
        except ToolMissing as err:
            print(f"\nNo hardware measurement: {err}")
            return report


RTL = "rtl"
TWIN_COVERS = (
    "The Verilog twin covers io_parallel chains of data-term and weight-term mMAC Dense layers, and io_stream "
    "chains of data-term, switchable BN, weight-term mMAC Conv2D and Dense, and max-pooling layers only"
)
# Frames of each resolution the dataflow model is run for (a frame's timing does not depend on its values: the
# twin's further frames are held to the same latency and interval).
MODEL_FRAMES = 3


def twin_covers(hls_model):
    from mrfpga.hls.twin.spec import twin_specs
    from mrfpga.hls.twin.stream import stream_twin_layers

    return twin_specs(hls_model) is not None or stream_twin_layers(hls_model) is not None


def hw(config, run_dir, model=None, hls_model=None):
    """The Verilog twin of the project: Verilator on the C-simulated samples at every resolution (outputs
    against the exact reference, cycles against the C-simulation count, sample by sample) and Yosys
    synthesis; the figures go into report.json."""
    from mrfpga.hls.sim import csim as sim
    from mrfpga.hls.sim.reference import exact_forward
    from mrfpga.hls.twin import measure
    from mrfpga.hls.twin.spec import twin_specs
    from mrfpga.hls.twin.stream import stream_twin_layers
    from mrfpga.training.errors import ConversionError
    from mrfpga.training.resolution import set_resolution

    run_dir = Path(run_dir)
    report_path = run_dir / "report.json"
    if not report_path.is_file():
        raise OutputError(f"{report_path} does not exist; run 'mrfpga csim {run_dir}' first")
    report = json.loads(report_path.read_text())
    model = model or load_model(run_dir)
    counted = sim.read_csim_cycles(run_dir / PROJECT)
    if hls_model is None:  # the layers' figures only: the C-simulated project stays as it is
        hls_model = converted(config, model, run_dir / PROJECT)
    x, _ = _test_inputs(config, run_dir, model)
    x = model_input(model, x)
    streaming = stream_twin_layers(hls_model)
    if streaming is not None:
        return _hw_stream(config, run_dir, report, model, hls_model, streaming, x)
    specs = twin_specs(hls_model)
    if specs is None:
        raise ConversionError(TWIN_COVERS[0].lower() + TWIN_COVERS[1:])
    first, last = specs[0], specs[-1]
    codes = np.round(np.reshape(x, (len(x), -1)) * 2.0**first.in_frac).astype(np.int64)
    n_res = hls_model.n_resolutions
    stage(f"Verilog twin in Verilator: {len(x)} samples at {n_res} resolutions")
    started = time.time()
    out = measure.run_twin(specs, codes, n_res, run_dir / RTL, progress=progress)
    for r, resolution in enumerate(report["resolutions"]):
        set_resolution(model, r)
        expected = exact_forward(model, x) * 2.0**last.out_frac
        cycles = np.asarray(out["cycles"][r])
        resolution["rtl_mismatches"] = sim.mismatches(out["outputs"][r], expected)
        resolution["rtl_cycles"] = {"mean": float(cycles.mean()), "max": int(cycles.max())}
        if counted is not None:
            csim_cycles = counted[r * len(x) : (r + 1) * len(x)]
            resolution["rtl_cycles_equal_csim"] = bool(np.array_equal(cycles, csim_cycles))
    set_resolution(model, n_res - 1)
    stage("Yosys synthesis of the Verilog twin (synth_xilinx, xc7)")
    measured = measure.synthesize(specs, run_dir / RTL / "yosys", progress=progress)
    return _with_hardware(config, run_dir, report, hls_model, measured, len(x), started)


def _with_hardware(config, run_dir, report, hls_model, measured, n_samples, started, prepared=None):
    """report.json with the twin's Yosys figures, each resolution's figures and the plain baseline's beside."""
    from .report import print_hardware

    measured["board"] = hls_model.mrfpga_board.resources
    report["measured_resources"] = measured
    samples = report["resolutions"][0]["samples"] if report["resolutions"] else n_samples
    for resolution in report["resolutions"]:
        resolution["hardware"] = design_figures(resolution, measured, samples)
    report.pop("baseline", None)
    for resolution in report["resolutions"]:
        resolution.pop("baseline", None)
        resolution.pop("vs_baseline", None)
    if config.hls.baseline:
        add_baseline(config, run_dir, report, prepared)
    report["hardware_seconds"] = round(time.time() - started, 1)
    write_report(report, Path(run_dir) / "report.json")
    print_hardware(report)
    return report


def _hw_stream(config, run_dir, report, model, hls_model, streaming, x):
    """The streaming twin of an io_stream project (``mrfpga.hls.twin.stream``): Verilator on the C-simulated
    samples as frames at every resolution, back to back (the interval), and the first ``MODEL_FRAMES`` of them
    one at a time (a frame's latency: it does not depend on the values), outputs against the exact reference
    and every frame's cycles against the dataflow model of the C-sim-counted layers; Yosys of the whole
    design."""
    from mrfpga.hls.sim import csim as sim
    from mrfpga.hls.sim.reference import exact_forward
    from mrfpga.hls.twin import stream
    from mrfpga.training.resolution import set_resolution

    layers, depths = streaming
    first, last = layers[0].spec, getattr(layers[-1].spec, "core", layers[-1].spec)
    codes = np.round(np.reshape(x, (len(x), -1)) * 2.0**first.in_frac).astype(np.int64)
    n_res, model_frames = hls_model.n_resolutions, min(len(x), MODEL_FRAMES)
    stage(f"the streaming Verilog twin in Verilator: {len(x)} frames at {n_res} resolutions back to back, the first "
          f"{model_frames} one at a time")  # fmt: skip
    started = time.time()
    rtl, resolutions = Path(run_dir) / RTL, list(range(n_res))
    binary = stream.build_stream_twin(layers, depths, rtl)
    runs = {
        False: stream.run_stream_twin(layers, depths, codes[:model_frames], resolutions, rtl, False, binary),
        True: stream.run_stream_twin(layers, depths, codes, resolutions, rtl, True, binary),
    }
    for r, resolution in enumerate(report["resolutions"]):
        set_resolution(model, r)
        expected = exact_forward(model, x) * 2.0**last.out_frac
        (outputs, single), (streamed, chained) = runs[False][r], runs[True][r]
        latency = [out - first_in + 1 for first_in, out in single]
        intervals = [b - a for (_, a), (_, b) in zip(chained, chained[1:], strict=False)]
        # The model's first frames exactly; back to back, every later frame as the model's last (a frame's timing
        # does not depend on its values, and the model has settled by then).
        one, row = (stream.timing(layers, depths, r, model_frames, mode) for mode in (False, True))
        model_interval = row[-1][1] - row[-2][1] if len(row) > 1 else None
        resolution["rtl_mismatches"] = sim.mismatches(streamed, expected) + sim.mismatches(
            outputs, expected[:model_frames]
        )
        resolution["rtl_cycles"] = {"mean": float(np.mean(latency)), "max": max(latency)}
        if intervals:
            resolution["rtl_cycles"]["interval"] = intervals[-1]
        resolution["rtl_cycles_equal_model"] = bool(
            single == one and chained[:model_frames] == row
            and (model_interval is None or set(intervals[model_frames - 1 :]) <= {model_interval})
        )  # fmt: skip
    set_resolution(model, n_res - 1)
    stage("Yosys synthesis of the streaming Verilog twin (synth_xilinx, xc7; BN multipliers on DSP48E1)")
    synthesis = stream.start_synthesis(layers, depths, Path(run_dir) / RTL)
    prepared = None
    try:
        if config.hls.baseline:  # the plain baseline meanwhile: Yosys is one process, the machine has more cores
            progress("Yosys runs in the background while the plain baseline is made")
            intervals = [design_interval(row) for row in report["resolutions"]]
            prepared = stream_baseline_designs(config, run_dir, intervals)
        measured = synthesis.result(progress)
    finally:
        synthesis.stop()
    return _with_hardware(config, run_dir, report, hls_model, measured, len(x), started, prepared)


def progress(text):
    print(f"  {text}", flush=True)


# -- the figures of a resolution, and the plain baseline beside them ------------------------------------------

FIGURES = ("accuracy", "cycles", "LUT", "FF", "CARRY4", "BRAM_18K", "DSP48E1", "lut_x_cycles", "depth")
DEPTH_KEYS = ("logic_levels", "lut_levels", "CARRY4", "MUXF7", "MUXF8")
BASELINE_BITS = 8
# Lanes of a kind synthesized in the run's baseline (the others counted as their mean): the fewest the plain
# twin samples, to keep 'mrfpga run' short; bench/bench_designs.py can sample more.
BASELINE_LANES = 2


def figures(accuracy, cycles, sized, sources, interval=None):
    """A design's figures at one resolution: accuracy, cycles (latency and interval: an io_parallel chain takes
    a new input when it is done, so they are equal unless ``interval`` says otherwise, as a streaming design's
    does), Yosys' resources and depth, LUT x the interval, and under ``sources`` where each comes from."""
    total = sized["total"]
    resources = f"Yosys: {sized['tool']} ({sized['method']})"
    interval = cycles if interval is None else interval
    return {
        "accuracy": accuracy,
        "cycles": {"latency": int(cycles), "interval": int(interval)},
        **{key: total[key] for key in ("LUT", "FF", "CARRY4", "BRAM_18K", "DSP48E1")},
        "lut_x_cycles": int(total["LUT"] * interval),
        "depth": {key: sized["depth"][key] for key in DEPTH_KEYS} if sized.get("depth") else None,
        "sources": {
            "accuracy": sources["accuracy"],
            "cycles": sources["cycles"],
            **dict.fromkeys(("LUT", "FF", "CARRY4", "BRAM_18K", "DSP48E1"), resources),
            "lut_x_cycles": f"Yosys' LUT x the interval ({sources['cycles']})",
            "depth": "Yosys' longest combinational path between registers (ltp): logic levels (LUT, CARRY4, MUXF7/8 "
            "one each, as Vivado counts them) and the LUTs among them",
        },
    }


def design_figures(resolution, measured, samples):
    """The multi-resolution design's figures at ``resolution`` (a report row with the twin's cycles)."""
    from .report import streamed

    rtl = resolution["rtl_cycles"]
    if streamed(resolution):
        same = resolution.get("rtl_cycles_equal_model")
        check = {True: "; equal to the dataflow model of the C-sim-counted layers", False: "; DIFFERENT from the "
                 "dataflow model of the C-sim-counted layers"}  # fmt: skip
        cycles = (
            f"Verilator on the streaming Verilog twin: the interval frame to frame, {samples} frames back to back; "
            f"the latency of a frame one at a time{check.get(same, '')}"
        )
    else:
        same = resolution.get("rtl_cycles_equal_csim")
        check = {
            True: "; equal to the C-simulation count sample by sample",
            False: "; DIFFERENT from the C-simulation count",
        }
        cycles = f"Verilator on the Verilog twin, the most over {samples} samples{check.get(same, '')}"
    return figures(
        resolution["keras_accuracy"],
        rtl["max"],
        measured,
        {"accuracy": f"Keras, on the {samples} test samples C-simulated", "cycles": cycles},
        design_interval(resolution),
    )


def baseline_config(config, bits=BASELINE_BITS):
    """The plain QKeras baseline of a run: the run's data, model, training settings and board, with scheme and
    method ``qkeras``, ``bits``-bit weights (``quantized_bits``) and activations (``quantized_relu``), the
    activations' integer bits capped at ``bits - 1`` (a fraction bit left: at ``bits`` integer bits QKeras's
    ``quantized_relu`` converts to an integer type that neither rounds nor saturates), the run's bias."""
    raw = config.to_dict()
    q = raw["quantization"]
    q.update(
        scheme="qkeras", weight_bits=bits, activation_bits=bits, qkeras_kernel="quantized_bits",
        activation_integer=min(q["activation_integer"], bits - 1), resolutions=[[1, 1]],
    )  # fmt: skip
    raw["training"]["method"] = "qkeras"
    raw["hls"].update(reuse_factor=1, baseline=False)
    return from_dict(raw)


def train_baseline(config, data, bits=BASELINE_BITS):
    """``(its configuration, the trained model)`` of the run's plain baseline at ``bits`` (``baseline_config``)."""
    baseline = baseline_config(config, bits)
    models, _ = train_method(baseline, data, None, verbose=0)
    return baseline, models["qkeras"]


def keras_accuracy(model, x, y):
    """Keras' test accuracy of ``model`` on ``x`` (the inputs as the kit feeds the board) and labels ``y``."""
    logits = model.predict(model_input(model, x), verbose=0, batch_size=1024)
    return float(np.mean(np.argmax(np.reshape(logits, (len(y), -1)), axis=1) == y))


def plain_chain(config, model, output_dir, layer_reuse=None):
    """The plain twin's chain (``mrfpga.hls.twin.plain``) of a plain QKeras ``model``, converted as ``config``
    says with each Dense layer at its reuse factor in ``layer_reuse`` ({layer name: reuse factor}; None: the
    configuration's). Nothing is written."""
    from mrfpga.hls import convert_from_keras_model
    from mrfpga.hls.twin import plain

    h = config.hls
    layers = {name: {"ReuseFactor": int(reuse)} for name, reuse in (layer_reuse or {}).items()}
    hls_model = convert_from_keras_model(
        model, output_dir, hls_config={"LayerName": layers}, board=h.board, backend=h.backend, io_type="io_parallel",
        clock_period=h.clock_period, reuse_factor=h.reuse_factor, project_name=PROJECT_NAME,
    )  # fmt: skip
    return plain.from_hls_model(hls_model)


def matched_designs(config, model, targets, output_dir, hls4ml_valid=True):
    """For each target (cycles), the reuse factor of the plain ``model`` whose cycles come closest
    (``plain.reuse_for_cycles``; with ``hls4ml_valid``, over hls4ml's valid reuse factors, the ones its Resource
    strategy builds): ``{target: reuse}`` and ``{reuse: chain}``, each chain converted at its layers' reuse
    factors (its cycles checked against the fold's)."""
    from mrfpga.hls.twin import plain

    folded = plain_chain(config, model, output_dir)
    matched, chains = {}, {}
    for target in targets:
        reuse, cycles, chain = plain.reuse_for_cycles(folded, target, hls4ml_valid=hls4ml_valid)
        matched[target] = reuse
        if reuse not in chains:
            layer_reuse = {s.name: s.reuse for s in chain if isinstance(s, plain.PlainDense)}
            converted_chain = plain_chain(config, model, output_dir, layer_reuse)
            if plain.total_cycles(converted_chain) != cycles or converted_chain != chain:
                raise AssertionError(f"reuse {reuse}: the converted baseline differs from the fold ({cycles} cycles)")
            chains[reuse] = converted_chain
    return matched, chains


def size_designs(chains, output_dir, lanes_per_stratum=BASELINE_LANES, cache=None):
    """Yosys figures of each chain (``{reuse: chain}`` of one model), in one run (``plain.synthesize_designs``);
    ``cache`` ({reuse: figures}) holds those sized before and takes the new ones."""
    from mrfpga.hls.twin import plain

    cache = {} if cache is None else cache
    todo = {reuse: chain for reuse, chain in chains.items() if reuse not in cache}
    if todo:
        sized = plain.synthesize_designs(
            {f"r{reuse}": chain for reuse, chain in todo.items()}, output_dir, lanes_per_stratum, progress=progress
        )
        cache.update({reuse: sized[f"r{reuse}"] for reuse in todo})
    return {reuse: cache[reuse] for reuse in chains}


def folding_label(layer_reuse):
    """A plain streaming design's folding in a word: its layers' reuse factors, in order, joined by '/'."""
    return "/".join(str(reuse) for reuse in layer_reuse.values())


def design_interval(row):
    """A streaming design's interval at a report row's resolution, as its figures take it (``design_figures``):
    Verilator's, frame to frame; a frame's cycles when only one frame was simulated."""
    return row["rtl_cycles"].get("interval", row["rtl_cycles"]["max"])


def stream_baseline_designs(config, run_dir, intervals):
    """The plain 8-bit baseline of a streaming design (``mrfpga.hls.twin.plain_stream``): trained now as
    ``add_baseline``'s, converted io_stream by hls4ml, and for each of our ``intervals`` folded layer by layer as
    slowly as that interval allows (its interval at most ours), then sized with Yosys, once per distinct folding.
    What ``attach_stream_baseline`` reports."""
    from mrfpga.hls import convert_from_keras_model
    from mrfpga.hls.twin import plain_stream, stream

    bits = BASELINE_BITS
    baseline, model, out, y, accuracy, trained = trained_baseline(
        config, run_dir, bits, ", as hls4ml's io_stream design"
    )
    h = config.hls
    hls_model = convert_from_keras_model(
        model, out / "hls", board=h.board, backend=h.backend, io_type="io_stream", clock_period=h.clock_period,
        reuse_factor=1, project_name=PROJECT_NAME,
    )  # fmt: skip
    layers, depths = plain_stream.plain_stream_layers(hls_model)
    designs = {}  # folding label: (layers, interval, latency, Yosys figures)
    matched = {}
    for target in sorted(set(intervals)):
        folded = plain_stream.fold_for_interval(layers, target)
        label = folding_label(plain_stream.layer_reuse(folded))
        matched[target] = label
        if label not in designs:
            stage(f"Yosys synthesis of the plain streaming design at reuse factors {label}")
            (first, last), *_ = stream.timing(folded, depths, 0, 1, False)
            sized = plain_stream.synthesize(folded, depths, out / f"yosys_{len(designs)}", progress=progress)
            designs[label] = (folded, stream.interval(folded, depths), last - first + 1, sized)
    return {"config": baseline, "samples": len(y), "accuracy": accuracy, "trained": trained, "designs": designs,
            "matched": matched}  # fmt: skip


def attach_stream_baseline(report, prepared):
    """Each resolution's matched plain streaming design (``stream_baseline_designs``) beside ours in ``report``,
    ours over it in LUT x interval; ``report["baseline"]`` says what it is."""
    from mrfpga.hls.twin import plain_stream

    rows, bits, designs = report["resolutions"], BASELINE_BITS, prepared["designs"]
    baseline, accuracy, samples = prepared["config"], prepared["accuracy"], prepared["samples"]
    source_accuracy = f"Keras, on the same {samples} test samples"
    cycles_source = (
        "the plain streaming twin's dataflow model (its Verilog equals it cycle for cycle in Verilator, "
        "tests/twin/test_plain_stream.py), not simulated in this run: the interval frame to frame back to back, the "
        "latency of a frame alone"
    )
    for row in rows:
        label = prepared["matched"][row["hardware"]["cycles"]["interval"]]
        folded, interval, latency, sized = designs[label]
        entry = figures(accuracy, latency, sized, {"accuracy": source_accuracy, "cycles": cycles_source}, interval)
        entry["reuse_factor"] = label
        entry["layer_reuse"] = plain_stream.layer_reuse(folded)
        entry["within_interval"] = interval <= row["hardware"]["cycles"]["interval"]
        entry["width"] = bits
        row["baseline"] = entry
        row["vs_baseline"] = ratios(row["hardware"], entry)
    report["baseline"] = {
        **baseline_summary(baseline, bits, accuracy, samples, "BN of one resolution"),
        "design": "the plain streaming twin (mrfpga.hls.twin.plain_stream): hls4ml's io_stream design, the same line "
        "buffers, windows, BN and pooling as ours, per window a folded Resource-strategy Dense (bit-parallel LUT "
        "multipliers), hls4ml's read-compute-write Dense",
        "matching": "per resolution, each layer at the largest reuse factor (hls4ml's valid ones; whole outputs per "
        "lane for the Dense) whose interval alone is at most the resolution's measured interval, its fastest if none "
        "is (plain_stream.fold_for_interval); the layers stalling one another can make the design's interval longer "
        "than ours (a row's baseline within_interval is false then)",
        "training_seconds": round(prepared["trained"], 1),
        "sized": {
            label: {
                "layer_reuse": plain_stream.layer_reuse(folded),
                "cycles": {"latency": latency, "interval": interval},
                **{key: sized[key] for key in ("total", "layers", "tool", "method", "seconds")},
            }
            for label, (folded, interval, latency, sized) in designs.items()
        },
    }


def ratios(ours, baseline):
    """Ours over the baseline's, figure by figure (None where the baseline's is 0)."""
    out = {}
    for key in ("LUT", "FF", "BRAM_18K", "lut_x_cycles"):
        out[key] = round(ours[key] / baseline[key], 4) if baseline[key] else None
    out["cycles"] = round(ours["cycles"]["latency"] / baseline["cycles"]["latency"], 4)
    return out


def trained_baseline(config, run_dir, bits, design=""):
    """The run's plain ``bits``-bit baseline trained now (``train_baseline``) and saved under ``rtl/baseline``:
    ``(its configuration, the model, that folder, the test labels, its Keras accuracy on the run's test samples,
    training seconds)``."""
    stage(f"the plain baseline: a {bits}-bit QKeras model of the same architecture, trained on the same data{design}")
    started = time.time()
    baseline, model = train_baseline(config, load_data(config), bits)
    trained = time.time() - started
    out = Path(run_dir) / RTL / "baseline"
    out.mkdir(parents=True, exist_ok=True)
    save_model(model, out / "model.h5")
    x, y = _test_inputs(baseline, run_dir, model)
    accuracy = keras_accuracy(model, x, y)
    print(f"  trained in {trained:.0f} s; Keras accuracy {accuracy:.4f} on {len(y)} test samples", flush=True)
    return baseline, model, out, y, accuracy, trained


def baseline_summary(baseline, bits, accuracy, samples, layers):
    """What a report says of its plain baseline: width, scheme, Keras accuracy and where it comes from."""
    q = baseline.quantization
    return {
        "width": bits,
        "scheme": "qkeras",
        "accuracy": accuracy,
        "samples": samples,
        "source": f"a plain QKeras model of the run's architecture, {bits}-bit weights (quantized_bits) and "
        f"activations (quantized_relu({bits}, {q.activation_integer})), {layers}, trained in this run on the same "
        f"data with the run's training settings ({baseline.training.epochs} epochs, method qkeras); accuracy: "
        f"Keras, on the same {samples} test samples",
    }


def add_baseline(config, run_dir, report, prepared=None):
    """The plain 8-bit baseline beside each resolution: trained now on the run's data with its training
    settings, its Keras accuracy on the same test samples, converted and sized at the reuse factor whose cycles
    come closest to the resolution's (one Yosys run for them all); ``report["baseline"]`` says what it is. A
    streaming design's is ``prepared`` (``stream_baseline_designs``, made while its twin was synthesized)."""
    from mrfpga.hls.twin import plain

    rows = report["resolutions"]
    if prepared is not None:
        return attach_stream_baseline(report, prepared)
    if config.model.kind != "mlp":
        report["baseline"] = {"skipped": f"the plain baseline is built for MLPs, not a {config.model.kind} model"}
        print(f"\nNo plain baseline: {report['baseline']['skipped']}")
        return
    bits = BASELINE_BITS
    baseline, model, out, y, accuracy, trained = trained_baseline(config, run_dir, bits)
    q = baseline.quantization
    targets = sorted({row["hardware"]["cycles"]["latency"] for row in rows})
    matched, chains = matched_designs(baseline, model, targets, out / "hls")
    stage(f"Yosys synthesis of the baseline at reuse factors {sorted(chains)} (the closest cycles)")
    sized = size_designs(chains, out)
    source_accuracy = f"Keras, on the same {len(y)} test samples"
    for row in rows:
        reuse = matched[row["hardware"]["cycles"]["latency"]]
        chain, figures_of = chains[reuse], sized[reuse]
        cycles = plain.total_cycles(chain)
        entry = figures(
            accuracy, cycles, figures_of,
            {"accuracy": source_accuracy, "cycles": "the plain twin's golden model (plain.total_cycles; its Verilog "
             "counts them in Verilator in tests/twin/test_plain.py), not simulated in this run"},
        )  # fmt: skip
        entry["reuse_factor"] = reuse
        entry["layer_reuse"] = {s.name: s.reuse for s in chain if isinstance(s, plain.PlainDense)}
        entry["width"] = bits
        row["baseline"] = entry
        row["vs_baseline"] = ratios(row["hardware"], entry)
    report["baseline"] = {
        **baseline_summary(baseline, bits, accuracy, len(y), f"bias quantized_bits({q.bias_bits}, {q.bias_integer})"),
        "design": "the plain twin (mrfpga.hls.twin.plain): hls4ml's Resource-strategy Dense, folded at a reuse factor, "
        "bit-parallel LUT multipliers, weight ROMs in block RAM from 1,024 bits",
        "matching": "per resolution, the model-wide reuse factor whose cycles come closest to the resolution's, among "
        "hls4ml's valid reuse factors (plain.reuse_for_cycles, hls4ml_valid)",
        "training_seconds": round(trained, 1),
        "sized": {
            str(reuse): {
                "layer_reuse": {s.name: s.reuse for s in chains[reuse] if isinstance(s, plain.PlainDense)},
                "cycles": plain.total_cycles(chains[reuse]),
                **{key: sized[reuse][key] for key in ("total", "layers", "depth", "tool", "method", "seconds")},
            }
            for reuse in sorted(chains)
        },
    }
