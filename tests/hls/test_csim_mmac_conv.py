"""mMAC Conv2D (term and power-of-two kernels) through conversion and g++ C simulation."""

import numpy as np
import pytest
import tensorflow as tf
from csim_base import CsimCase
from qkeras import QActivation, QConv2D, QDense, quantized_bits

from mrfpga.hls.sim.csim import snap_to_input_grid
from mrfpga.training import quantized_data_term, quantized_pot, quantized_term

pytestmark = pytest.mark.slow

RESOLUTIONS = [(1, 3), (2, 8), (3, 20)]


def data_terms():
    return quantized_data_term(8, 3, [a for a, _ in RESOLUTIONS])


def term_kernel(group_size=16):
    return quantized_term(8, group_size, [k for _, k in RESOLUTIONS])


def bias():
    return quantized_bits(12, 5, alpha=1)


class ConvCase(CsimCase):
    input_shape = (8, 8, 1)

    @pytest.fixture(scope="class")
    @classmethod
    def inputs(cls):
        return snap_to_input_grid(np.random.default_rng(3).uniform(-1, 9, (48, *cls.input_shape)))


class TestTermConvDigitsShape(ConvCase):
    """One input channel: a group per kernel position; then max pooling and a term Dense."""

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        tf.keras.utils.set_random_seed(7)
        x = tf.keras.Input(cls.input_shape, name="features")
        h = QActivation(data_terms())(x)
        h = QConv2D(4, 3, kernel_quantizer=term_kernel(), bias_quantizer=bias())(h)
        h = QActivation(data_terms())(h)
        h = tf.keras.layers.MaxPooling2D(2)(h)
        h = tf.keras.layers.Flatten()(h)
        return tf.keras.Model(x, QDense(10, kernel_quantizer=term_kernel(), bias_quantizer=bias())(h))


class TestTermConvShortChannelGroups(ConvCase):
    """20 channels in groups of 8: 8 + 8 + 4 at every kernel position; same padding; a single output."""

    input_shape = (5, 5, 20)

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        tf.keras.utils.set_random_seed(8)
        x = tf.keras.Input(cls.input_shape, name="features")
        h = QActivation(data_terms())(x)
        h = QConv2D(3, 3, padding="same", kernel_quantizer=term_kernel(8), bias_quantizer=bias())(h)
        h = QActivation(data_terms())(h)
        h = tf.keras.layers.Flatten()(h)
        return tf.keras.Model(x, QDense(1, kernel_quantizer=term_kernel(8), bias_quantizer=bias())(h))


class TestPotConvOnRawInput(ConvCase):
    """Power-of-two 1x1 and strided convolutions reading the raw, signed input (shift mode)."""

    input_shape = (6, 6, 3)

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        tf.keras.utils.set_random_seed(9)
        x = tf.keras.Input(cls.input_shape, name="features")
        h = QConv2D(4, 1, kernel_quantizer=quantized_pot(4), bias_quantizer=bias())(x)
        h = QActivation(data_terms())(h)
        h = QConv2D(2, 3, strides=2, padding="same", kernel_quantizer=quantized_pot(4), bias_quantizer=bias())(h)
        h = QActivation(data_terms())(h)
        h = tf.keras.layers.Flatten()(h)
        return tf.keras.Model(x, QDense(5, kernel_quantizer=term_kernel(), bias_quantizer=bias())(h))


class TestMetaCnnWithSwitchableBatchNorm(ConvCase):
    """The digits CNN of the kit, trained briefly as a meta model: BN folds per resolution into scale/shift."""

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        from mrfpga.cli.run_config import from_dict
        from mrfpga.training.data import load_digits
        from mrfpga.training.methods import train

        config = from_dict(
            {
                "model": {"kind": "cnn", "filters": [4, 6]},
                "quantization": {"resolutions": [list(r) for r in RESOLUTIONS]},
                "training": {"epochs": 2},
            }
        )
        return train(config, load_digits(), verbose=0)[0]["meta"]

    @pytest.fixture(scope="class")
    @classmethod
    def inputs(cls):
        from mrfpga.training.data import load_digits

        return snap_to_input_grid(load_digits().x_test[:48].reshape(-1, 8, 8, 1))


class TestMetaCnnStream(TestMetaCnnWithSwitchableBatchNorm):
    io = "io_stream"  # the same case through io_stream


class TestTermConvShortChannelGroupsStream(TestTermConvShortChannelGroups):
    io = "io_stream"  # the same case through io_stream


QKERAS_CNN = {
    "model": {"kind": "cnn", "filters": [4, 6]},
    "quantization": {"scheme": "qkeras"},
    "training": {"method": "qkeras", "epochs": 2},
}


class TestQKerasCnn(TestMetaCnnWithSwitchableBatchNorm):
    """The plain QKeras baseline's digits CNN (scheme qkeras: quantized_bits kernels, quantized_relu), trained
    briefly and converted by the CLI's convert stage at the embedded default's reuse 4 (its per-layer settings
    once stopped the exact result type pinned before the BN)."""

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        from mrfpga.cli.pipeline import primary
        from mrfpga.cli.run_config import from_dict
        from mrfpga.training.data import load_digits
        from mrfpga.training.methods import train

        return primary(train(from_dict(QKERAS_CNN), load_digits(), verbose=0)[0])

    @pytest.fixture(scope="class")
    @classmethod
    def project(cls, model, io_type, tmp_path_factory):
        from mrfpga.cli.pipeline import convert
        from mrfpga.cli.run_config import from_dict

        config = from_dict({**QKERAS_CNN, "hls": {"io_type": io_type, "reuse_factor": 4}})
        hls_model = convert(config, tmp_path_factory.mktemp("qkeras_cnn"), model)
        hls_model.compile()
        return hls_model


class TestQKerasCnnStream(TestQKerasCnn):
    io = "io_stream"  # the same case through io_stream
