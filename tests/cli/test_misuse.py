"""Misuse as a new user tries it: nothing of the user's is lost, and every mistake is named with its fix.

--force replaces only what the kit wrote; every command puts back an output a killed swap set aside; a
Ctrl-C says what was kept; a full disk and an unreadable file are named; the configuration and the Python
API refuse what they cannot do, with the key, the value and what is allowed. Each test keeps user files
next to and inside the targets it aims at, and checks they are still there.
"""

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from processes import ctrl_c_as_in_a_terminal

from mrfpga.cli.main import main
from mrfpga.cli.output import MARKER, NotKitOutput, fresh_output, previous_path, staging_path
from mrfpga.cli.run_config import Config, load_config
from mrfpga.training.errors import ConfigError, ConversionError, DataError, SettingWarning

MRFPGA = str(Path(sys.executable).parent / "mrfpga")
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}


def tiny(**sections):
    """A 16-unit MLP on digits at two resolutions, one epoch."""
    raw = Config().to_dict()
    raw["model"]["hidden"] = [16]
    raw["quantization"]["resolutions"] = [[2, 8], [3, 20]]
    raw["training"]["epochs"] = 1
    raw["hls"]["csim_samples"] = 20
    raw["hls"]["measure"] = False
    for section, values in sections.items():
        raw[section].update(values)
    return raw


def write_config(path, **sections):
    path.write_text(yaml.safe_dump(tiny(**sections)))
    return path


