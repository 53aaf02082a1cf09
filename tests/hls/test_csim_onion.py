"""Onion (bit-sharing) models through conversion and g++ C simulation: one project serves every precision.

Onion kernels become mMAC layers over the full code's binary terms, each
precision stopping at its exponent floor; onion activations become data-term
layers that keep the code's top bits. The bit-sharing baseline (onion
kernels, data-term activations) goes through the same layers.
"""

import pytest
from csim_base import CsimCase

from mrfpga.cli.run_config import QuantizationConfig
from mrfpga.hls.sim.csim import snap_to_input_grid
from mrfpga.training import quantized_data_term, quantized_onion

pytestmark = pytest.mark.slow

PRECISIONS = [2, 4, 6, 8]


def onion_activation():
    return quantized_onion(8, PRECISIONS, alpha=8.0, keep_negative=False)


class TestOnionDense(CsimCase):
    @pytest.fixture(scope="class")
    @classmethod
    def kernel(cls):
        return lambda: quantized_onion(8, PRECISIONS)

    @pytest.fixture(scope="class")
    @classmethod
    def activation(cls):
        return onion_activation


@pytest.mark.extended
class TestOnionDenseStream(TestOnionDense):
    io = "io_stream"  # the same case through io_stream


class TestOnionDenseOnRawInput(TestOnionDense):
    """The first layer shifts the raw, signed input by each kept weight term; odd fan-in, one output."""

    @pytest.fixture(scope="class")
    @classmethod
    def n_inputs(cls):
        return 13

    @pytest.fixture(scope="class")
    @classmethod
    def n_outputs(cls):
        return 1

    @pytest.fixture(scope="class")
    @classmethod
    def input_activation(cls):
        return False


class TestBitshareDense(CsimCase):
    """The bit-sharing baseline: onion kernels, data-term activations, one budget per precision."""

    @pytest.fixture(scope="class")
    @classmethod
    def kernel(cls):
        return lambda: quantized_onion(6, [3, 4, 5, 6])

    @pytest.fixture(scope="class")
    @classmethod
    def activation(cls):
        return lambda: quantized_data_term(8, 3, [1, 2, 3, 4])


class TestOnionMetaCnn(CsimCase):
    """The kit's digits CNN as an onion model (precision-specific BN), trained briefly."""

    @pytest.fixture(scope="class")
    @classmethod
    def quantization(cls):
        return QuantizationConfig(scheme="onion")

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        from mrfpga.cli.run_config import from_dict
        from mrfpga.training.data import load_digits
        from mrfpga.training.methods import train

        config = from_dict(
            {
                "model": {"kind": "cnn", "filters": [4, 6]},
                "quantization": {"scheme": "onion", "precisions": PRECISIONS},
                "training": {"method": "onion", "epochs": 2},
            }
        )
        return train(config, load_digits(), verbose=0)[0]["onion"]

    @pytest.fixture(scope="class")
    @classmethod
    def inputs(cls):
        from mrfpga.training.data import load_digits

        return snap_to_input_grid(load_digits().x_test[:48].reshape(-1, 8, 8, 1))


@pytest.mark.extended  # make test: the term CNN's stream twins run the same stream convolution
class TestOnionMetaCnnStream(TestOnionMetaCnn):
    io = "io_stream"  # the same case through io_stream
