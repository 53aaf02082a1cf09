"""Onion (bit-sharing) models through conversion and g++ C simulation: one project serves every precision.

Onion kernels become mMAC layers over the full code's binary terms, each
precision stopping at its exponent floor; onion activations become data-term
layers that keep the code's top bits. The bit-sharing baseline (onion
kernels, data-term activations) goes through the same layers.
"""

import pytest
from csim_base import CsimCase, DigitsCase, value_fixture
from model_builders import digits_cnn_config, train_digits

from mrfpga.cli.run_config import QuantizationConfig
from mrfpga.training import quantized_data_term, quantized_onion

pytestmark = pytest.mark.slow

PRECISIONS = [2, 4, 6, 8]


def onion_activation():
    return quantized_onion(8, PRECISIONS, alpha=8.0, keep_negative=False)


class TestOnionDense(CsimCase):
    kernel = value_fixture(lambda: quantized_onion(8, PRECISIONS))
    activation = value_fixture(onion_activation)


@pytest.mark.extended
class TestOnionDenseStream(TestOnionDense):
    io = "io_stream"  # the same case through io_stream


class TestOnionDenseOnRawInput(TestOnionDense):
    """The first layer shifts the raw, signed input by each kept weight term; odd fan-in, one output."""

    n_inputs = value_fixture(13)
    n_outputs = value_fixture(1)
    input_activation = value_fixture(False)


class TestBitshareDense(CsimCase):
    """The bit-sharing baseline: onion kernels, data-term activations, one budget per precision."""

    kernel = value_fixture(lambda: quantized_onion(6, [3, 4, 5, 6]))
    activation = value_fixture(lambda: quantized_data_term(8, 3, [1, 2, 3, 4]))


class TestOnionMetaCnn(DigitsCase):
    """The kit's digits CNN as an onion model (precision-specific BN), trained briefly."""

    quantization = value_fixture(QuantizationConfig(scheme="onion"))

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        config = digits_cnn_config({"scheme": "onion", "precisions": PRECISIONS}, {"method": "onion"})
        return train_digits(config)["onion"]


@pytest.mark.extended  # make test: the term CNN's stream twins run the same stream convolution
class TestOnionMetaCnnStream(TestOnionMetaCnn):
    io = "io_stream"  # the same case through io_stream