def user_files(directory):
    """A user's own files in ``directory``: a note and a subfolder with data."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "notes.txt").write_text("my notes")
    (directory / "mine").mkdir(exist_ok=True)
    (directory / "mine" / "data.csv").write_text("1,2,3\n")
    return {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def still_there(directory, files):
    return all((directory / name).is_file() and (directory / name).read_bytes() == data for name, data in files.items())


def kit_run_dir(path, marker=True):
    """A run directory as the kit writes one (config, model placeholder, training record), without training."""
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(yaml.safe_dump(tiny()))
    (path / "model.h5").write_bytes(b"not trained here")
    (path / "training.json").write_text("{}")
    if marker:
        (path / MARKER).write_text("mrfpga output: run\n")
    return path


def mrfpga(*args, cwd=None, env=None):
    return subprocess.run(
        [MRFPGA, *map(str, args)], capture_output=True, text=True, cwd=cwd, env={**ENV, **(env or {})}, timeout=600,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )  # fmt: skip


# -- --force replaces only the kit's own outputs


def test_force_refuses_an_ordinary_directory_and_keeps_every_file(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml")
    target = tmp_path / "userdir"
    files = user_files(target)
    for extra in ([], ["--force"]):
        assert main(["train", str(config), "--out", str(target), *extra]) == 2
        err = capsys.readouterr().err
        assert f"{target} is not an output of mrfpga (it has no {MARKER} file)" in err
        assert "even with --force" in err and "pass --force" not in err  # no hint that would wipe it
        assert still_there(target, files)
    assert main(["train", str(config), "--out", str(target), "--resume"]) == 2
    assert "is not an output of mrfpga" in capsys.readouterr().err
    assert main(["evaluate", str(config), "--out", str(target), "--force"]) == 2
    assert "is not an output of mrfpga" in capsys.readouterr().err
    assert still_there(target, files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "userdir"]  # no lock, partial or previous left


def test_force_never_replaces_the_current_directory_or_a_parent(tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    files = user_files(work)
    config = write_config(work / "cfg.yaml")
    files[Path("cfg.yaml")] = config.read_bytes()
    monkeypatch.chdir(work)
    for out, where in ((".", "is the current directory"), ("..", f"contains the current directory {work}")):
        assert main(["train", "cfg.yaml", "--out", out, "--force"]) == 2
        assert f"{Path(out).resolve()} {where}; mrfpga never replaces it" in capsys.readouterr().err
    (work / MARKER).write_text("mrfpga output: run\n")  # even one that says it is the kit's
    assert main(["train", "cfg.yaml", "--out", ".", "--force"]) == 2
    assert still_there(work, files)


def test_an_empty_out_is_refused_before_anything(tmp_path, monkeypatch, capsys):
    files = user_files(tmp_path)
    config = write_config(tmp_path / "c.yaml")
    monkeypatch.chdir(tmp_path)
    for command in (["train", str(config), "--out", "", "--force"], ["csim", "", "--force"]):
        with pytest.raises(SystemExit) as stopped:
            main(command)
        assert stopped.value.code == 2
        assert "an empty path; name the directory" in capsys.readouterr().err
    assert still_there(tmp_path, files)


def test_force_refuses_a_kit_output_that_holds_user_files(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml")
    run = kit_run_dir(tmp_path / "run")
    files = user_files(run)
    kit = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert main(["train", str(config), "--out", str(run), "--force"]) == 2
    assert f"{run} holds mine, notes.txt, which mrfpga did not write; move them out" in capsys.readouterr().err
    assert still_there(run, files) and all((run / name).read_bytes() == data for name, data in kit.items())


def test_files_put_in_an_output_while_it_is_rewritten_survive(tmp_path, capsys):
    run = kit_run_dir(tmp_path / "run")
    with pytest.raises(NotKitOutput, match="holds notes.txt, which mrfpga did not write"):
        with fresh_output(run, force=True) as staging:
            (staging / "model.h5").write_text("the new model")
            (run / "notes.txt").write_text("mine")  # while the new output is being written
    assert (run / "notes.txt").read_text() == "mine" and (run / "model.h5").read_bytes() == b"not trained here"
    assert not staging_path(run).exists() and not previous_path(run).exists()
    # An unfinished run resumed into a directory that holds the user's files: refused before it goes on.
    config = write_config(tmp_path / "c.yaml")
    shutil.copytree(run, staging_path(run), ignore=shutil.ignore_patterns("notes.txt", "training.json"))
    assert main(["train", str(config), "--out", str(run), "--resume"]) == 2
    assert f"{run} holds notes.txt, which mrfpga did not write" in capsys.readouterr().err
    assert (run / "notes.txt").read_text() == "mine" and staging_path(run).is_dir()


def test_force_refuses_a_file_and_what_a_link_points_to(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml")
    (tmp_path / "file").write_text("mine")
    assert main(["train", str(config), "--out", str(tmp_path / "file"), "--force"]) == 2
    assert f"{tmp_path / 'file'} is a file, not a directory" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "mine"
    files = user_files(tmp_path / "userdir")
    (tmp_path / "link").symlink_to(tmp_path / "userdir")
    assert main(["train", str(config), "--out", str(tmp_path / "link"), "--force"]) == 2
    assert f"{tmp_path / 'userdir'} is not an output of mrfpga" in capsys.readouterr().err
    assert still_there(tmp_path / "userdir", files) and (tmp_path / "link").is_symlink()


def test_an_output_of_an_older_version_is_recognised_by_its_files(tmp_path, capsys):
    """Without the marker: config.yaml, the model or training record, and only the kit's files."""
    missing = write_config(tmp_path / "c.yaml", data={"source": str(tmp_path / "nowhere.npz")})
    old = kit_run_dir(tmp_path / "old", marker=False)
    before = {p.name: p.read_bytes() for p in old.iterdir()}
    # Accepted for --force: the run goes on to load its data (missing here), and the old run stays.
    assert main(["train", str(missing), "--out", str(old), "--force"]) == 2
    assert "nowhere.npz does not exist" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in old.iterdir()} == before
    (old / "notes.txt").write_text("mine")  # with a file of the user's it is not recognised
    assert main(["train", str(missing), "--out", str(old), "--force"]) == 2
    assert "is not an output of mrfpga" in capsys.readouterr().err
    assert (old / "notes.txt").read_text() == "mine"


def test_a_leftover_partial_that_is_not_the_kits_is_left_alone(tmp_path, capsys):
    missing = write_config(tmp_path / "c.yaml", data={"source": str(tmp_path / "nowhere.npz")})
    partial = staging_path(tmp_path / "run")
    files = user_files(partial)
    assert main(["train", str(missing), "--out", str(tmp_path / "run"), "--force"]) == 2
    assert f"{partial} is not an output of mrfpga" in capsys.readouterr().err
    assert still_there(partial, files)


# -- every command puts back what a killed swap set aside, before it reads the run directory


