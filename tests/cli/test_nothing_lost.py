"""Nothing lost: outputs swapped in only when complete, one writer per run directory, a run stopped at any
instant resumes to the identical model, and every bad input is named before any training (exit 2)."""

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from processes import ctrl_c_as_in_a_terminal

from mrfpga.cli import pipeline
from mrfpga.cli.main import main
from mrfpga.cli.output import OutputLocked, run_lock, staging_path
from mrfpga.cli.run_config import Config, from_dict
from mrfpga.training.data import DataError, load_npz
from mrfpga.training.errors import ConfigError, MrfpgaError

MRFPGA = str(Path(sys.executable).parent / "mrfpga")
ENV = {**os.environ, "TF_DETERMINISTIC_OPS": "1", "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
KILLED = -9


def tiny(epochs=2, **sections):
    """A 16-unit MLP on digits at two resolutions."""
    raw = Config().to_dict()
    raw["model"]["hidden"] = [16]
    raw["quantization"]["resolutions"] = [[2, 8], [3, 20]]
    raw["training"]["epochs"] = epochs
    raw["hls"]["csim_samples"] = 40
    raw["hls"]["measure"] = False  # nothing here is about the Verilog twin
    for section, values in sections.items():
        if isinstance(values, dict):
            raw[section].update(values)
        else:
            raw[section] = values
    return raw


def write_config(path, **sections):
    path.write_text(yaml.safe_dump(tiny(**sections)))
    return path


def mrfpga(*args, stop_at=None, signal="KILL"):
    env = dict(ENV)
    if stop_at:
        env.update(MRFPGA_STOP_AT=stop_at, MRFPGA_STOP_SIGNAL=signal)
    return subprocess.run(
        [MRFPGA, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )


def same_tree(a, b):
    """Equal file lists and contents."""
    compare = filecmp.dircmp(a, b)
    if compare.left_only or compare.right_only or compare.diff_files or compare.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, compare.common_files, shallow=False)
    return not mismatch and not errors and all(same_tree(Path(a) / d, Path(b) / d) for d in compare.common_dirs)


# -- configuration: named at load time, with the key and the allowed range


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"training": {"learning_rate": float("nan")}}, r"training\.learning_rate: nan is not a finite number"),
        ({"training": {"learning_rate": float("inf")}}, r"training\.learning_rate: inf is not a finite number"),
        ({"quantization": {"resolutions": [[3, 20], [2, 8]]}}, r"resolutions\[1\]: \[2, 8\] after \[3, 20\].*increase"),
        ({"quantization": {"resolutions": [[2, 8], [2, 8]]}}, r"resolutions\[1\]: \[2, 8\] after \[2, 8\].*no repeats"),
        ({"quantization": {"resolutions": [[3, 8], [2, 20]]}}, r"resolutions\[1\]: \[2, 20\] after \[3, 8\]"),
        ({"quantization": {"group_size": 0}}, r"quantization\.group_size: 0 is below the minimum 1"),
        ({"quantization": {"weight_bits": 40}}, r"quantization\.weight_bits: 40 out of range 2\.\.16"),
        ({"quantization": {"activation_bits": 0}}, r"quantization\.activation_bits: 0 out of range 1\.\.16"),
        ({"quantization": {"scheme": "onion", "weight_bits": 30}, "training": {"method": "onion"}},
         r"quantization\.weight_bits: 30 out of range 2\.\.24"),
        ({"quantization": {"scheme": "onion", "precisions": [2, 4, 4, 8]}, "training": {"method": "onion"}},
         r"quantization\.precisions\[2\]: 4 after 4"),
        ({"training": {"seed": -5}}, r"training\.seed: -5 out of range 0\.\.4294967295"),
        ({"quantization": {"bias_bits": 48}}, r"quantization\.bias_bits: 48 out of range 2\.\.32"),
        ({"quantization": {"bias_integer": -3}}, r"quantization\.bias_integer: -3 out of range 0\.\.15"),
        ({"quantization": {"bias_bits": 8, "bias_integer": 8}}, r"quantization\.bias_integer: 8 out of range 0\.\.7"),
        ({"hls": {"clock_period": float("inf")}}, r"hls\.clock_period: inf is not a finite number"),
        ({"quantization": {"ratio": [65.0, float("nan"), 5.0]}}, r"quantization\.ratio\[1\]: nan is not a finite"),
        ({"model": {"kind": "custom", "builder": "no_such_module_xyz:build"}}, r"model\.builder: cannot import"),
    ],
)  # fmt: skip
def test_bad_config_is_named_with_its_key_and_range(sections, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(tiny(**sections))


def test_term_scheme_takes_any_weight_width_the_onion_precisions_do_not_limit_it():
    for bits in (4, 6):
        assert from_dict(tiny(quantization={"weight_bits": bits})).quantization.weight_bits == bits


def test_reuse_factor_above_what_the_model_can_use_is_refused_before_training(tmp_path, capsys):
    # A term layer's units own whole outputs: the widest layer, 64 inputs -> 16 units, uses up to 16 rounds.
    config = write_config(tmp_path / "c.yaml", hls={"reuse_factor": 17})
    assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "hls.reuse_factor: 17 out of range 1..16" in err
    assert not (tmp_path / "run").exists() and not staging_path(tmp_path / "run").exists()


# -- data: checked as it loads, before any training


def npz(path, **arrays):
    rng = np.random.default_rng(0)
    base = {
        "x_train": rng.random((40, 6)).astype(np.float32),
        "y_train": np.arange(40) % 3,
        "x_test": rng.random((10, 6)).astype(np.float32),
        "y_test": np.arange(10) % 3,
    }
    np.savez(path, **{**base, **arrays})
    return path


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x_train": np.full((40, 6), np.nan)}, r"x_train has 240 values that are NaN, infinite"),
        ({"x_test": np.full((10, 6), np.inf)}, r"x_test has 60 values that are NaN, infinite"),
        ({"x_train": np.full((40, 6), 1e39)}, r"beyond float32"),
        ({"y_train": np.zeros(40, int), "y_test": np.zeros(10, int)}, r"y_train has only class 0; .* at least two"),
        ({"y_train": np.arange(40) % 2 * 1000, "y_test": np.arange(10) % 2 * 1000},
         r"labels run 0\.\.1000 \(so 1001 outputs\) but 999 of them never occur"),
        ({"y_test": np.full(10, 5)}, r"y_test has labels never seen in training: \[5\]"),
        ({"x_test": np.zeros((0, 6)), "y_test": np.zeros(0, int)}, r"x_test has 0 samples"),
        ({"x_train": np.arange(40.0)}, r"x_train has shape \(40,\); it needs one sample per row"),
        ({"x_test": np.zeros((10, 4))}, r"x_test samples have shape \(4,\) but x_train samples \(6,\)"),
        ({"y_train": np.arange(40) % 3 - 1}, r"y_train must be a 1-D array of non-negative integer"),
        ({"x_train": np.array([["a"] * 6] * 40)}, r"x_train holds <U1 values; it needs numbers"),
    ],
)  # fmt: skip
def test_bad_data_is_named(tmp_path, arrays, message):
    with pytest.raises(DataError, match=message):
        load_npz(npz(tmp_path / "d.npz", **arrays))


