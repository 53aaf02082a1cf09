"""The streaming mMAC convolution (line buffer, one output pixel at a time) through conversion and g++ C
simulation: same and valid padding, odd sizes, strides, two convolutions with switchable BN and pooling.

Every case checks both hls4ml's predict and the generated testbench bit for bit at every resolution, and the
cycles C simulation counts against the estimate's formula (tests/support/csim_base.py)."""

import pytest
import test_csim_mmac_conv as io_parallel_cases  # not its Test names: pytest would collect them twice
from csim_base import ImageCase
from model_builders import conv, spread_switchable_bn
from test_csim_mmac_conv import RESOLUTIONS, term_conv_model

pytestmark = pytest.mark.slow


class StreamCase(ImageCase):
    io = "io_stream"
    n_images = 24


class TestTwoConvBnPoolOddSizes(StreamCase):
    """9x7x3 input, 3x3 same-padded convolutions of 5 and 4 filters, switchable BN after each, data terms,
    2x2 max pooling between them (9x7 -> 4x3), a Dense."""

    input_shape = (9, 7, 3)

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        n_res = len(RESOLUTIONS)
        blocks = [
            conv(5, 3, padding="same", name="conv_0", switchable_bn=n_res, pool=True),
            conv(4, 3, padding="same", name="conv_1", switchable_bn=n_res),
        ]
        model = term_conv_model(cls.input_shape, blocks, 6, seed=11)
        spread_switchable_bn(model, 12)
        return model


class TestSamePaddedEvenKernelStrided(StreamCase):
    """A 2x4 kernel, same padding, strides (2, 3) on a 7x11x2 input (uneven padding on both axes), biases."""

    input_shape = (7, 11, 2)

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        return term_conv_model(cls.input_shape, [conv(3, (2, 4), strides=(2, 3), padding="same")], 4, seed=13)


class TestValidStridedLeavesColumns(StreamCase):
    """Valid padding, stride 2 on 8x9: the last row and column reach no window but are still read."""

    input_shape = (8, 9, 2)

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        return term_conv_model(cls.input_shape, [conv(3, 3, strides=2)], 3, seed=14)


class TestTermConvDigitsShapeStream(io_parallel_cases.TestTermConvDigitsShape):
    io = "io_stream"  # the same case through io_stream


class TestPotConvOnRawInputStream(io_parallel_cases.TestPotConvOnRawInput):
    """Shift-mode 1x1 and strided same-padded convolutions on the raw signed input, streamed."""

    io = "io_stream"  # the same case through io_stream
