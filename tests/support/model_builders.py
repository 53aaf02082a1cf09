"""Models for the tests: untrained ones, their weights and batch-norm statistics spread so that every resolution
differs (an untrained switchable BN is the identity at every resolution); small convolutional stacks
(``conv_model``); the kit's digits CNN trained briefly (``train_digits``)."""

import functools
import json

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits

from mrfpga.cli.run_config import QuantizationConfig, from_dict
from mrfpga.training.data import load_digits
from mrfpga.training.methods import train
from mrfpga.training.models import build_cnn
from mrfpga.training.switchable_bn import SwitchableBatchNormalization


def _spread(layer, rng):
    for norm in layer.norms:
        n = norm.gamma.shape[0]
        norm.set_weights(
            [rng.uniform(0.5, 1.5, n), rng.uniform(-1, 1, n), rng.uniform(-2, 2, n), rng.uniform(0.5, 4, n)]
        )


def spread_switchable_bn(model, seed):
    """Different, spread statistics and affine parameters per resolution in every switchable BN of ``model``."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, SwitchableBatchNormalization):
            _spread(layer, rng)


def stream_cnn(seed=0):
    """The 32x32x3 streaming CNN (3x3 convolutions of 16 and 32 filters, switchable BN, data terms, pooling,
    Dense 10) with normally spread weights, as bench/bench_stream_cnn.py sizes it."""
    model = build_cnn((32, 32, 3), 10, [16, 32], QuantizationConfig(), seed=seed)
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if isinstance(layer, SwitchableBatchNormalization):
            _spread(layer, rng)
        elif layer.weights:
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def small_bias():
    """The convolutional tests' bias quantizer: QKeras's ``quantized_bits(12, 5, alpha=1)``."""
    return quantized_bits(12, 5, alpha=1)


def conv(filters, kernel_size, *, kernel=None, switchable_bn=0, pool=False, **options):
    """One block of ``conv_model``: ``QConv2D(filters, kernel_size, **options)`` quantized by ``kernel()`` (None:
    the model's), a ``SwitchableBatchNormalization`` of ``switchable_bn`` resolutions after it if not 0 (the
    convolution then has no bias), the activation, and 2x2 max pooling if ``pool``."""
    return {"layer": (filters, kernel_size), "kernel": kernel, "bn": switchable_bn, "pool": pool, "options": options}


def conv_model(input_shape, blocks, n_outputs, *, seed, activation, kernel, bias=small_bias, dense_kernel=None,
               input_activation=True):  # fmt: skip
    """Seeded by ``seed``: the input ``features`` (through a ``QActivation`` if ``input_activation``), the ``conv``
    blocks in order, each followed by a ``QActivation``, then Flatten and a ``QDense`` of ``n_outputs``.
    ``activation()``, ``kernel()`` and ``bias()`` make the quantizers, ``dense_kernel()`` the Dense's kernel's
    (``kernel()`` by default)."""
    tf.keras.utils.set_random_seed(seed)
    x = tf.keras.Input(input_shape, name="features")
    h = QActivation(activation())(x) if input_activation else x
    for i, block in enumerate(blocks):
        kernel_quantizer = (block["kernel"] or kernel)()
        bias_args = {"use_bias": False} if block["bn"] else {"bias_quantizer": bias()}
        h = QConv2D(*block["layer"], kernel_quantizer=kernel_quantizer, **bias_args, **block["options"])(h)
        if block["bn"]:
            h = SwitchableBatchNormalization(block["bn"], name=f"bn_{i}")(h)
        h = QActivation(activation())(h)
        if block["pool"]:
            h = tf.keras.layers.MaxPooling2D(2)(h)
    h = tf.keras.layers.Flatten()(h)
    return tf.keras.Model(x, QDense(n_outputs, kernel_quantizer=(dense_kernel or kernel)(), bias_quantizer=bias())(h))


def digits_cnn_config(quantization, training=None):
    """A run configuration (a mapping) of the kit's digits CNN, 3x3 convolutions of 4 and 6 filters, with the
    given ``quantization`` and ``training`` keys, trained for 2 epochs."""
    return {
        "model": {"kind": "cnn", "filters": [4, 6]},
        "quantization": quantization,
        "training": {"epochs": 2, **(training or {})},
    }


def train_digits(config):
    """The models ``training.methods.train`` makes of the run configuration ``config`` (a mapping) on the digits,
    by name; trained once per worker for each configuration (a case and its io_stream variant share them: put
    both in one xdist group, ``SHARES_TRAINED_DIGITS``)."""
    return _trained_digits(json.dumps(config, sort_keys=True))


# The xdist group of the cases that share a model trained by train_digits.
SHARES_TRAINED_DIGITS = pytest.mark.xdist_group("trained_digits")


@functools.cache
def _trained_digits(config_json):
    return train(from_dict(json.loads(config_json)), load_digits(), verbose=0)[0]
