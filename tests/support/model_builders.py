"""Untrained models for the tests, their weights and batch-norm statistics spread so that every resolution
differs (an untrained switchable BN is the identity at every resolution)."""

import numpy as np

from mrfpga.cli.run_config import QuantizationConfig
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
