"""Fixed-point and power-of-two kernels through conversion and g++ C simulation, bit-exactly."""

import pytest
from csim_base import CsimCase, ImageCase, value_fixture
from model_builders import conv, conv_model
from qkeras import quantized_bits

from mrfpga.training import quantized_data_term, quantized_fixed, quantized_pot

pytestmark = pytest.mark.slow


def full_precision_relu():
    """A data-term activation whose budget keeps every term: plain unsigned fixed point."""
    return quantized_data_term(8, 3, [9])


class TestPotKernels(CsimCase):
    """PoT weights become one term each: products are shifts (mMAC), zeros included."""

    kernel = value_fixture(lambda: quantized_pot(4))
    activation = value_fixture(full_precision_relu)


class TestPotKernelsOnRawInput(TestPotKernels):
    input_activation = value_fixture(False)


class TestFixedKernels(CsimCase):
    """Fixed-point weights go through hls4ml's own Dense, with the exact weight type from the kit."""

    kernel = value_fixture(lambda: quantized_fixed(6))
    activation = value_fixture(full_precision_relu)


@pytest.mark.extended
class TestFixedKernelsWithFixedBias(TestFixedKernels):
    kernel = value_fixture(lambda: quantized_fixed(8, alpha=0.75))
    bias = value_fixture(lambda i: quantized_fixed(8, alpha=2.0) if i == 0 else quantized_bits(12, 5, alpha=1))


@pytest.mark.extended
class TestLearnedAlpha(TestFixedKernels):
    """A learned clipping scale: the base model randomizes it, the converter must read the trained value."""

    kernel = value_fixture(lambda: quantized_fixed(4, alpha=0.05, learnable_alpha=True))  # config step 2^-7


class TestFixedConv(ImageCase):
    """QConv2D with fixed-point weights through hls4ml's own Conv2D, then pooling and a Dense."""

    n_images = 64

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        return conv_model(
            cls.input_shape, [conv(4, 3, pool=True)], 10, seed=5, activation=full_precision_relu,
            kernel=lambda: quantized_fixed(6), dense_kernel=lambda: quantized_pot(4),
        )  # fmt: skip


@pytest.mark.extended
class TestPotKernelsOnRawInputStream(TestPotKernelsOnRawInput):
    io = "io_stream"  # the same case through io_stream