def test_npy_and_text_files_are_not_taken_for_data(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(5))
    (tmp_path / "x.txt").write_text("1 2 3\n")
    for name in ("x.npy", "x.txt"):
        with pytest.raises(DataError, match=rf"{name} is not an \.npz archive; write one with numpy\.savez"):
            load_npz(tmp_path / name)


def test_cnn_on_flat_samples_is_named_before_training(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml", data=str(npz(tmp_path / "flat.npz")), model={"kind": "cnn"})
    assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 2
    assert "model.kind: a cnn needs image samples (height, width, channels)" in capsys.readouterr().err


def test_custom_model_that_disagrees_with_the_config_is_named_before_training(tmp_path, monkeypatch, capsys):
    (tmp_path / "plain_models.py").write_text(
        "import tensorflow as tf\n"
        "def one_resolution(input_shape, n_classes, q):\n"
        "    x = tf.keras.Input(input_shape)\n"
        "    return tf.keras.Model(x, tf.keras.layers.Dense(n_classes)(tf.keras.layers.Flatten()(x)))\n"
        "def not_a_model(input_shape, n_classes, q):\n"
        "    return 'a model'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for builder, message in [
        ("one_resolution", "the model has 1 resolutions; the configuration's term scheme names 2"),
        ("not_a_model", "returned str, not a Keras Model"),
    ]:
        config = write_config(tmp_path / "c.yaml", model={"kind": "custom", "builder": f"plain_models:{builder}"})
        assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "run").exists()


