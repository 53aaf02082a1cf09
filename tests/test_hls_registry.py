"""The kit extends hls4ml without breaking it: idempotent registration, QKeras's own layers still convert."""

import hls4ml
import numpy as np
import tensorflow as tf
from hls4ml.converters.keras_v2_to_hls import get_layer_handlers
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from mrfpga.hls.registry import install


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
