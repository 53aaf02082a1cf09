"""The README's Python example, run as written: train, convert, compile, predict, verify."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = pytest.mark.slow


def readme_example():
    section = README.read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_example_runs_bit_exactly(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(readme_example(), "README.md (Python API)", "exec"), namespace)
    assert namespace["hls_model"].verify(namespace["x"][:200], namespace["model"]) == {0: 0, 1: 0}
    assert (namespace["low"] != namespace["high"]).any()
    assert (tmp_path / "digits_prj" / "firmware" / "myproject.cpp").is_file()
    logits = namespace["hls_model"].hls4ml_model.get_layers()
    reuse = {node.name: node.get_attr("rounds") for node in logits if node.class_name == "MMACDense"}
    assert reuse == {"dense_0": 2, "logits": 4}
    assert "mismatches per resolution: {0: 0, 1: 0}" in capsys.readouterr().out


def test_unknown_layer_in_the_config_is_named(tmp_path):
    import mrfpga.hls

    namespace = {}
    head = readme_example().split("config = mrfpga.hls", 1)[0].replace("epochs=5", "epochs=1")
    exec(compile(head, "README.md (Python API)", "exec"), namespace)
    config = mrfpga.hls.config_from_keras_model(namespace["model"])
    config["LayerName"]["no_such_layer"] = {"ReuseFactor": 2}
    with pytest.raises(ValueError, match="no_such_layer"):
        mrfpga.hls.convert_from_keras_model(namespace["model"], tmp_path / "prj", hls_config=config)
