"""The cost model against Yosys on the Verilog twin: estimates within 25% of the measurement on MLP shapes
other than the demo's (tests/test_pipeline.py holds the demo's), and on a streaming convolution's per-pixel
core."""

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense

from mrfpga.cli.run_config import QuantizationConfig
from mrfpga.hls import convert_from_keras_model
from mrfpga.hls.cost.estimate import layer_resources
from mrfpga.hls.layers.unit_costs import mmac_dense_resources
from mrfpga.hls.twin import measure
from mrfpga.hls.twin.spec import twin_specs
from mrfpga.training.models import bias_quantizer, data_term_quantizer, weight_term_quantizer

pytestmark = pytest.mark.slow


def mlp(n_in, widths, seed):
    """A term-quantized MLP with spread random weights (untrained weights are too uniform)."""
    q = QuantizationConfig()
    tf.keras.utils.set_random_seed(seed)
    x = tf.keras.Input((n_in,), name="features")
    h = QActivation(data_term_quantizer(q), name="input_terms")(x)
    for i, units in enumerate(widths):
        if i:
            h = QActivation(data_term_quantizer(q), name=f"terms_{i}")(h)
        h = QDense(units, kernel_quantizer=weight_term_quantizer(q), bias_quantizer=bias_quantizer(q), name=f"d{i}")(h)
    model = tf.keras.Model(x, h)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


@pytest.mark.longest
@pytest.mark.parametrize(
    "n_in, widths, reuse, unit",
    [
        (40, [24, 10], 2, "weight_term"),
        pytest.param(33, [16, 5], 1, "weight_term", marks=pytest.mark.extended),  # make test-all
    ],
    ids=["40-24-10_reuse2", "33-16-5_reuse1"],
)
def test_estimate_is_within_25_percent_of_yosys(tmp_path, n_in, widths, reuse, unit):
    model = mlp(n_in, widths, seed=len(widths) + n_in)
    config = {"Model": {"ReuseFactor": reuse, "MMACUnit": unit}, "LayerName": {}}
    hls_model = convert_from_keras_model(model, tmp_path / "prj", hls_config=config)
    specs = twin_specs(hls_model)
    measured = measure.synthesize(specs, tmp_path / "yosys")
    estimated = {node.name: layer_resources(node) for node in hls_model.get_layers() if node.class_name != "Input"}
    total = sum(figures["LUT"] for figures in estimated.values())
    assert measured["total"]["DSP48E1"] == 0
    assert abs(total - measured["total"]["LUT"]) <= 0.25 * measured["total"]["LUT"], (total, measured)


@pytest.mark.longest
def test_conv_core_estimate_is_within_25_percent_of_yosys(tmp_path):
    """A streaming convolution's per-pixel core (the mmac_dense its conv_pixels runs over each window: 9 kernel
    positions of 12 channels, groups of 16 short, 8 filters, reuse 2) against Yosys on its Verilog twin."""
    q = QuantizationConfig()
    tf.keras.utils.set_random_seed(5)
    x = tf.keras.Input((6, 6, 12), name="features")
    h = QActivation(data_term_quantizer(q), name="input_terms")(x)
    h = QConv2D(8, 3, padding="same", kernel_quantizer=weight_term_quantizer(q), bias_quantizer=bias_quantizer(q),
                name="conv")(h)  # fmt: skip
    model = tf.keras.Model(x, h)
    rng = np.random.default_rng(5)
    model.get_layer("conv").set_weights([rng.normal(0, 0.5, w.shape) for w in model.get_layer("conv").get_weights()])
    config = {"Model": {"ReuseFactor": 2}, "LayerName": {}}
    hls_model = convert_from_keras_model(model, tmp_path / "prj", hls_config=config, io_type="io_stream")
    node = next(n for n in hls_model.get_layers() if n.class_name == "MMACConv2D")
    spec = node.core_spec()
    measured = measure.synthesize([spec], tmp_path / "yosys")["total"]
    estimated = mmac_dense_resources(spec)
    assert measured["DSP48E1"] == 0 and spec.n_groups == 9
    assert abs(estimated["LUT"] - measured["LUT"]) <= 0.25 * measured["LUT"], (estimated, measured)