# -- the command line: the kit's errors exit 2 with the message; anything else keeps its traceback


def test_only_the_kits_errors_exit_2(tmp_path, monkeypatch, capsys):
    config = write_config(tmp_path / "c.yaml")

    def fails(*args, **kwargs):
        raise ZeroDivisionError("a bug, not the user's")

    monkeypatch.setattr(pipeline, "train_into", fails)
    with pytest.raises(ZeroDivisionError):
        main(["train", str(config), "--out", str(tmp_path / "run")])
    assert issubclass(ConfigError, MrfpgaError) and issubclass(DataError, MrfpgaError)


def test_out_under_a_file_is_named(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml")
    (tmp_path / "file").write_text("")
    assert main(["train", str(config), "--out", str(tmp_path / "file" / "run")]) == 2
    assert f"{tmp_path / 'file'} is a file, not a directory" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare to mount a read-only file system")
def test_out_on_a_read_only_file_system_is_named(tmp_path):
    config = write_config(tmp_path / "c.yaml")
    mount = tmp_path / "ro"
    mount.mkdir()
    script = f"mount -t tmpfs -o ro tmpfs {mount} || exit 77; exec {MRFPGA} train {config} --out {mount}/run"
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], env=ENV, capture_output=True, text=True)
    if done.returncode == 77:
        pytest.skip("no permission to mount a read-only file system")
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"mrfpga train: error: cannot write in {mount}: read-only file system" in done.stderr


def test_a_truncated_model_is_named(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(tiny()))
    (run / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))  # an HDF5 signature, then nothing
    assert main(["convert", str(run)]) == 2
    assert f"{run / 'model.h5'} is not a readable Keras model" in capsys.readouterr().err


def test_one_writer_per_run_directory(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml")
    run = tmp_path / "run"
    with run_lock(run):
        assert main(["train", str(config), "--out", str(run)]) == 2
        assert f"{run} is being written by another mrfpga process (pid {os.getpid()})" in capsys.readouterr().err
        with pytest.raises(OutputLocked):
            with run_lock(run):
                pass
    with run_lock(run):  # released on exit, and the lock file with it
        pass
    assert list(tmp_path.iterdir()) == [config]
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(tiny()))
    with run_lock(run):  # the stages that write into a finished run directory take the same lock
        for command in ("convert", "csim", "synth"):
            assert main([command, str(run)]) == 2
            assert f"{run} is being written by another mrfpga process" in capsys.readouterr().err


# -- stops at any instant


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """A 3-epoch training run, never stopped."""
    root = tmp_path_factory.mktemp("uninterrupted")
    config = write_config(root / "c.yaml", epochs=3)
    done = mrfpga("train", config, "--out", root / "run")
    assert done.returncode == 0, done.stderr[-2000:]
    return config, root / "run"


# Each kind of stop once (an epoch's checkpoint written and committed, the last one included); make test runs
# three of them in a row (a kill mid-epoch, Ctrl-C after a checkpoint is written, a kill in the swap), each run a
# TensorFlow start.
EVERY_STOP = [("batch:1:5", "KILL"), ("written:1", "KILL"), ("written:2", "INT"), ("committed:3", "KILL"),
              ("swap", "KILL")]  # fmt: skip
THREE_STOPS = [("batch:1:5", "KILL"), ("written:2", "INT"), ("swap", "KILL")]


