"""The main job in stages: train -> convert -> C-simulate and report.

A run directory holds ``config.yaml``, ``model.h5``, ``training.json``,
``hls_project/``, ``report.json`` and ``accuracy_cycles.png``.
"""

import contextlib
import json
import time
from pathlib import Path

import numpy as np
import yaml

from mrfpga.training import data as datasets
from mrfpga.training.methods import train as train_method
from mrfpga.training.models import model_input
from mrfpga.training.quantizers import n_resolutions, set_resolution

from .config import from_dict
from .output import OutputExists, fresh_output

PROJECT = "hls_project"
PROJECT_NAME = "myproject"
INPUT = "input.json"  # the normalization and input grid the model was trained with


def stage(text):
    print(f"\n== {text}", flush=True)


def load_model(run_dir, name="model.h5"):
    from tensorflow import keras

    from mrfpga.training.quantizers import custom_objects

    return keras.models.load_model(Path(run_dir) / name, custom_objects=custom_objects(), compile=False)


def load_run_config(run_dir):
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory: {path.name} is missing (run 'mrfpga train' first)")
    return from_dict(yaml.safe_load(path.read_text()))


def primary(models):
    """The model a run converts: the meta model, or the one that stands for the method."""
    for name in ("meta", "post_training", "onion", "rowwise", "qkeras"):
        if name in models:
            return models[name]
    return models[sorted(models)[-1]]  # individual: the highest resolution's


def load_data(config):
    """The configured data set, normalized as ``data.normalize`` says."""
    return datasets.load(config.data.source, config.training.seed, config.data.normalize)


