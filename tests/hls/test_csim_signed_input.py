"""Signed inputs (sign and magnitude, ``quantized_data_term(signed=True)``) through conversion and g++ C
simulation: the mMAC after them runs in shift mode; every resolution, both io types, grids from coarse to fine."""

import numpy as np
import pytest
from csim_base import N_SAMPLES, CsimCase, value_fixture
from qkeras import quantized_bits

from mrfpga.cli.run_config import QuantizationConfig
from mrfpga.hls.project.convert import input_port_type
from mrfpga.hls.sim import csim
from mrfpga.training.quantizers import quantized_data_term

pytestmark = pytest.mark.slow


class TestSignedInput(CsimCase):
    """Reference resolutions; the input keeps a = 2 or 3 terms of its magnitude."""

    grid = value_fixture((8, 3))  # magnitude bits, integer bits

    @pytest.fixture(scope="class")
    @classmethod
    def input_quantizer(cls, quantization, grid):
        bits, integer = grid
        return lambda: quantized_data_term(bits, integer, quantization.data_budgets, quantization.encoding, signed=True)

    @pytest.fixture(scope="class")
    @classmethod
    def inputs(cls, n_inputs, model, grid):
        """Both signs, past the top (saturation) and exact halves of the grid's step (rounding ties)."""
        bits, integer = grid
        step = 2.0 ** (integer - bits)
        top = (2**bits - 1) * step
        rng = np.random.default_rng(3)
        x = rng.uniform(-1.25 * top, 1.25 * top, (N_SAMPLES, n_inputs))
        ties = (rng.integers(0, 2**bits, x.shape) + 0.5) * step * rng.choice([-1, 1], x.shape)
        x = np.where(rng.random(x.shape) < 0.3, ties, x)
        snapped = csim.snap_to_input_grid(x, *input_port_type(model))
        assert (snapped < 0).mean() > 0.3
        return snapped

    def test_signed_input_is_kept(self, model, inputs):
        """Negative inputs reach the first Dense layer with their sign (not clipped to 0)."""
        out = model.get_layer("input_act")(inputs).numpy()
        assert (out < 0).mean() > 0.3
        np.testing.assert_array_equal(np.sign(out[out != 0]), np.sign(inputs[out != 0]))


class TestSignedInputStream(TestSignedInput):
    io = "io_stream"  # the same case through io_stream


class TestSignedInputEveryTerm(TestSignedInput):
    """A budget of bits + 1 keeps every term: a plain symmetric fixed-point input; binary encoding."""

    quantization = value_fixture(
        QuantizationConfig(encoding="binary", group_size=8, resolutions=[[1, 4], [3, 8], [9, 16]])
    )


class TestSignedInputFineGrid(TestSignedInput):
    """Small features: integer bits below zero (a step of 2^-11)."""

    grid = value_fixture((8, -3))


class TestSignedInputWideRange(TestSignedInput):
    """Large features (up to about 4000): a step of 2^4, a wider input port."""

    grid = value_fixture((8, 12))

    def test_port_widened(self, model):
        assert input_port_type(model) == (25, 15)


class TestUnsignedWideRange(TestSignedInput):
    """An unsigned input grid chosen for large features (integer bits above the width: step 2^4)."""

    grid = value_fixture((8, 12))

    @pytest.fixture(scope="class")
    @classmethod
    def input_quantizer(cls, quantization, grid):
        bits, integer = grid
        return lambda: quantized_data_term(bits, integer, quantization.data_budgets, quantization.encoding)

    def test_signed_input_is_kept(self, model, inputs):
        """Unsigned: negative inputs clip to 0."""
        out = model.get_layer("input_act")(inputs).numpy()
        assert (out >= 0).all() and (out[inputs < 0] == 0).all()


class TestQKerasSignedInput(TestSignedInput):
    """The qkeras scheme's signed input: QKeras's quantized_bits (hls4ml's own layer, round half to even,
    saturating) on the same grid, then the mMAC in shift mode."""

    @pytest.fixture(scope="class")
    @classmethod
    def input_quantizer(cls, grid):
        bits, integer = grid
        return lambda: quantized_bits(bits + 1, integer, keep_negative=True, alpha=1)
