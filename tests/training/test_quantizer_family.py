"""Fixed, power-of-two, onion and row-wise quantizers (docs/algorithms.md, sections of those names), and the
QKeras contract of all."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from qkeras import QActivation, QConv2D, QDense, QDepthwiseConv2D, quantized_bits
from qkeras.utils import _add_supported_quantized_objects

from mrfpga.training import (
    quantized_data_term,
    quantized_fixed,
    quantized_onion,
    quantized_pot,
    quantized_rowwise,
    quantized_term,
    register_custom_objects,
    set_resolution,
)
from mrfpga.training.quantizers.rowwise import FIXED4, FIXED8, POT4, row_counts

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
weights = hnp.arrays(
    np.float32, st.tuples(st.integers(1, 12), st.integers(1, 6)), elements=st.floats(-3, 3, width=32)
).filter(lambda w: np.abs(w).max() > 1e-3)


def run(quantizer, x):
    return quantizer(tf.constant(x, tf.float32)).numpy()


def is_power_of_two(v):
    return v > 0 and np.log2(v) == np.round(np.log2(v))


def fixed_step(w, bits):
    return 2.0 ** np.ceil(np.log2(np.abs(w).max() / (2 ** (bits - 1) - 1)))


@SETTINGS
@given(weights, st.integers(2, 8))
def test_fixed_levels_and_idempotence(w, bits):
    q = run(quantized_fixed(bits), w)
    step = fixed_step(w, bits)
    codes = q / step
    assert is_power_of_two(step)
    np.testing.assert_array_equal(codes, np.round(codes))
    assert np.abs(codes).max() <= 2 ** (bits - 1) - 1
    np.testing.assert_array_equal(run(quantized_fixed(bits), q), q)


@SETTINGS
@given(weights, st.integers(2, 5))
def test_pot_levels_and_idempotence(w, bits):
    q = run(quantized_pot(bits), w)
    alpha = 2.0 ** np.ceil(np.log2(np.abs(w).max()))
    smallest = -(2 ** (bits - 1) - 2)
    nonzero = np.abs(q[q != 0]) / alpha
    exponents = np.log2(nonzero)
    np.testing.assert_array_equal(exponents, np.round(exponents))
    assert ((exponents >= smallest) & (exponents <= 0)).all()
    np.testing.assert_array_equal(run(quantized_pot(bits), q), q)


def test_pot_rounds_in_the_log_domain_and_flushes_below_the_smallest_level():
    q = quantized_pot(3, alpha=1.0)  # levels 0, 1/4, 1/2, 1
    x = np.array([0.70, 0.72, 0.35, 0.36, 0.17, 0.18, 0.0, -0.9], np.float32)
    # log2 midpoints: 2^-0.5 = 0.707, 2^-1.5 = 0.354, 2^-2.5 = 0.177
    np.testing.assert_array_equal(run(q, x), [0.5, 1.0, 0.25, 0.5, 0.0, 0.25, 0.0, -1.0])


@SETTINGS
@given(weights, st.integers(2, 7))
def test_fixed_error_never_grows_with_bits(w, bits):
    # Power-of-two steps nest the grids: every level at `bits` is a level at `bits + 1`.
    low, high = run(quantized_fixed(bits), w), run(quantized_fixed(bits + 1), w)
    assert (np.abs(w - high) <= np.abs(w - low)).all()


@SETTINGS
@given(weights, st.integers(3, 10))
def test_onion_codes_are_nested_and_error_never_grows(w, bits):
    precisions = list(range(2, bits + 1))
    q = quantized_onion(bits, precisions)
    step = 2.0 ** np.ceil(np.log2(np.abs(w).max() / (2 ** (bits - 1) - 1)))
    outputs = []
    for r in range(len(precisions)):
        q.set_resolution(r)
        outputs.append(run(q, w))
    full_codes = np.abs(outputs[-1]) / step
    for p, out in zip(precisions, outputs, strict=True):
        codes = np.abs(out) / step
        dropped = 2 ** (bits - p)
        # The p-bit code is the top p bits of the full code: truncation, not rounding.
        np.testing.assert_array_equal(codes, np.floor(full_codes / dropped) * dropped)
    errors = [np.abs(w - out) for out in outputs]
    for coarse, fine in zip(errors, errors[1:], strict=False):
        assert (fine <= coarse).all()


def test_onion_activation_is_unsigned_and_needs_a_clip():
    q = quantized_onion(4, [2, 4], alpha=1.5, keep_negative=False)
    out = run(q, np.array([-1.0, 0.3, 2.0, 9.0], np.float32))
    step = 2.0 ** np.ceil(np.log2(1.5 / 15))  # 4 unsigned bits: 15 steps up to alpha
    assert out[0] == 0 and out[2] == out[3] == 15 * step
    with pytest.raises(ValueError, match="needs alpha"):
        quantized_onion(4, [2, 4], keep_negative=False)


@pytest.mark.parametrize(
    "n_rows, ratio, expected",
    [
        (20, (65, 30, 5), [13, 6, 1]),
        (10, (65, 30, 5), [7, 3, 0]),
        (7, (60, 35, 5), [4, 3, 0]),
        (1, (65, 30, 5), [1, 0, 0]),
    ],
)
def test_row_counts_meet_the_ratio_exactly(n_rows, ratio, expected):
    assert row_counts(n_rows, ratio) == expected


@SETTINGS
@given(st.integers(1, 300), st.tuples(st.integers(0, 100), st.integers(0, 100), st.integers(1, 100)))
def test_row_counts_sum_and_stay_within_one_row(n_rows, ratio):
    counts = row_counts(n_rows, ratio)
    exact = np.array(ratio) / sum(ratio) * n_rows
    assert sum(counts) == n_rows
    assert (np.abs(np.array(counts) - exact) < 1).all()


def test_rowwise_rows_follow_their_schemes_and_the_ratio():
    rng = np.random.default_rng(0)
    w = (rng.normal(0, 1, (32, 40)) * rng.uniform(0.1, 2, 40)).astype(np.float32)
    q = quantized_rowwise()
    out = run(q, w)
    codes = q.assignment.numpy()
    assert codes.tolist() == [-1] * 40  # nothing assigned yet: the default split applies
    default = q.row_codes(tf.constant(w)).numpy()
    assert [int((default == s).sum()) for s in (POT4, FIXED4, FIXED8)] == row_counts(40, (65, 30, 5))
    variance = w.var(axis=0)
    pot_rows, fixed_rows = variance[default == POT4], variance[default == FIXED4]
    assert pot_rows.max() <= fixed_rows.min()  # PoT takes the calmest rows
    for row, scheme in enumerate(default):
        values = out[:, row]
        if scheme == POT4:
            exps = np.log2(np.abs(values[values != 0]))
            np.testing.assert_array_equal(exps, np.round(exps))
            assert len(np.unique(np.abs(values))) <= 8
        else:
            step = fixed_step(w[:, row], 8 if scheme == FIXED8 else 4)
            np.testing.assert_array_equal(values / step, np.round(values / step))
    q.assign([FIXED8] * 40)
    assert (run(q, w) == np.stack([run(quantized_fixed(8), w[:, i : i + 1])[:, 0] for i in range(40)], 1)).all()
    with pytest.raises(ValueError, match="scheme codes"):
        q.assign([3] * 40)


@pytest.mark.parametrize(
    "quantizer",
    [quantized_fixed(4, alpha=1.0), quantized_pot(4, alpha=1.0), quantized_onion(6, [3, 6], alpha=1.0)],
    ids=str,
)
def test_gradient_is_one_inside_the_clip_range_and_zero_outside(quantizer):
    # The clip range is alpha rounded up to a power-of-two step: at most 2 * alpha here.
    x = tf.constant([-2.5, -0.6, -0.1, 0.0, 0.05, 0.4, 0.9, 2.5])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = quantizer(x)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0, 1, 1, 1, 1, 1, 1, 0])


def test_rowwise_learned_clips_get_gradients():
    q = quantized_rowwise(learnable_alpha=True)
    layer = QDense(6, kernel_quantizer=q)
    model = tf.keras.Sequential([tf.keras.Input((5,)), layer])
    np.testing.assert_allclose(q.row_alpha.numpy(), np.abs(layer.kernel.numpy()).max(axis=0), rtol=1e-6)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(tf.random.stateless_normal((16, 5), (0, 2))) ** 2)
    (grad,) = tape.gradient(loss, [q.row_alpha])
    assert any(v is q.row_alpha for v in model.trainable_variables) and np.abs(grad.numpy()).sum() > 0


def test_learnable_alpha_is_trained_and_stays_a_power_of_two_step():
    q = quantized_fixed(4, alpha=0.9, learnable_alpha=True)
    layer = QDense(3, kernel_quantizer=q)
    model = tf.keras.Sequential([tf.keras.Input((5,)), layer])
    assert any("alpha" in v.name for v in model.trainable_variables)
    x = tf.random.stateless_normal((16, 5), (0, 1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x) ** 2)
    (grad,) = tape.gradient(loss, [q.clip.variable])
    assert float(tf.abs(grad)) > 0
    step = q.clip.step(tf.constant(1.0), q.n_steps).numpy()
    assert is_power_of_two(step)


ALL_QUANTIZERS = {
    "term": lambda: quantized_term(8, 4, [2, 6]),
    "fixed": lambda: quantized_fixed(4),
    "fixed_learned": lambda: quantized_fixed(4, alpha=0.5, learnable_alpha=True),
    "pot": lambda: quantized_pot(4),
    "onion": lambda: quantized_onion(8, [2, 8]),
    "rowwise": lambda: quantized_rowwise(),
    "rowwise_learned": lambda: quantized_rowwise(learnable_alpha=True),
}


@pytest.mark.parametrize("kind", ALL_QUANTIZERS)
@pytest.mark.parametrize("fmt", ["h5", "tf"])
def test_models_using_each_quantizer_save_and_load_identically(kind, fmt, tmp_path):
    make = ALL_QUANTIZERS[kind]
    inp = tf.keras.Input((6, 6, 3))
    h = QConv2D(4, 3, kernel_quantizer=make(), bias_quantizer=quantized_bits(16, 7, alpha=1))(inp)
    two = kind in ("term", "onion")
    act = (
        quantized_onion(8, [4, 8], alpha=4.0, keep_negative=False)
        if kind == "onion"
        else quantized_data_term(8, 3, [2, 3])
    )
    h = QActivation(act if two else quantized_data_term(8, 3, [3]))(h)
    h = QDepthwiseConv2D(3, depthwise_quantizer=make())(h)
    out = QDense(5, kernel_quantizer=make())(tf.keras.layers.Flatten()(h))
    model = tf.keras.Model(inp, out)
    if kind.startswith("rowwise"):
        model.layers[-1].kernel_quantizer_internal.assign([POT4, FIXED4, FIXED8, FIXED4, POT4])
    x = np.random.default_rng(0).uniform(-1, 1, (8, 6, 6, 3)).astype(np.float32)
    objects = register_custom_objects()
    _add_supported_quantized_objects(objects)
    path = tmp_path / ("m.h5" if fmt == "h5" else "saved")
    model.save(path, save_format=fmt)
    loaded = tf.keras.models.load_model(path, custom_objects=objects, compile=False)
    for r in range(2 if two else 1):
        if two:
            set_resolution(model, r)
            set_resolution(loaded, r)
        np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())
    if kind.startswith("rowwise"):
        assert loaded.layers[-1].kernel_quantizer_internal.get_config()["assignment"] == [0, 1, 2, 1, 0]
    if kind.endswith("learned"):
        assert len(model.trainable_weights) == len(loaded.trainable_weights) > 5  # the learned clips are weights


@pytest.mark.parametrize("kind", ALL_QUANTIZERS)
def test_qkeras_contract(kind):
    q = ALL_QUANTIZERS[kind]()
    assert str(q).startswith(type(q).__name__ + "(")
    assert q.bits > 0 and q.max() > q.min()
    again = type(q).from_config(q.get_config())
    assert again.get_config() == q.get_config()
    w = np.random.default_rng(1).normal(0, 1, (8, 4)).astype(np.float32)
    np.testing.assert_array_equal(run(q, w), run(again, w))


@SETTINGS
@given(weights, st.integers(3, 8), st.data())
def test_onion_is_idempotent_at_every_precision(w, bits, data):
    precisions = sorted(set(data.draw(st.lists(st.integers(2, bits), min_size=1, max_size=3))))
    q = quantized_onion(bits, precisions)
    q.set_resolution(data.draw(st.integers(0, len(precisions) - 1)))
    once = run(q, w)
    np.testing.assert_array_equal(run(q, once), once)


@SETTINGS
@given(weights)
def test_rowwise_is_idempotent_once_rows_are_assigned(w):
    q = quantized_rowwise()
    q.assign(q.row_codes(tf.constant(w)).numpy())  # the variance split depends on the weights: fix it first
    once = run(q, w)
    np.testing.assert_array_equal(run(q, once), once)
