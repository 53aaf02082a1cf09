"""Bad input gets a clear error naming the problem, and nothing is lost or half-written."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from mrfpga.cli.main import main
from mrfpga.cli.run_config import Config, from_dict, load_config
from mrfpga.hls.package_data import package_dir
from mrfpga.hls.project.boards import known_boards, load_board
from mrfpga.training.errors import ConfigError


def write_config(path, **sections):
    raw = Config().to_dict()
    for section, values in sections.items():
        if isinstance(values, dict):
            raw[section].update(values)
        else:
            raw[section] = values
    path.write_text(yaml.safe_dump(raw))
    return path


def test_embedded_default_is_the_reference_setup():
    config = load_config(package_dir("examples") / "digits_mlp.yaml")
    assert config.data.source == "digits" and config.data.normalize == "none"
    assert config.quantization.resolutions == [[2, 8], [2, 10], [2, 12], [2, 14], [3, 14], [3, 16], [3, 18], [3, 20]]
    assert config.quantization.group_size == 16 and config.quantization.encoding == "naf"
    assert config.hls.board == "pynq-z2"


def test_kit_data_ships_with_the_install():
    # The suite runs against a plain (non-editable) install: data must be in site-packages.
    assert "site-packages" in str(package_dir("templates"))
    assert any(package_dir("templates").glob("nnet_*.h"))
    assert set(known_boards()) == {"pynq-z2", "zedboard", "zc706", "vc707"}


@pytest.mark.parametrize(
    "board, part, dsp",
    [("pynq-z2", "xc7z020clg400-1", 220), ("zedboard", "xc7z020clg484-1", 220), ("zc706", "xc7z045ffg900-2", 900),
     ("vc707", "xc7vx485tffg1761-2", 2800)],
)  # fmt: skip
def test_boards(board, part, dsp):
    b = load_board(board)
    assert (b.part, b.resources["DSP48E1"], b.clock_period_ns) == (part, dsp, 10.0)


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown board 'kv260'.*pynq-z2.*zc706"):
        load_board("kv260")
    with pytest.raises(ConfigError, match="hls.board"):
        from_dict({"hls": {"board": "kv260"}})


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"quantization": {"group_sise": 8}}, r"quantization\.group_sise: unknown key"),
        ({"trainig": {}}, r"trainig: unknown key"),
        ({"training": {"epochs": "ten"}}, r"training\.epochs: expected int"),
        ({"training": {"epochs": True}}, r"training\.epochs: expected int"),
        ({"model": {"hidden": [64, -1]}}, r"model\.hidden"),
        ({"quantization": {"resolutions": [[2, 8, 1]]}}, r"resolutions\[0\]: expected a pair"),
        ({"quantization": {"resolutions": [[2, 500]]}}, r"resolutions\[0\]: weight terms 500 out of range"),
        ({"quantization": {"resolutions": [[0, 8]]}}, r"resolutions\[0\]: data terms 0 out of range"),
        ({"quantization": {"encoding": "csd"}}, r"quantization\.encoding: 'csd' is not one of"),
        ({"hls": {"backend": "Quartus"}}, r"hls\.backend"),
        ({"training": "fast"}, r"training: expected a mapping"),
        ({"training": {"jit_compile": "always"}}, r"training\.jit_compile: 'always' is not auto, true or false"),
        ({"training": {"jit_compile": True, "strategy": "mirrored"}}, r"training\.jit_compile: true needs"),
        ({"training": {"distillation_alpha": 1}}, r"training\.distillation_alpha: 1\.0 out of range: 0 <= alpha < 1"),
        ({"training": {"distillation_temperature": 0}}, r"training\.distillation_temperature: 0\.0 must be above 0"),
    ],
)
def test_malformed_config_names_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(raw)


def test_not_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_existing_output_is_refused_without_force(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml")
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    # Not the kit's: refused with or without --force, and no hint to force it.
    for force in ([], ["--force"]):
        assert main(["run", str(config), "--out", str(out), *force]) == 2
        err = capsys.readouterr().err
        assert "is not an output of mrfpga" in err and "pass --force" not in err
        assert (out / "keep.txt").read_text() == "mine"
    (out / "keep.txt").unlink()
    (out / "config.yaml").write_text(yaml.safe_dump(Config().to_dict()))
    (out / ".mrfpga-output").write_text("mrfpga output: run\n")
    assert main(["run", str(config), "--out", str(out)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err


def test_failed_run_leaves_nothing_and_restores_what_force_set_aside(tmp_path, capsys):
    bad_data = tmp_path / "bad.npz"
    np.savez(bad_data, x_train=np.zeros((4, 3)))  # y_train, x_test, y_test missing
    config = write_config(tmp_path / "c.yaml", data=str(bad_data))
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out)]) == 2
    assert "missing arrays" in capsys.readouterr().err
    assert not out.exists()
    out.mkdir()
    (out / "config.yaml").write_text("kept: the old run's\n")
    (out / "model.h5").write_text("the old run's model")
    (out / ".mrfpga-output").write_text("mrfpga output: run\n")
    assert main(["run", str(config), "--out", str(out), "--force"]) == 2
    assert "missing arrays" in capsys.readouterr().err
    assert (out / "config.yaml").read_text() == "kept: the old run's\n"
    assert (out / "model.h5").read_text() == "the old run's model"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_synth_without_tools_names_tool_and_command(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "hls_project").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(Config().to_dict()))
    assert main(["synth", str(run)]) == 3
    err = capsys.readouterr().err
    assert "vivado_hls is not on PATH" in err and "vivado_hls -f build_prj.tcl" in err
    config = Config().to_dict()
    config["hls"]["backend"] = "Vitis"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["synth", str(run)]) == 3
    assert "vitis-run --tcl build_prj.tcl --mode hls" in capsys.readouterr().err
    assert main(["synth", str(run), "--bitstream"]) == 3
    err = capsys.readouterr().err
    assert "export 1" in err and "vivado -mode batch -source vivado/build_bitstream.tcl" in err


def test_installed_command_line_entry_point():
    done = subprocess.run([str(Path(sys.executable).parent / "mrfpga"), "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for command in ("run", "train", "convert", "csim", "synth", "demo"):
        assert command in done.stdout


def test_report_command_prints_reports_next_to_estimates(tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parents[1] / "data" / "reports" / "vivado_hls_2020.1", run / "hls_project")
    (run / "config.yaml").write_text(yaml.safe_dump(Config().to_dict()))
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert "LUT" in out and "DSP48E" in out and "53200" in out  # pynq-z2's LUT total next to the report
    shutil.rmtree(run / "hls_project")
    assert main(["report", str(run)]) == 2
    assert "mrfpga synth" in capsys.readouterr().err


@pytest.mark.parametrize("io_type, expected", [("io_parallel", "250,000"), ("io_stream", "1,000,000")])
def test_frames_per_second_overlaps_the_layers_only_in_a_streaming_design(capsys, io_type, expected):
    """An io_parallel design takes a frame after the previous one (clock / the counted cycles, 400); a streaming
    one each time its slowest layer is free (clock / that layer's count, 100)."""
    from mrfpga.cli.report import print_table

    row = {
        "index": 0, "label": "a=2 k=8", "keras_accuracy": 0.9, "csim_accuracy": 0.9, "csim_mismatches": 0, "samples": 5,
        "csim_cycles": {"max": 400}, "estimated_cycles": 400, "estimated_interval": 100,
        "throughput": {"clock_mhz": 100.0, "frames_per_second": 250_000.0, "source": "C-sim count",
                       "dataflow_frames_per_second": 1_000_000.0},
    }  # fmt: skip
    report = {"board": "pynq-z2", "part": "xc7z020", "clock_period_ns": 10.0, "hls_project": "p", "io_type": io_type,
              "resolutions": [row], "resources": {"estimated": {"LUT": 1}, "board": {"LUT": 2}}}  # fmt: skip
    print_table(report)
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.lstrip().startswith("0 ")]
    assert line.split()[-2] == expected