@pytest.mark.parametrize(
    "command, status, message",
    [
        (["convert"], 2, "model.h5 is not a readable Keras model"),
        (["csim", "--force"], 2, "model.h5 is not a readable Keras model"),
        (["hw"], 2, "report.json does not exist; run 'mrfpga csim"),
        (["synth"], 2, "hls_project does not exist; run 'mrfpga convert"),
        (["report"], 2, "no hls4ml project"),
    ],
)
def test_every_command_restores_a_run_a_killed_swap_set_aside(tmp_path, capsys, command, status, message):
    run = kit_run_dir(tmp_path / "run")
    files = user_files(tmp_path)  # next to the run
    run.rename(previous_path(run))  # what a swap killed between its two renames leaves
    assert main([command[0], str(run), *command[1:]]) == status
    err = capsys.readouterr().err
    assert f"restored {run}, which a stopped run had set aside" in err and message in err
    assert "is not a run directory" not in err
    assert (run / "config.yaml").is_file() and not previous_path(run).exists()
    assert still_there(tmp_path, files)


def test_a_set_aside_hls_project_is_restored_too(tmp_path, capsys):
    run = kit_run_dir(tmp_path / "run")
    project = run / "hls_project"
    project.mkdir()
    (project / MARKER).write_text("mrfpga output: hls_project\n")
    project.rename(previous_path(project))
    assert main(["synth", str(run)]) == 3  # the project is back; only the vendor tool is missing
    assert f"restored {project}" in capsys.readouterr().err
    assert project.is_dir() and not previous_path(project).exists()


def test_a_missing_run_directory_is_named_as_missing(tmp_path, capsys):
    assert main(["csim", str(tmp_path / "run")]) == 2
    assert f"{tmp_path / 'run'} does not exist; train first" in capsys.readouterr().err
    staging_path(tmp_path / "run").mkdir()
    assert main(["convert", str(tmp_path / "run")]) == 2
    assert "its training is unfinished in" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == [staging_path(tmp_path / "run").name]


# -- a trained run for the tests that need one (1 epoch)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    config = write_config(root / "c.yaml")
    assert main(["train", str(config), "--out", str(root / "run")]) == 0
    return config, root / "run"


@pytest.mark.slow
def test_force_replaces_a_kit_output_and_leaves_the_files_beside_it(trained, tmp_path):
    config, run = trained
    assert (run / MARKER).read_text().startswith("mrfpga output: run")
    files = user_files(tmp_path / "o")
    target = tmp_path / "o" / "run"
    shutil.copytree(run, target)
    assert main(["train", str(config), "--out", str(target), "--force"]) == 0
    assert (target / MARKER).is_file() and (target / "model.h5").is_file()
    assert still_there(tmp_path / "o", files)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["mine", "notes.txt", "run"]


@pytest.mark.slow
def test_ctrl_c_after_convert_swapped_in_its_project_says_so(trained, tmp_path):
    _, run = trained
    target = tmp_path / "run"
    shutil.copytree(run, target)
    files = user_files(tmp_path)
    done = mrfpga("convert", target, "--force", env={"MRFPGA_STOP_AT": "swapped", "MRFPGA_STOP_SIGNAL": "INT"})
    assert done.returncode == 130, done.stderr[-2000:]
    assert f"stopped: {target / 'hls_project'} is complete and in place" in done.stderr
    assert (target / "hls_project" / MARKER).is_file()
    # Stopped between the swap's renames, the old project goes back.
    done = mrfpga("convert", target, "--force", env={"MRFPGA_STOP_AT": "swap", "MRFPGA_STOP_SIGNAL": "INT"})
    assert done.returncode == 130
    assert f"stopped: nothing was written; {target / 'hls_project'} is untouched" in done.stderr
    assert (target / "hls_project" / MARKER).is_file()
    assert sorted(p.name for p in target.iterdir() if p.name.startswith(".")) == [MARKER]
    assert still_there(tmp_path, files)


# -- a full disk is named: device, file, what to do; what was kept


