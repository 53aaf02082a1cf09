"""Fixed-point and power-of-two kernels through conversion and g++ C simulation, bit-exactly."""

import pytest
from csim_base import CsimCase
from qkeras import quantized_bits

from mrfpga.training import quantized_data_term, quantized_fixed, quantized_pot

pytestmark = pytest.mark.slow


def full_precision_relu():
    """A data-term activation whose budget keeps every term: plain unsigned fixed point."""
    return quantized_data_term(8, 3, [9])


class TestPotKernels(CsimCase):
    """PoT weights become one term each: products are shifts (mMAC), zeros included."""

    @pytest.fixture(scope="class")
    @classmethod
    def kernel(cls):
        return lambda: quantized_pot(4)

    @pytest.fixture(scope="class")
    @classmethod
    def activation(cls):
        return full_precision_relu


class TestPotKernelsOnRawInput(TestPotKernels):
    @pytest.fixture(scope="class")
    @classmethod
    def input_activation(cls):
        return False


class TestFixedKernels(CsimCase):
    """Fixed-point weights go through hls4ml's own Dense, with the exact weight type from the kit."""

    @pytest.fixture(scope="class")
    @classmethod
    def kernel(cls):
        return lambda: quantized_fixed(6)

    @pytest.fixture(scope="class")
    @classmethod
    def activation(cls):
        return full_precision_relu


@pytest.mark.extended
class TestFixedKernelsWithFixedBias(TestFixedKernels):
    @pytest.fixture(scope="class")
    @classmethod
    def kernel(cls):
        return lambda: quantized_fixed(8, alpha=0.75)

    @pytest.fixture(scope="class")
    @classmethod
    def bias(cls):
        return lambda i: quantized_fixed(8, alpha=2.0) if i == 0 else quantized_bits(12, 5, alpha=1)


@pytest.mark.extended
class TestLearnedAlpha(TestFixedKernels):
    """A learned clipping scale: the base model randomizes it, the converter must read the trained value."""

    @pytest.fixture(scope="class")
    @classmethod
    def kernel(cls):
        return lambda: quantized_fixed(4, alpha=0.05, learnable_alpha=True)  # config step 2^-7


class TestFixedConv(CsimCase):
    """QConv2D with fixed-point weights through hls4ml's own Conv2D, then pooling and a Dense."""

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        import tensorflow as tf
        from qkeras import QActivation, QConv2D, QDense

        tf.keras.utils.set_random_seed(5)
        x = tf.keras.Input((8, 8, 1), name="features")
        h = QActivation(full_precision_relu())(x)
        h = QConv2D(4, 3, kernel_quantizer=quantized_fixed(6), bias_quantizer=quantized_bits(12, 5, alpha=1))(h)
        h = QActivation(full_precision_relu())(h)
        h = tf.keras.layers.MaxPooling2D(2)(h)
        h = tf.keras.layers.Flatten()(h)
        h = QDense(10, kernel_quantizer=quantized_pot(4), bias_quantizer=quantized_bits(12, 5, alpha=1))(h)
        return tf.keras.Model(x, h)

    @pytest.fixture(scope="class")
    @classmethod
    def inputs(cls):
        import numpy as np

        from mrfpga.hls.sim.csim import snap_to_input_grid

        return snap_to_input_grid(np.random.default_rng(3).uniform(-1, 9, (64, 8, 8, 1)))


@pytest.mark.extended
class TestPotKernelsOnRawInputStream(TestPotKernelsOnRawInput):
    io = "io_stream"  # the same case through io_stream
