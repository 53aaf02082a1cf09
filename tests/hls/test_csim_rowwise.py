"""Row-wise mixed layers (RMSMP: PoT-W4, Fixed-W4, Fixed-W8 rows) through conversion and g++ C simulation."""

import numpy as np
import pytest
import tensorflow as tf
from csim_base import CsimCase, ImageCase, value_fixture
from model_builders import conv, conv_model, small_bias
from qkeras import QConv2D, QDense

from mrfpga.cli.run_config import QuantizationConfig
from mrfpga.hls.cost.estimate import estimate
from mrfpga.hls.project.convert import convert
from mrfpga.hls.sim.csim import snap_to_input_grid
from mrfpga.training import quantized_data_term, quantized_rowwise
from mrfpga.training.models import build_cnn, build_mlp
from mrfpga.training.quantizers.rowwise import row_counts

pytestmark = pytest.mark.slow

# Every scheme in every layer of 5 rows or more: 2 PoT, 2 Fixed4, 1 Fixed8 rows of 5.
ALL_SCHEMES = (40, 40, 20)


def a4():
    """The row-wise scheme's 4-bit activation (A4): a data term that keeps every term."""
    return quantized_data_term(4, 3, [5])


def spread_weights(model, seed):
    """Untrained weights are too uniform: spread them (BN variances stay positive)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for w in layer.weights:
            if w.dtype == tf.float32:
                value = rng.normal(0, 0.5, w.shape)
                w.assign(np.abs(value) + 0.5 if "variance" in w.name else value)


def all_schemes():
    return quantized_rowwise(ALL_SCHEMES)


class RowwiseCase(CsimCase):
    kernel = value_fixture(all_schemes)
    activation = value_fixture(a4)

    def test_rows_in_their_cores(self, project, model):
        """Every row-wise Keras layer became a row-wise node whose cores hold the live assignment's rows."""
        nodes = {n.name: n for n in project.get_layers() if n.class_name in ("RowwiseDense", "RowwiseConv2D")}
        layers = [layer for layer in model.layers if isinstance(getattr(layer, "kernel_quantizer_internal", None),
                                                                quantized_rowwise)]  # fmt: skip
        assert sorted(nodes) == sorted(layer.name for layer in layers)
        for layer in layers:
            codes = layer.kernel_quantizer_internal.row_codes(layer.kernel).numpy()
            node = nodes[layer.name]
            for scheme, core in enumerate(("pot", "fixed4", "fixed8")):
                assert node.get_attr(f"{core}_index") == np.flatnonzero(codes == scheme).tolist()
            assert [node.get_attr(f"{c}_rows") for c in ("pot", "fixed4", "fixed8")] == row_counts(
                len(codes), layer.kernel_quantizer_internal.ratio
            )

    def test_estimate_counts_a_dsp_per_fixed_weight(self, project, model):
        """DSP48E1: one per nonzero Fixed-W4/W8 weight (reuse 1), counted here from the Keras kernels."""
        fixed_weights = 0
        for layer in model.layers:
            q = getattr(layer, "kernel_quantizer_internal", None)
            if isinstance(q, quantized_rowwise):
                values = q(layer.kernel).numpy().reshape(-1, layer.kernel.shape[-1])
                fixed_weights += np.count_nonzero(values[:, q.row_codes(layer.kernel).numpy() != 0])
        bn_scales = sum(n.get_attr("n_in") for n in project.get_layers() if n.class_name == "SwitchableScaleShift")
        result = estimate(project, 1, project.mrfpga_board)
        assert result["resources"]["DSP48E1"] == fixed_weights + bn_scales
        assert result["resources"]["LUT"] > 0 and result["cycles"][0] > 0


class TestRowwiseDense(RowwiseCase):
    """An odd fan-in (37), all three schemes in both layers, the A4 activation."""

    n_inputs = value_fixture(37)
    hidden = value_fixture([13])


@pytest.mark.extended
class TestRowwiseDenseStream(TestRowwiseDense):
    io = "io_stream"  # the same case through io_stream


class TestRowwiseSingleRowAllPot(RowwiseCase):
    """Only PoT rows (the fixed cores are empty); the last layer has a single row."""

    kernel = value_fixture(lambda: quantized_rowwise((100, 0, 0)))
    hidden = value_fixture([7])
    n_outputs = value_fixture(1)