def _on_a_small_disk(size, script, tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    line = f"mount -t tmpfs -o size={size} tmpfs {mount} || exit 77; {script.format(disk=mount)}"
    done = subprocess.run(["unshare", "-m", "sh", "-c", line], env=ENV, capture_output=True, text=True, timeout=600)
    if done.returncode == 77:
        pytest.skip("no permission to mount a small file system (needs root and unshare)")
    return done, mount


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare to mount a small file system")
def test_disk_full_while_training_is_named_and_the_partial_run_kept(trained, tmp_path):
    config, _ = trained
    # Room for the configuration and a checkpoint, not for the saved models.
    done, disk = _on_a_small_disk("80k", f"{MRFPGA} train {config} --out {{disk}}/run; echo status=$?", tmp_path)
    err = done.stderr
    assert "status=2" in done.stdout and "Traceback" not in err, err[-3000:]
    assert f"mrfpga train: error: no space left on tmpfs (the file system at {disk}) while writing" in err
    assert f"{disk}/.run.partial" in err and "free some space there" in err
    assert "the unfinished run is kept" in err and "--resume" in err


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare to mount a small file system")
def test_disk_full_while_converting_is_named_and_the_run_untouched(trained, tmp_path):
    _, run = trained
    size = sum(p.stat().st_size for p in run.rglob("*") if p.is_file())
    script = f"cp -a {run} {{disk}}/run && {MRFPGA} convert {{disk}}/run; echo status=$? LISTING; ls -A {{disk}}/run"
    done, disk = _on_a_small_disk(f"{size // 1024 + 200}k", script, tmp_path)
    err = done.stderr
    assert "status=2" in done.stdout and "Traceback" not in err, err[-3000:]
    assert f"no space left on tmpfs (the file system at {disk}) while writing {disk}/run/.hls_project.partial/" in err
    assert f"{disk}/run/hls_project was not created" in err
    left = done.stdout.split("LISTING", 1)[1].split()
    assert sorted(left) == sorted(p.name for p in run.iterdir())  # nothing left over


# -- unreadable files


def test_a_config_that_is_not_utf8_or_is_a_directory_is_named(tmp_path, capsys):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("model:\n  kind: mlp  # caf\xe9\n".encode("latin-1"))
    assert main(["train", str(latin), "--out", str(tmp_path / "run")]) == 2
    assert f"config file {latin} is not UTF-8 text (byte 0xe9 at offset 25); save it as UTF-8" in (
        capsys.readouterr().err
    )
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    assert f"config file {tmp_path} is a directory; give the file itself" in capsys.readouterr().err
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config = write_config(tmp_path / "c.yaml", data={"source": "data"})
    assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 2
    assert f"data.source: {data_dir} is a directory; give the .npz file itself" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# -- the configuration


def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  epochs: 5\n  batch_size: 32\n  epochs: 40\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: training\.epochs is given twice, on lines 2 and 4; keep one"):
        load_config(path)
    path.write_text("hls: {board: pynq-z2}\nmodel: {hidden: [8]}\nhls: {board: zc706}\n")
    with pytest.raises(ConfigError, match=r"hls is given twice, on lines 1 and 3"):
        load_config(path)


def test_scientific_notation_is_a_float(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  learning_rate: 1e-3\n  distillation_temperature: 2.5E+0\n")
    config = load_config(path)
    assert config.training.learning_rate == 0.001 and config.training.distillation_temperature == 2.5
    path.write_text("training:\n  epochs: 1e3\n")
    with pytest.raises(ConfigError, match=r"training\.epochs: expected int, got 1000\.0"):
        load_config(path)


@pytest.mark.parametrize(
    "quantization, message",
    [
        ({"scheme": "onion", "group_size": 4}, r"quantization\.group_size: 4 would have no effect: the onion scheme's "
         r"groups are always 8 weights"),
        ({"scheme": "onion", "resolutions": [[2, 8]]}, r"quantization\.resolutions: .* resolutions are "
         r"quantization\.precisions"),
        ({"scheme": "rowwise", "activation_bits": 6}, r"quantization\.activation_bits: 6 would have no effect: the "
         r"rowwise scheme's activations are always 4-bit"),
        ({"scheme": "qkeras", "encoding": "hese"}, r"quantization\.encoding: hese would have no effect"),
    ],
)  # fmt: skip
def test_a_setting_the_scheme_overrides_is_refused(tmp_path, capsys, quantization, message):
    method = {"onion": "onion", "rowwise": "rowwise", "qkeras": "qkeras"}[quantization["scheme"]]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"quantization": quantization, "training": {"method": method}}))
    with pytest.raises(ConfigError, match=message):
        load_config(path)
    # evaluate trains every scheme from the one file: there the key is used
    assert load_config(path, all_methods=True).quantization.scheme == quantization["scheme"]