@pytest.mark.slow
@pytest.mark.longest
@pytest.mark.parametrize(
    "stops",
    [
        pytest.param(THREE_STOPS, id="three_stops"),
        pytest.param(EVERY_STOP, id="every_stop", marks=pytest.mark.extended),
    ],
)
def test_a_run_stopped_anywhere_resumes_to_the_identical_model(uninterrupted, tmp_path, stops, capsys):
    """Killed mid-epoch, between writing a checkpoint and committing it, between committing it and deleting
    the previous one, stopped by Ctrl-C, and killed while swapping in the output: each time the same command
    with --resume continues, and the end is bit for bit the uninterrupted model and loss history."""
    config, whole = uninterrupted
    resumed = tmp_path / "resumed"
    for point, signal in stops:
        done = mrfpga("train", config, "--out", resumed, "--resume", stop_at=point, signal=signal)
        if signal == "KILL":
            assert done.returncode == KILLED, (point, done.stderr[-2000:])
        else:
            assert done.returncode == 130, (point, done.stderr[-2000:])
            assert "continue it with the same command plus --resume" in done.stderr
        assert not resumed.exists()
    state = json.loads((staging_path(resumed) / "checkpoints" / "meta" / "trainer_state.json").read_text())
    assert state["epoch"] == 3
    assert main(["train", str(config), "--out", str(resumed)]) == 2  # refused in process: no TensorFlow start
    assert "add --resume to continue it, or --force to discard it" in capsys.readouterr().err
    done = mrfpga("train", config, "--out", resumed, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Resuming after training" in done.stdout
    a, b = pipeline.load_model(whole), pipeline.load_model(resumed)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    loss = json.loads((whole / "training.json").read_text())["loss"]
    assert json.loads((resumed / "training.json").read_text())["loss"] == loss
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resumed"]


@pytest.mark.slow
def test_no_kill_force_or_failing_retry_loses_a_completed_run(uninterrupted, tmp_path, capsys):
    config, whole = uninterrupted
    precious = tmp_path / "o" / "precious"
    shutil.copytree(whole, precious)
    missing_data = write_config(tmp_path / "missing.yaml", data=str(tmp_path / "nowhere.npz"))

    retry = ["train", str(missing_data), "--out", str(precious), "--force"]  # refused: run in process
    killed = mrfpga("train", config, "--out", precious, "--force", stop_at="batch:1:5")
    assert killed.returncode == KILLED and same_tree(whole, precious)
    assert main(retry) == 2 and "nowhere.npz does not exist" in capsys.readouterr().err
    assert same_tree(whole, precious)

    # Killed in the swap itself, with the old run set aside: the next command puts it back first.
    killed = mrfpga("train", config, "--out", precious, "--force", stop_at="swap")
    assert killed.returncode == KILLED and not precious.exists()
    assert main(retry) == 2 and f"restored {precious}" in capsys.readouterr().err
    assert same_tree(whole, precious)
    assert sorted(p.name for p in precious.parent.iterdir()) == ["precious"]


@pytest.mark.slow
def test_run_stopped_after_training_continues_with_resume(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml", epochs=1)
    run = tmp_path / "run"
    stopped = mrfpga("run", config, "--out", run, stop_at="trained", signal="INT")
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert f"the unfinished run is kept in {staging_path(run)}" in stopped.stderr
    assert "--resume" in stopped.stderr and not run.exists()
    assert main(["run", str(config), "--out", str(run), "--resume"]) == 0  # the rest of the run, in process
    out = capsys.readouterr().out
    assert "Resuming after training" in out and "Epoch 1/1" not in out
    report = json.loads((run / "report.json").read_text())
    assert all(r["csim_mismatches"] == 0 for r in report["resolutions"])
    assert main(["run", str(config), "--out", str(run), "--resume"]) == 2
    assert f"'mrfpga csim {run}'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "run"]
    # The scripts and sources that synthesis reads do not name the directory the project was written in
    # (hls4ml_config.yml records it, and the g++ library its build path; neither is read again).
    staged = staging_path(run).name.encode()
    files = [p for p in (run / "hls_project").rglob("*") if p.is_file() and p.suffix not in (".so", ".yml")]
    assert len(files) > 10 and not [p for p in files if staged in p.read_bytes()]