class TestRowwiseNoPotOnRawInput(RowwiseCase):
    """No PoT rows; the first layer reads the raw, signed ap_fixed<16,6> input."""

    kernel = value_fixture(lambda: quantized_rowwise((0, 50, 50)))
    input_activation = value_fixture(False)

    @pytest.fixture(scope="class")
    @classmethod
    def inputs(cls, n_inputs):
        # A coarse grid keeps Keras's float32 sums exact, so its comparison with the reference holds.
        x = np.random.default_rng(3).uniform(-9, 9, (64, n_inputs))
        return snap_to_input_grid(np.round(x * 4) / 4)


class ConvCase(ImageCase, RowwiseCase):
    input_shape = (6, 6, 1)
    n_images = 32


class TestRowwiseConv(ConvCase):
    """1-channel input, 3x3 `same`; then a strided 1x1 `valid`; then a Dense, all row-wise."""

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        blocks = [conv(5, 3, padding="same"), conv(6, 1, kernel=lambda: quantized_rowwise((50, 0, 50)), strides=2)]
        model = conv_model(cls.input_shape, blocks, 5, seed=11, activation=a4, kernel=all_schemes)
        spread_weights(model, 12)
        return model


class TestRowwiseConvStream(TestRowwiseConv):
    io = "io_stream"  # the same case through io_stream


ROWWISE = QuantizationConfig(scheme="rowwise", ratio=[60.0, 30.0, 10.0])


class TestLearnedClipsAndGivenRows(RowwiseCase):
    """Learned per-row clips (the base model spreads them like the weights: only the live quantizer has them)
    and a given assignment, shuffled rather than by variance."""

    @pytest.fixture(scope="class")
    @classmethod
    def kernel(cls, hidden, n_outputs):
        rows = iter([*hidden, n_outputs])  # the base model makes its kernels in this order
        rng = np.random.default_rng(8)

        def make():
            n = next(rows)
            codes = np.repeat([0, 1, 2], row_counts(n, ALL_SCHEMES))
            return quantized_rowwise(ALL_SCHEMES, assignment=rng.permutation(codes), learnable_alpha=True)

        return make


class TestBuildMlp(RowwiseCase):
    """The kit's own row-wise MLP (models.build_mlp)."""

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        model = build_mlp(20, 4, [12, 10], ROWWISE, seed=3)
        spread_weights(model, 4)
        return model

    @pytest.fixture(scope="class")
    @classmethod
    def inputs(cls):
        return snap_to_input_grid(np.random.default_rng(5).uniform(-1, 9, (64, 20)))


class TestBuildCnn(ConvCase):
    """The kit's own row-wise CNN (models.build_cnn): convolutions, a one-resolution switchable BN, pooling."""

    input_shape = (8, 8, 1)

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        model = build_cnn(cls.input_shape, 4, [4, 6], ROWWISE, seed=3)
        spread_weights(model, 6)
        return model


@pytest.mark.parametrize(
    ("conv_args", "message"),
    [({"dilation_rate": 2}, "undilated"), ({"data_format": "channels_first"}, "channels_last")],
)
def test_refuses_unsupported_convolutions(conv_args, message, tmp_path):
    x = tf.keras.Input((6, 6, 6))  # either data format
    h = QConv2D(3, 3, kernel_quantizer=all_schemes(), bias_quantizer=small_bias(), **conv_args)(x)
    with pytest.raises(ValueError, match=message):
        convert(tf.keras.Model(x, h), tmp_path)


def test_refuses_outputs_a_double_cannot_hold(tmp_path):
    """A row whose weights span 2^40 (a PoT row and a Fixed row far apart) needs a grid wider than 52 bits."""
    x = tf.keras.Input((4,), name="features")
    layer = QDense(2, kernel_quantizer=quantized_rowwise((50, 50, 0), assignment=[0, 1]), bias_quantizer=small_bias())
    model = tf.keras.Model(x, layer(x))
    layer.set_weights([np.array([[2.0**20, 2.0**-20]] * 4, np.float32), np.zeros(2, np.float32)])
    with pytest.raises(ValueError, match="more than a double holds exactly"):
        convert(model, tmp_path)