def test_the_value_a_scheme_uses_anyway_is_accepted(tmp_path):
    path = tmp_path / "c.yaml"
    for group_size in (8, 16):  # onion's own, and the default a run's config.yaml repeats
        path.write_text(yaml.safe_dump({"quantization": {"scheme": "onion", "group_size": group_size},
                                        "training": {"method": "onion"}}))  # fmt: skip
        assert load_config(path).quantization.group_size == group_size


def test_weight_budgets_are_checked_against_the_groups_the_layers_really_have(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml", quantization={"group_size": 1000, "resolutions": [[2, 8], [3, 5000]]})
    assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 2
    assert (
        "quantization.resolutions[1]: weight terms 5000 can never be reached: the most any layer's group holds is "
        "576, in layer dense_0 (64 inputs, so groups of 64 weights, 9 terms each at weight_bits 8); use at most 576"
    ) in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not staging_path(tmp_path / "run").exists()


def test_a_clock_no_fabric_reaches_is_refused_and_a_fast_one_warned(tmp_path, capsys):
    for period, message in [
        (0.01, "hls.clock_period: 0.01 ns (100 GHz) is beyond any FPGA fabric; xc7z020clg400-1 (pynq-z2) "
         "practically runs at up to about 500 MHz"),
        (-1, "hls.clock_period: -1.0 ns is not a clock period; give it in ns above 0 (pynq-z2's default is 10 ns)"),
        (0, "hls.clock_period: 0.0 ns is not a clock period"),
    ]:  # fmt: skip
        config = write_config(tmp_path / "c.yaml", hls={"clock_period": period})
        assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 2
        assert f"mrfpga train: error: {message}" in capsys.readouterr().err
    missing = {"source": str(tmp_path / "nowhere.npz")}  # stops the run after the configuration loaded
    config = write_config(tmp_path / "c.yaml", hls={"clock_period": 1.5, "board": "zc706"}, data=missing)
    assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 2
    assert (
        "mrfpga train: warning: hls.clock_period: 1.5 ns (667 MHz) is faster than xc7z045ffg900-2 (zc706) "
        "practically runs at up to about 500 MHz, a 2 ns period: synthesis will likely miss timing"
    ) in capsys.readouterr().err
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_config(write_config(tmp_path / "c.yaml", hls={"clock_period": 2})).hls.clock_period == 2
    assert not [w for w in caught if issubclass(w.category, SettingWarning)]


# -- the Python API: the same checks as the configuration


@pytest.fixture(scope="module")
def small_model():
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    from mrfpga.training import quantized_data_term, quantized_term

    x = tf.keras.Input((6,))
    h = QActivation(quantized_data_term(4, 1, [2, 5]))(x)
    out = QDense(3, kernel_quantizer=quantized_term(4, 4, [2, 8]), bias_quantizer=quantized_bits(8, 3, alpha=1))(h)
    return tf.keras.Model(x, out)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"io_type": "io_serial"}, r"io_type: 'io_serial' is not one of io_parallel, io_stream"),
        ({"reuse_factor": 0}, r"reuse_factor: 0 is below the minimum 1"),
        ({"reuse_factor": 2.5}, r"reuse_factor: expected an integer of at least 1, got 2\.5"),
        ({"clock_period": -1}, r"clock_period: -1 ns is not a clock period"),
        ({"clock_period": 0.01}, r"clock_period: 0\.01 ns \(100 GHz\) is beyond any FPGA fabric"),
        ({"board": "kv260"}, r"board: unknown board 'kv260'; known boards: pynq-z2"),
        ({"backend": "Quartus"}, r"backend: 'Quartus' is not one of Vivado, Vitis"),
    ],
)
def test_the_api_refuses_what_the_command_line_refuses(small_model, tmp_path, arguments, message):
    import mrfpga.hls

    with pytest.raises(ConfigError, match=message):
        mrfpga.hls.convert_from_keras_model(small_model, tmp_path / "prj", **arguments)
    with pytest.raises(ConfigError, match=message):
        mrfpga.hls.config_from_keras_model(small_model, **arguments)
    assert not (tmp_path / "prj").exists()