def describe_input(config, data):
    """What the model's first layer receives: the normalization, the grid, the out-of-grid fractions of
    the training and test values, and a warning for each past 0.1%."""
    from mrfpga.training.methods import input_grid

    normalization = None if data.normalization is None else data.normalization.to_dict()
    if config.model.kind == "custom":  # the builder makes its own first layer
        return {"normalization": normalization, "input_grid": None, "out_of_grid": None, "warnings": []}
    grid = input_grid(config, data)
    warnings = [w for w in (grid.warning(data.x_train), grid.warning(data.x_test, "test")) if w]
    return {
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
    ``input.json`` (normalization and input grid)."""
    run_dir = Path(run_dir)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    data = load_data(config)
    stage(
        f"training ({config.training.method}) a {config.model.kind} on {data.name}: {data.n_inputs} inputs, "
        f"{data.n_classes} classes, scheme {config.quantization.scheme}"
    )
    described = describe_input(config, data)
    (run_dir / INPUT).write_text(json.dumps(described, indent=2))
    print(f"  input grid: {described['input_grid']}, normalization: {config.data.normalize}", flush=True)
    for warning in described["warnings"]:
        print(f"WARNING: {warning}", flush=True)
    started = time.time()
    models, histories = train_method(config, data, run_dir / "checkpoints", verbose)
    (run_dir / "models").mkdir(exist_ok=True)
    for name, model in models.items():
        model.save(run_dir / "models" / f"{name}.h5")
    model = primary(models)
    model.save(run_dir / "model.h5")
    summary = {"loss": histories, "seconds": time.time() - started, "models": sorted(models)}
    (run_dir / "training.json").write_text(json.dumps(summary, indent=2))
    return model


def convert(config, run_dir, model=None, force=False):
    from mrfpga.hls.convert import convert as convert_model

    model = model or load_model(run_dir)
    h = config.hls
    with fresh_output(Path(run_dir) / PROJECT, force) as project:
        stage(f"converting to one HLS project for {h.board} ({h.backend}, {h.io_type}) in {project}")
        hls_model = convert_model(
            model, project, h.board, h.backend, h.io_type, h.clock_period, h.reuse_factor, PROJECT_NAME
        )
        hls_model.write()
        finish_project(config, project, hls_model)
    return hls_model


def finish_project(config, project, hls_model):
    """What the kit adds to hls4ml's project, run again after hls4ml's compile() (it rewrites the project):
    io_parallel: the top's ports on one AXI-Lite slave; io_stream: the AXI-Stream wrapper top
    (``firmware/<name>_axis.cpp``, the HLS top and so the exported IP); then the Vivado script for that IP."""
    from mrfpga.hls.axis_wrapper import axis_top, use_axis_top, write_axis_wrapper
    from mrfpga.hls.vivado_project import use_axi_lite_interface, write_vivado_scripts

    h = config.hls
    top = PROJECT_NAME
    if h.io_type == "io_stream":
        write_axis_wrapper(hls_model, project)
        use_axis_top(project, PROJECT_NAME)
        top = axis_top(PROJECT_NAME)
    else:
        use_axi_lite_interface(project, PROJECT_NAME, h.io_type)
    write_vivado_scripts(project, h.board, h.io_type, h.clock_period, PROJECT_NAME, top=top)


def check_axis_wrapper(project, predicted, samples_per_call=16):
    """The io_stream IP's top, ``<name>_axis()``, on tb_data: its testbench fails on any word that differs
    from the hls4ml top's or a misplaced TLAST; its unpacked outputs must also equal ``predict`` exactly."""
    from mrfpga.hls import axis_wrapper
    from mrfpga.hls.csim import CsimError, mismatches

    stage(f"C simulation with g++: the AXI-Stream top {axis_wrapper.axis_top(PROJECT_NAME)}() on tb_data")
    axis_wrapper.compile_axis_testbench(project, PROJECT_NAME)
    out = axis_wrapper.run_axis_testbench(project, predicted[0].shape[1], samples_per_call)
    n = len(predicted[0])
    bad = {r: mismatches(out[r * n : (r + 1) * n], p) for r, p in enumerate(predicted)}
    bad = {r: m for r, m in bad.items() if m}
    if bad:
        raise CsimError(f"the AXI-Stream top differs from predict (resolution: mismatching samples): {bad}")
    print(f"  0 mismatches at {len(predicted)} resolutions, {samples_per_call} samples per call", flush=True)


def _test_inputs(config, run_dir, model):
    """The test split as the kit feeds the board: normalized with the stored normalization, then snapped
    to the HLS input port's grid."""
    from mrfpga.hls.convert import input_port_type
    from mrfpga.hls.csim import snap_to_input_grid

    stored = load_input(run_dir)
    normalization = datasets.Normalization.from_dict(stored["normalization"]) if stored else None
    if normalization is None and config.data.normalize != "none":
        raise FileNotFoundError(f"{Path(run_dir) / INPUT} is missing: the run's normalization is unknown")
    data = datasets.load(config.data.source, config.training.seed, normalization=normalization)
    n = config.hls.csim_samples or len(data.x_test)
    return snap_to_input_grid(data.x_test[:n], *input_port_type(model)), data.y_test[:n]


def csim(config, run_dir, model=None, hls_model=None, force=False):
    """C-simulate every resolution both ways, compare exactly, estimate, write the report and the plot."""
    from mrfpga.hls import csim as sim
    from mrfpga.hls.estimate import estimate
    from mrfpga.hls.reference import exact_forward

    from .report import build_report, print_table, write_plot

    run_dir = Path(run_dir)
    report_path = run_dir / "report.json"
    if report_path.exists() and not force:
        raise OutputExists(f"{report_path} already exists; pass --force to replace it")
    model = model or load_model(run_dir)
    if hls_model is None:
        hls_model = convert(config, run_dir, model, force=True)
    project = run_dir / PROJECT
    x, y = _test_inputs(config, run_dir, model)
    x = model_input(model, x)
    n_res = n_resolutions(model)
    stage(f"C simulation with g++: hls4ml compile/predict at {n_res} resolutions on {len(x)} samples")
    hls_model.compile()
    rows = []
    for r in range(n_res):
        set_resolution(model, r)
        keras_out = model.predict(x, verbose=0, batch_size=1024).astype(np.float64)
        exact = exact_forward(model, x)
        rows.append({"keras": keras_out, "exact": exact, "predict": sim.predict(hls_model, x, r)})
        print(f"  resolution {r}: {sim.mismatches(rows[-1]['predict'], exact)} mismatches", flush=True)
    set_resolution(model, n_res - 1)

    stage("C simulation with g++: the generated testbench on tb_data")
    sim.write_tb_data(project, x, [row["exact"] for row in rows])
    sim.patch_testbench_precision(project, PROJECT_NAME)
    finish_project(config, project, hls_model)
    sim.compile_testbench(project, PROJECT_NAME)
    tb_out = sim.run_testbench(project, rows[0]["exact"].shape[1])
    for r, row in enumerate(rows):
        row["testbench"] = tb_out[r * len(x) : (r + 1) * len(x)]
    if config.hls.io_type == "io_stream":
        check_axis_wrapper(project, [row["predict"] for row in rows])

    estimates = estimate(hls_model, n_res, hls_model.mrfpga_board)
    report = build_report(config, hls_model, project, rows, y, estimates, load_input(run_dir))
    tmp = report_path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(report_path)
    write_plot(report, run_dir / "accuracy_cycles.png")
    print_table(report)
    for warning in report["warnings"]:
        print(f"WARNING: {warning}")
    return report


def training_output(config, run_dir, force, resume):
    """The run directory: new (``fresh_output``), or with ``resume`` the interrupted run's own."""
    run_dir = Path(run_dir)
    if resume and run_dir.exists():
        saved = load_run_config(run_dir)
        if saved.to_dict() != config.to_dict():
            raise ValueError(f"{run_dir} was started with another configuration; resume it with the same one")
        if (run_dir / "model.h5").exists():
            raise OutputExists(f"{run_dir} has finished training; nothing to resume")
        return contextlib.nullcontext(run_dir.resolve())
    return fresh_output(run_dir, force, keep_on_interrupt=True)


def train_into(config, run_dir, force=False, resume=False, verbose=1):
    with training_output(config, run_dir, force, resume) as out:
        return train(config, out, verbose)


def run(config, run_dir, force=False, verbose=1, resume=False):
    """The main job: train, convert, C-simulate and report into a new ``run_dir``."""
    with training_output(config, run_dir, force, resume) as out:
        model = train(config, out, verbose)
        hls_model = convert(config, out, model)
        return csim(config, out, model, hls_model)
