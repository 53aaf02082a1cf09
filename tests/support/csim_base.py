"""One parametrized base for every C-simulation test, in the style of HGQ2's tests/base.py.

A case is a small term-quantized model; subclasses override fixtures only
(shape, quantization), a constant one as ``n_inputs = value_fixture(20)``.
Every case goes through Keras serialization, hls4ml conversion, g++ C
simulation both ways (hls4ml's compile/predict and the generated testbench)
and an exact comparison at every resolution.
"""

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense

from mrfpga.cli.pipeline import PROJECT_NAME, load_model
from mrfpga.cli.run_config import QuantizationConfig
from mrfpga.hls.cost.estimate import counted_cycles, layer_cycles
from mrfpga.hls.layers.registry import LAYERS
from mrfpga.hls.project.convert import convert, input_port_type
from mrfpga.hls.sim import csim
from mrfpga.hls.sim.reference import exact_forward
from mrfpga.training.data import load_digits
from mrfpga.training.models import bias_quantizer, data_term_quantizer, weight_term_quantizer
from mrfpga.training.resolution import n_resolutions, set_resolution

N_SAMPLES = 64


def value_fixture(value):
    """A class-scoped fixture that is ``value``: ``hidden = value_fixture([12])`` in a case's body overrides the
    base's ``hidden``."""

    @pytest.fixture(scope="class")
    def fixture(self):
        return value

    return fixture