def test_the_api_checks_an_edited_config(small_model, tmp_path):
    import mrfpga.hls

    config = mrfpga.hls.config_from_keras_model(small_model)
    layer = next(iter(config["LayerName"]))
    for edit, message in [
        (lambda c: c["LayerName"][layer].update(ReuseFactor=0), rf"\['LayerName'\]\['{layer}'\]\['ReuseFactor'\]: 0"),
        (lambda c: c["LayerName"][layer].update(Strategy="Resource"), r"unknown key 'Strategy'; the kit reads"),
        (lambda c: c.update(IOType="io_serial"), r"io_type: 'io_serial' is not one of"),
        (lambda c: c.update(ClockPeriod=-1), r"clock_period: -1 ns is not a clock period"),
        (lambda c: c["Model"].update(MMACUnit="adder"), r"\['Model'\]\['MMACUnit'\]: 'adder' is not one of"),
        (lambda c: c["LayerName"][layer].update(TermLanes=0), rf"\['LayerName'\]\['{layer}'\]\['TermLanes'\]: 0"),
        (lambda c: c["Model"].update(TermLanes=2), r"\['Model'\]: TermLanes is a layer's setting"),
    ]:
        edited = mrfpga.hls.config_from_keras_model(small_model)
        edit(edited)
        with pytest.raises(ConfigError, match=message):
            mrfpga.hls.convert_from_keras_model(small_model, tmp_path / "prj", hls_config=edited)
    # An explicit argument overrides the config, zero included: refused, not replaced by the config's value.
    with pytest.raises(ConfigError, match="reuse_factor: 0 is below"):
        mrfpga.hls.convert_from_keras_model(small_model, tmp_path / "prj", hls_config=config, reuse_factor=0)


def test_predict_refuses_a_bad_resolution_or_input(small_model, tmp_path):
    import mrfpga.hls

    hls_model = mrfpga.hls.convert_from_keras_model(small_model, tmp_path / "prj")  # not compiled: checks come first
    for resolution, message in [
        (1.7, r"resolution: 1\.7 is not an index; give an integer 0\.\.1"),
        (2, r"resolution: 2 is out of range: the model has 2, indices 0\.\.1"),
        (-1, r"resolution: -1 is out of range"),
        (True, r"resolution: True is not an index"),
    ]:
        with pytest.raises(ConfigError, match=message):
            hls_model.predict(np.zeros((2, 6)), resolution=resolution)
    for x, message in [
        (np.zeros((2, 5)), r"x has shape \(2, 5\); predict takes an array of shape \(samples, 6\)"),
        (np.zeros(7), r"x has shape \(7,\)"),
        (np.full((2, 6), np.nan), r"x has 12 values that are NaN or infinite"),
        (np.zeros((0, 6)), r"x has no samples"),
        ([["a"] * 6], r"x is not an array of numbers"),
    ]:
        with pytest.raises(DataError, match=message):
            hls_model.predict(x, resolution=0)
        with pytest.raises(DataError, match=message):
            hls_model.snap_to_input_grid(x)


def test_an_unsupported_layer_is_named_with_its_class_and_what_is_supported(tmp_path):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    import mrfpga.hls
    from mrfpga.training import quantized_data_term, quantized_term

    x = tf.keras.Input((5, 4))
    h = tf.keras.layers.LSTM(6, name="lstm")(x)
    h = QActivation(quantized_data_term(4, 1, [2, 5]))(h)
    out = QDense(3, kernel_quantizer=quantized_term(4, 4, [2, 8]), bias_quantizer=quantized_bits(8, 3, alpha=1))(h)
    with pytest.raises(ConversionError, match=r"layer lstm: LSTM is not supported by the kit's conversion; it converts "
                       r"QDense, QConv2D, QActivation"):  # fmt: skip
        mrfpga.hls.convert_from_keras_model(tf.keras.Model(x, out), tmp_path / "prj")
    assert not (tmp_path / "prj").exists()
