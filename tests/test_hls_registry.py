"""The kit extends hls4ml without breaking it: idempotent registration, QKeras's own layers still convert."""

import hls4ml
import numpy as np
import pytest
import tensorflow as tf
from hls4ml.converters.keras_v2_to_hls import get_layer_handlers
from qkeras import QActivation, QConv1D, QDense, QDepthwiseConv2D, quantized_bits, quantized_po2, quantized_relu

from mrfpga.hls.convert import convert
from mrfpga.hls.registry import install
from mrfpga.training import quantized_onion, quantized_term


def test_install_twice():
    install()
    install()
    handlers = get_layer_handlers()
    assert not hasattr(handlers["QDense"].mrfpga_original, "mrfpga_original")


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
