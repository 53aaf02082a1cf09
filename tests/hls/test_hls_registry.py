"""The kit extends hls4ml without breaking it: idempotent registration, QKeras's own layers still convert."""

import re
import subprocess
import sys

import hls4ml
import numpy as np
import pytest
import tensorflow as tf
from hls4ml.converters.keras_v2_to_hls import get_layer_handlers
from qkeras import QActivation, QConv1D, QDense, QDepthwiseConv2D, quantized_bits, quantized_po2, quantized_relu

from mrfpga.hls.layers.registry import install
from mrfpga.hls.project.convert import convert
from mrfpga.training import quantized_onion, quantized_term


def test_install_twice_leaves_hls4ml_handlers_alone():
    before = dict(get_layer_handlers())
    install()
    install()
    handlers = get_layer_handlers()
    for keras_class in ("QDense", "QConv2D", "QActivation", "Dense"):
        assert handlers[keras_class].__module__.startswith("hls4ml."), keras_class
        assert before.get(keras_class, handlers[keras_class]) is handlers[keras_class]
    assert "MrfpgaQDense" in handlers


PLAIN_CONVERSION = """
import sys
from pathlib import Path

import hls4ml
import numpy as np
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_po2, quantized_relu

out, with_kit = Path(sys.argv[1]), sys.argv[2] == "kit"
if with_kit:  # the kit converts one of its own models first, in the same process
    from mrfpga.hls.project.convert import convert
    from mrfpga.training import quantized_data_term, quantized_term

    x = tf.keras.Input((8,), name="features")
    h = QActivation(quantized_data_term(8, 3, [2, 3]))(x)
    kit_model = tf.keras.Model(x, QDense(4, kernel_quantizer=quantized_term(8, 4, [2, 4]))(h))
    convert(kit_model, out / "kit_prj", board="pynq-z2").write()
tf.keras.utils.set_random_seed(0)
x = tf.keras.Input((8,), name="features")
h = QActivation(quantized_relu(8, 3), name="act")(x)
bias = quantized_bits(8, 3, alpha=1)
h = QDense(6, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=bias, name="d0")(h)
h = QActivation(quantized_relu(6, 2), name="act1")(h)
h = QDense(3, kernel_quantizer=quantized_po2(4, 1), bias_quantizer=bias, name="d1")(h)
model = tf.keras.Model(x, h)
for io_type in ("io_parallel", "io_stream"):
    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vivado")
    hls_model = hls4ml.converters.convert_from_keras_model(
        model, hls_config=config, output_dir=str(out / io_type), backend="Vivado", io_type=io_type
    )
    hls_model.write()
"""


def _project_files(root):
    """Every file of the plain projects (but hls4ml's zipped copy of the Keras model), with the run's random
    stamp and its folder replaced by fixed words."""
    files = {}
    for io_type in ("io_parallel", "io_stream"):
        prj = root / io_type
        stamp = re.search(r"^Stamp: '?([0-9a-f]+)'?$", (prj / "hls4ml_config.yml").read_text(), re.M).group(1)
        for path in sorted(prj.rglob("*")):
            if path.is_file() and path.suffix != ".keras":  # a zip of the Keras model: its times differ per run
                text = path.read_bytes().replace(stamp.encode(), b"STAMP").replace(str(root).encode(), b"ROOT")
                text = text.replace(b"'STAMP'", b"STAMP")  # YAML quotes a stamp that reads as a number
                files[str(path.relative_to(root))] = text
    return files


@pytest.mark.slow
def test_plain_qkeras_projects_are_byte_identical_after_the_kit_converted(tmp_path):
    """hls4ml left as found: a plain QKeras model gives the same project in a fresh process and in one where
    mrfpga converted a kit model first."""
    roots = {}
    for mode in ("fresh", "kit"):
        roots[mode] = tmp_path / mode
        done = subprocess.run(
            [sys.executable, "-c", PLAIN_CONVERSION, str(roots[mode]), mode], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
    assert (roots["kit"] / "kit_prj" / "firmware" / "myproject.cpp").is_file()
    fresh, kit = _project_files(roots["fresh"]), _project_files(roots["kit"])
    assert sorted(fresh) == sorted(kit)
    assert [name for name in fresh if fresh[name] != kit[name]] == []


def test_plain_qkeras_model_still_converts_through_hls4ml(tmp_path):
    install()
    x = tf.keras.Input((8,))
    h = QActivation(quantized_relu(8, 3))(x)
    out = QDense(4, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))(h)
    model = tf.keras.Model(x, out)
    config = hls4ml.utils.config_from_keras_model(model, granularity="name")
    hls_model = hls4ml.converters.convert_from_keras_model(
        model, hls_config=config, output_dir=str(tmp_path / "prj"), backend="Vivado"
    )
    classes = [layer.class_name for layer in hls_model.get_layers()]
    assert "Dense" in classes and "MMACDense" not in classes and "DataTerm" not in classes
    assert np.isfinite(hls_model.config.get_config_value("ClockPeriod"))


@pytest.mark.parametrize(
    "layer, message",
    [
        (lambda: QDepthwiseConv2D(3, depthwise_quantizer=quantized_term(8, 4, [2, 4])), "QDepthwiseConv2D with a"),
        (lambda: QConv1D(2, 3, kernel_quantizer=quantized_onion(8, [4, 8])), "QConv1D with a quantized_onion"),
        (lambda: QDense(3, kernel_quantizer=quantized_term(8, 4, [2, 4]), activation="relu"), "in a QActivation"),
    ],
    ids=["depthwise_term", "conv1d_onion", "dense_with_activation"],
)
def test_unsupported_layer_is_a_clear_error_naming_it(tmp_path, layer, message):
    shape = (6, 6, 2) if "Depthwise" in message else (6, 2) if "Conv1D" in message else (6,)
    x = tf.keras.Input(shape)
    model = tf.keras.Model(x, layer()(x))
    name = model.layers[-1].name
    with pytest.raises(ValueError, match=f"layer {name}: .*{message}"):
        convert(model, tmp_path / "prj", board="pynq-z2")
    assert not (tmp_path / "prj" / "firmware").exists()  # nothing half-written


def test_po2_weights_finer_than_hls4ml_keeps_are_refused(tmp_path):
    """hls4ml's shift product keeps exponent-width + input-width fraction bits; past that it would round."""
    x = tf.keras.Input((4,))
    h = QActivation(quantized_relu(8, 3))(x)
    model = tf.keras.Model(x, QDense(2, kernel_quantizer=quantized_po2(4, 1), bias_quantizer=quantized_bits(8, 3))(h))
    model.layers[-1].set_weights([np.full((4, 2), 2.0**-8, np.float32), np.zeros(2, np.float32)])
    with pytest.raises(ValueError, match=r"weights down to 2\^-8 need 13 fraction bits, .* keeps 12"):
        convert(model, tmp_path / "prj", board="pynq-z2")
