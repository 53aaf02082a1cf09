"""Image data as users keep it (``uint8`` in an ``.npz``, scaled by the kit and the scaling kept with the model), a
training log that stays readable in a file, and switchable-BN scales kept to a few powers of two."""

import io

import numpy as np
import pytest
import tensorflow as tf

from mrfpga.cli.run_config import from_dict
from mrfpga.training import data as datasets
from mrfpga.training.data import load_digits
from mrfpga.training.errors import ConfigError, DataError
from mrfpga.training.methods import train
from mrfpga.training.switchable_bn import SwitchableBatchNormalization, round_to_terms
from mrfpga.training.trainer import progress_verbosity


def images(tmp_path, dtype=np.uint8, name="images.npz"):
    rng = np.random.default_rng(0)
    top = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
    x = rng.integers(0, 256, (40, 4, 4, 3)).astype(dtype) if top == 255 else (rng.random((40, 4, 4, 3)) * top)
    path = tmp_path / name
    np.savez(path, x_train=x[:30].astype(dtype), y_train=np.arange(30) % 3, x_test=x[30:].astype(dtype),
             y_test=np.arange(10) % 3)  # fmt: skip
    return path, x.astype(dtype)


def test_uint8_images_are_scaled_onto_0_1_and_the_scaling_is_kept(tmp_path):
    path, x = images(tmp_path)
    data = datasets.load(str(path))
    assert data.dtype == "uint8" and data.scaling.describe() == "x / 255 (uint8, auto)"
    expected = (x.reshape(40, -1).astype(np.float64) / 255).astype(np.float32)
    assert np.array_equal(data.x_train, expected[:30]) and np.array_equal(data.x_test, expected[30:])
    stored = datasets.Scaling.from_dict(data.scaling.to_dict())
    assert stored == data.scaling
    again = datasets.load(str(path), scale=stored, normalize="standard")  # scaled, then normalized
    assert np.allclose(again.normalization.mean, expected[:30].mean(axis=0), atol=1e-6)
    floats, _ = images(tmp_path, np.float32, "floats.npz")
    with pytest.raises(DataError, match="trained on uint8 x arrays scaled by 0.00392157; the data now holds float32"):
        datasets.load(str(floats), scale=stored)


def test_scale_settings(tmp_path):
    path, x = images(tmp_path)
    assert datasets.load(str(path), scale="none").scaling is None
    assert np.array_equal(datasets.load(str(path), scale=0.5).x_train, x[:30].reshape(30, -1) * np.float32(0.5))
    floats, _ = images(tmp_path, np.float32, "floats.npz")
    assert datasets.load(str(floats)).scaling is None  # auto leaves floats as they are
    for bad in ("fast", 0, -1.0, True, float("inf")):
        with pytest.raises(ConfigError, match="data.scale"):
            from_dict({"data": {"source": "digits", "scale": bad}})
    mixed = tmp_path / "mixed.npz"
    np.savez(mixed, x_train=x[:30], y_train=np.arange(30) % 3, x_test=x[30:].astype(np.float32),
             y_test=np.arange(10) % 3)  # fmt: skip
    with pytest.raises(DataError, match="x_train holds uint8 values but x_test float32"):
        datasets.load(str(mixed))


def test_training_progress_is_a_line_an_epoch_when_not_on_a_terminal(capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert progress_verbosity(1, io.StringIO()) == 2
    assert progress_verbosity(1, Terminal()) == 1
    assert progress_verbosity(0, io.StringIO()) == 0
    # A real training run into captured standard output (not a terminal): no carriage returns or backspaces, a
    # line an epoch.
    config = from_dict({"model": {"hidden": [8]}, "quantization": {"resolutions": [[2, 8], [3, 20]]},
                        "training": {"epochs": 2, "jit_compile": False}})  # fmt: skip
    data = load_digits()
    data.x_train, data.y_train = data.x_train[:256], data.y_train[:256]  # 4 batches an epoch
    train(config, data, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and "\b" not in out
    lines = out.splitlines()
    assert sum(line.startswith("Epoch ") for line in lines) == 2
    assert all(len(line) < 400 for line in lines)


def terms_of(codes):
    """The fewest signed powers of two summing to each integer (the non-adjacent form's nonzero digits)."""
    counts = []
    for code in np.abs(codes.astype(np.int64)).ravel():
        n = 0
        while code:
            if code & 1:
                n += 1
                code -= 2 - (code & 3) if code & 3 == 3 else 1
            code >>= 1
        counts.append(n)
    return np.array(counts)


@pytest.mark.parametrize("terms", [1, 2, 3])
def test_round_to_terms_keeps_at_most_k_powers_of_two_on_the_16_bit_grid(terms):
    values = tf.constant(np.random.default_rng(terms).uniform(-3, 3, 200))
    rounded = round_to_terms(values, terms).numpy()
    step = 2.0 ** np.ceil(np.log2(np.abs(values.numpy()).max() / (2**15 - 1)))  # the 16-bit codes' grid
    codes = rounded / step
    assert np.array_equal(codes, np.round(codes)) and terms_of(codes).max() <= terms
    # Each further term brings the value closer: the error at k terms is at most the one at k - 1.
    if terms > 1:
        assert np.all(np.abs(rounded - values.numpy()) <= np.abs(round_to_terms(values, terms - 1).numpy() - values))


def test_switchable_bn_with_term_scales_folds_to_them_and_trains():
    layer = SwitchableBatchNormalization(2, scale_terms=2)
    x = tf.constant(np.random.default_rng(0).normal(1.0, 2.0, (64, 5)), tf.float32)
    layer(x, training=True)
    for norm in layer.norms:
        norm.moving_mean.assign(tf.constant(np.linspace(-1, 1, 5), tf.float32))
        norm.moving_variance.assign(tf.constant(np.linspace(0.3, 3, 5), tf.float32))
    scale, shift = (v.numpy() for v in layer.folded())
    assert np.array_equal(scale, round_to_terms(tf.constant(scale), 2).numpy())  # already k-term values
    assert SwitchableBatchNormalization.from_config(layer.get_config()).scale_terms == 2
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True) ** 2)
    active = layer.norms[int(layer.resolution.numpy())]
    assert all(g is not None for g in tape.gradient(loss, [active.gamma, active.beta]))  # straight through
    with pytest.raises(ValueError, match="scale_terms"):
        SwitchableBatchNormalization(2, scale_terms=0)
