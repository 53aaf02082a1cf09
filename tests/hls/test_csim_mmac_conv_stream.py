"""The streaming mMAC convolution (line buffer, one output pixel at a time) through conversion and g++ C
simulation: same and valid padding, odd sizes, strides, two convolutions with switchable BN and pooling.

Every case checks both hls4ml's predict and the generated testbench bit for bit at every resolution, and the
cycles C simulation counts against the estimate's formula (tests/csim_base.py)."""

import numpy as np
import pytest
import tensorflow as tf
import test_csim_mmac_conv as io_parallel_cases  # not its Test names: pytest would collect them twice
from csim_base import CsimCase
from model_builders import spread_switchable_bn
from qkeras import QActivation, QConv2D, QDense
from test_csim_mmac_conv import RESOLUTIONS, bias, data_terms, term_kernel

from mrfpga.hls.sim.csim import snap_to_input_grid
from mrfpga.training.switchable_bn import SwitchableBatchNormalization

pytestmark = pytest.mark.slow


class StreamCase(CsimCase):
    input_shape = (8, 8, 1)
    io = "io_stream"

    @pytest.fixture(scope="class")
    @classmethod
    def inputs(cls):
        return snap_to_input_grid(np.random.default_rng(3).uniform(-1, 9, (24, *cls.input_shape)))


class TestTwoConvBnPoolOddSizes(StreamCase):
    """9x7x3 input, 3x3 same-padded convolutions of 5 and 4 filters, switchable BN after each, data terms,
    2x2 max pooling between them (9x7 -> 4x3), a Dense."""

    input_shape = (9, 7, 3)

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        tf.keras.utils.set_random_seed(11)
        n_res = len(RESOLUTIONS)
        x = tf.keras.Input(cls.input_shape, name="features")
        h = QActivation(data_terms())(x)
        h = QConv2D(5, 3, padding="same", kernel_quantizer=term_kernel(), use_bias=False, name="conv_0")(h)
        h = SwitchableBatchNormalization(n_res, name="bn_0")(h)
        h = QActivation(data_terms())(h)
        h = tf.keras.layers.MaxPooling2D(2)(h)
        h = QConv2D(4, 3, padding="same", kernel_quantizer=term_kernel(), use_bias=False, name="conv_1")(h)
        h = SwitchableBatchNormalization(n_res, name="bn_1")(h)
        h = QActivation(data_terms())(h)
        h = tf.keras.layers.Flatten()(h)
        model = tf.keras.Model(x, QDense(6, kernel_quantizer=term_kernel(), bias_quantizer=bias())(h))
        spread_switchable_bn(model, 12)
        return model


class TestSamePaddedEvenKernelStrided(StreamCase):
    """A 2x4 kernel, same padding, strides (2, 3) on a 7x11x2 input (uneven padding on both axes), biases."""

    input_shape = (7, 11, 2)

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        tf.keras.utils.set_random_seed(13)
        x = tf.keras.Input(cls.input_shape, name="features")
        h = QActivation(data_terms())(x)
        h = QConv2D(3, (2, 4), strides=(2, 3), padding="same", kernel_quantizer=term_kernel(),
                    bias_quantizer=bias())(h)  # fmt: skip
        h = QActivation(data_terms())(h)
        h = tf.keras.layers.Flatten()(h)
        return tf.keras.Model(x, QDense(4, kernel_quantizer=term_kernel(), bias_quantizer=bias())(h))


class TestValidStridedLeavesColumns(StreamCase):
    """Valid padding, stride 2 on 8x9: the last row and column reach no window but are still read."""

    input_shape = (8, 9, 2)

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        tf.keras.utils.set_random_seed(14)
        x = tf.keras.Input(cls.input_shape, name="features")
        h = QActivation(data_terms())(x)
        h = QConv2D(3, 3, strides=2, kernel_quantizer=term_kernel(), bias_quantizer=bias())(h)
        h = QActivation(data_terms())(h)
        h = tf.keras.layers.Flatten()(h)
        return tf.keras.Model(x, QDense(3, kernel_quantizer=term_kernel(), bias_quantizer=bias())(h))


class TestTermConvDigitsShapeStream(io_parallel_cases.TestTermConvDigitsShape):
    io = "io_stream"  # the same case through io_stream


class TestPotConvOnRawInputStream(io_parallel_cases.TestPotConvOnRawInput):
    """Shift-mode 1x1 and strided same-padded convolutions on the raw signed input, streamed."""

    io = "io_stream"  # the same case through io_stream
