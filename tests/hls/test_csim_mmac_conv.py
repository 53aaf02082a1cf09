"""mMAC Conv2D (term and power-of-two kernels) through conversion and g++ C simulation."""

from functools import partial

import pytest
from csim_base import DigitsCase, ImageCase, value_fixture
from model_builders import SHARES_TRAINED_DIGITS, conv, conv_model, digits_cnn_config, train_digits

from mrfpga.training import quantized_data_term, quantized_pot, quantized_term

pytestmark = pytest.mark.slow

RESOLUTIONS = [(1, 3), (2, 8), (3, 20)]


def data_terms():
    return quantized_data_term(8, 3, [a for a, _ in RESOLUTIONS])


def term_kernel(group_size=16):
    return quantized_term(8, group_size, [k for _, k in RESOLUTIONS])


# The term convolutional stacks: data-term activations, term kernels (groups of 16 unless a block says).
term_conv_model = partial(conv_model, activation=data_terms, kernel=term_kernel)


def pot_kernel():
    return quantized_pot(4)


class TestTermConvDigitsShape(ImageCase):
    """One input channel: a group per kernel position; then max pooling and a term Dense."""

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        return term_conv_model(cls.input_shape, [conv(4, 3, pool=True)], 10, seed=7)


class TestTermConvShortChannelGroups(ImageCase):
    """20 channels in groups of 8: 8 + 8 + 4 at every kernel position; same padding; a single output."""

    input_shape = (5, 5, 20)

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        return term_conv_model(cls.input_shape, [conv(3, 3, padding="same")], 1, seed=8, kernel=partial(term_kernel, 8))


class TestPotConvOnRawInput(ImageCase):
    """Power-of-two 1x1 and strided convolutions reading the raw, signed input (shift mode)."""

    input_shape = (6, 6, 3)

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        blocks = [conv(4, 1, kernel=pot_kernel), conv(2, 3, kernel=pot_kernel, strides=2, padding="same")]
        return term_conv_model(cls.input_shape, blocks, 5, seed=9, input_activation=False)


@SHARES_TRAINED_DIGITS
class TestMetaCnnWithSwitchableBatchNorm(DigitsCase):
    """The digits CNN of the kit, trained briefly as a meta model: BN folds per resolution into scale/shift."""

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        return train_digits(digits_cnn_config({"resolutions": [list(r) for r in RESOLUTIONS]}))["meta"]


class TestMetaCnnStream(TestMetaCnnWithSwitchableBatchNorm):
    io = "io_stream"  # the same case through io_stream


class TestMetaCnnWithTermScalesStream(TestMetaCnnStream):
    """The same CNN with each BN scale kept to two powers of two (quantization.bn_scale_terms: 2), trained so."""

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        quantization = {"resolutions": [list(r) for r in RESOLUTIONS], "bn_scale_terms": 2}
        return train_digits(digits_cnn_config(quantization))["meta"]

    def test_every_scale_is_two_powers_of_two(self, model):
        import numpy as np
        import tensorflow as tf

        from mrfpga.training.switchable_bn import SwitchableBatchNormalization, round_to_terms

        norms = [layer for layer in model.layers if isinstance(layer, SwitchableBatchNormalization)]
        assert norms and all(layer.scale_terms == 2 for layer in norms)
        for layer in norms:
            for r in range(layer.n_resolutions):
                layer.resolution.assign(r)
                scale = layer.folded()[0].numpy()
                assert np.array_equal(scale, round_to_terms(tf.constant(scale), 2).numpy())


class TestTermConvShortChannelGroupsStream(TestTermConvShortChannelGroups):
    io = "io_stream"  # the same case through io_stream


class TestTermConvShortChannelGroupsStreamLanes(TestTermConvShortChannelGroupsStream):
    """The same with each unit walking three term slots a cycle: at k = 8 a group's last step has two lanes on."""

    conv_term_lanes = value_fixture(3)


class TestTermConvShortChannelGroupsLanes(TestTermConvShortChannelGroups):
    conv_term_lanes = value_fixture(2)  # io_parallel, two slots a cycle


QKERAS_CNN = digits_cnn_config({"scheme": "qkeras"}, {"method": "qkeras"})


class TestQKerasCnn(TestMetaCnnWithSwitchableBatchNorm):
    """The plain QKeras baseline's digits CNN (scheme qkeras: quantized_bits kernels, quantized_relu), trained
    briefly and converted by the CLI's convert stage at the embedded default's reuse 4 (its per-layer settings
    once stopped the exact result type pinned before the BN)."""

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls):
        from mrfpga.cli.pipeline import primary

        return primary(train_digits(QKERAS_CNN))

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