class CsimCase:
    io = "io_parallel"  # the io_type fixture; a stream variant of a case sets "io_stream"

    n_inputs = value_fixture(64)
    hidden = value_fixture([24])
    n_outputs = value_fixture(10)
    quantization = value_fixture(QuantizationConfig())

    @pytest.fixture(scope="class")
    @classmethod
    def kernel(cls, quantization):
        """Makes the kernel quantizer of each Dense layer."""
        return lambda: weight_term_quantizer(quantization)

    @pytest.fixture(scope="class")
    @classmethod
    def activation(cls, quantization):
        """Makes the quantizer of each QActivation."""
        return lambda: data_term_quantizer(quantization)

    @pytest.fixture(scope="class")
    @classmethod
    def bias(cls, quantization):
        """Makes the bias quantizer of Dense layer ``i``."""
        return lambda i: bias_quantizer(quantization)

    @pytest.fixture(scope="class")
    @classmethod
    def input_quantizer(cls, activation):
        """Makes the quantizer of the input QActivation (the activations' by default)."""
        return activation

    # Whether the input goes through a QActivation first (False: the first layer reads the raw input).
    input_activation = value_fixture(True)

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls, n_inputs, hidden, n_outputs, kernel, activation, input_quantizer, bias, input_activation):
        tf.keras.utils.set_random_seed(1)
        x = tf.keras.Input((n_inputs,), name="features")
        h = QActivation(input_quantizer(), name="input_act")(x) if input_activation else x
        for i, units in enumerate([*hidden, n_outputs]):
            if i:
                h = QActivation(activation(), name=f"act_{i}")(h)
            h = QDense(units, kernel_quantizer=kernel(), bias_quantizer=bias(i), name=f"d{i}")(h)
        model = tf.keras.Model(x, h)
        # Untrained weights are too uniform to exercise term selection: spread them.
        rng = np.random.default_rng(2)
        for layer in model.layers:
            if layer.weights:
                layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
        return model

    @pytest.fixture(scope="class")
    @classmethod
    def inputs(cls, n_inputs, quantization, model):
        # Past both ends of the activation grid: negatives and saturation are exercised too.
        top = 2.0**quantization.activation_integer
        x = np.random.default_rng(3).uniform(-0.25 * top, 1.25 * top, (N_SAMPLES, n_inputs))
        return csim.snap_to_input_grid(x, *input_port_type(model))

    @pytest.fixture(scope="class")
    @classmethod
    def io_type(cls):
        return cls.io

    reuse_factor = value_fixture(1)
    mmac_unit = value_fixture(None)  # the mMAC unit after data-term layers; None: the kit's default
    conv_term_lanes = value_fixture(None)  # term slots a cycle of every convolution's units (TermLanes)

    @pytest.fixture(scope="class")
    @classmethod
    def project(cls, model, io_type, reuse_factor, mmac_unit, conv_term_lanes, tmp_path_factory):
        layer_config = {
            layer.name: {"TermLanes": conv_term_lanes}
            for layer in model.layers
            if conv_term_lanes and type(layer).__name__ == "QConv2D"
        }
        hls_model = convert(
            model, tmp_path_factory.mktemp("prj"), board="pynq-z2", io_type=io_type, project_name=PROJECT_NAME,
            reuse_factor=reuse_factor, mmac_unit=mmac_unit, layer_config=layer_config,
        )  # fmt: skip
        hls_model.write()
        hls_model.compile()
        return hls_model

    @pytest.fixture(scope="class")
    @classmethod
    def expected(cls, model, inputs):
        """Exact logits at every resolution; also checks they differ between resolutions."""
        out = []
        for r in range(n_resolutions(model)):
            set_resolution(model, r)
            out.append(exact_forward(model, inputs))
        set_resolution(model, n_resolutions(model) - 1)
        return out

    def test_resolutions_differ(self, expected):
        if len(expected) > 1:
            assert csim.mismatches(expected[0], expected[-1]) > 0

    def test_exact_reference_matches_keras(self, model, inputs, expected):
        for r, exact in enumerate(expected):
            set_resolution(model, r)
            keras_out = model(inputs).numpy().astype(np.float64)
            # float32 sums are exact here: the accumulators stay far below 2^24 steps.
            np.testing.assert_array_equal(keras_out, exact)

    def test_serialization(self, model, inputs, tmp_path):
        model.save(tmp_path / "model.h5")
        loaded = load_model(tmp_path)
        for r in range(n_resolutions(model)):
            set_resolution(model, r)
            set_resolution(loaded, r)
            np.testing.assert_array_equal(model(inputs).numpy(), loaded(inputs).numpy())

    def test_predict_bit_exact(self, project, inputs, expected):
        for r, exact in enumerate(expected):
            out = csim.predict(project, inputs, r)
            assert csim.mismatches(out, exact) == 0, f"resolution {r}"

    def test_testbench_bit_exact_and_cycles(self, project, inputs, expected):
        """The generated testbench equals the exact reference; the cycles C simulation counted, sample by
        sample, equal docs/estimates.md's formula (one g++ build for both)."""
        out_dir = project.config.get_output_dir()
        csim.write_tb_data(out_dir, inputs, expected)
        assert csim.compiled_library(out_dir, PROJECT_NAME) is not None  # linked, not compiled a second time
        csim.compile_testbench(out_dir, PROJECT_NAME)
        out = csim.run_testbench(out_dir, expected[0].shape[1])
        for r, exact in enumerate(expected):
            assert csim.mismatches(out[r * len(inputs) : (r + 1) * len(inputs)], exact) == 0, f"resolution {r}"
        counted = csim.read_csim_cycles(out_dir)
        if counted is None:  # hls4ml's own layers only: nothing counts, nothing is estimated as counted
            assert all(counted_cycles(project, r) == 0 for r in range(len(expected)))
            return
        counted = counted.reshape(len(expected), len(inputs))
        for r in range(len(expected)):
            assert set(counted[r]) == {counted_cycles(project, r)}, f"cycles at resolution {r}"
        # Layer by layer too: each kit layer's count, in call order, equals its estimate.
        kit = [node for node in project.get_layers() if node.class_name in LAYERS]
        per_layer = csim.read_csim_layer_cycles(out_dir)
        assert per_layer.shape == (len(expected) * len(inputs), len(kit))
        for r in range(len(expected)):
            block = per_layer[r * len(inputs) : (r + 1) * len(inputs)]
            for j, node in enumerate(kit):
                assert set(block[:, j]) == {layer_cycles(node, r)}, f"{node.name} at resolution {r}"

    def test_no_fallback_precision(self, project):
        """No layer of ours may reach hls4ml's ap_fixed<16,6> fallback (only the input port may use it)."""
        for node in project.get_layers():
            if node.class_name != "Input":
                assert node.get_output_variable().type.precision.definition_cpp() != "ap_fixed<16,6>"
            for weight in node.get_weights():
                assert weight.type.precision.definition_cpp() != "ap_fixed<16,6>", weight.name


class ImageCase(CsimCase):
    """A convolutional case: ``n_images`` samples of ``input_shape``, uniform in [-1, 9) on the input grid (past
    both ends of the activations' grid)."""

    input_shape = (8, 8, 1)
    n_images = 48

    @pytest.fixture(scope="class")
    @classmethod
    def inputs(cls):
        return csim.snap_to_input_grid(np.random.default_rng(3).uniform(-1, 9, (cls.n_images, *cls.input_shape)))


class DigitsCase(CsimCase):
    """A case on the first 48 test samples of the digits, 8x8x1 images (a digits CNN of the kit's)."""

    @pytest.fixture(scope="class")
    @classmethod
    def inputs(cls):
        return csim.snap_to_input_grid(load_digits().x_test[:48].reshape(-1, 8, 8, 1))
