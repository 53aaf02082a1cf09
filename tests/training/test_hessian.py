"""The rows' Hessian eigenvalues (power iteration) and the Hessian-aware row assignment
(docs/algorithms.md#row-wise-mixed-schemes).

The reference is an explicit Hessian: the full Jacobian of the gradient of an
independently written loss with respect to the kernel, sliced to each row's
block, and ``numpy.linalg.eigvalsh``. Power iteration converges to the
eigenvalue of largest magnitude, so that is what is compared (signed); for
these models the blocks are positive semi-definite and it is also the largest.
"""

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense
from qkeras.quantizers import quantized_bits

from mrfpga.training import quantized_data_term, quantized_rowwise
from mrfpga.training.hessian import assign_rows, row_hessian_top_eigenvalues
from mrfpga.training.quantizers.rowwise import FIXED8, POT4, default_assignment, row_counts

ITERATIONS = 300  # plenty for 1e-3 on blocks of a handful of weights


def activation():
    return QActivation(quantized_data_term(8, 3, [9]))


def dense_model(hidden=4, ratio=(65, 30, 5), seed=0):
    tf.keras.utils.set_random_seed(seed)
    x = tf.keras.Input(5)
    h = QDense(hidden, kernel_quantizer=quantized_rowwise(ratio), name="hidden")(x)
    h = activation()(h)
    logits = QDense(3, kernel_quantizer=quantized_rowwise(ratio), name="logits")(h)
    return tf.keras.Model(x, logits)


def conv_model(seed=0):
    tf.keras.utils.set_random_seed(seed)
    x = tf.keras.Input((5, 5, 2))
    h = QConv2D(4, 3, kernel_quantizer=quantized_rowwise(), name="conv")(x)
    h = activation()(h)
    h = tf.keras.layers.Flatten()(h)
    logits = QDense(3, kernel_quantizer=quantized_rowwise(), name="logits")(h)
    return tf.keras.Model(x, logits)


def data(shape, n=24, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (n, *shape)).astype(np.float32), rng.integers(0, n_classes, n)


def explicit_block_eigenvalues(model, kernel, x, y):
    """Every row's Hessian block from the full Hessian of the kernel: list of ascending eigenvalues."""
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            logits = model(tf.constant(x), training=False)
            log_p = tf.nn.log_softmax(logits)
            loss = -tf.reduce_mean(tf.reduce_sum(tf.one_hot(y, logits.shape[-1]) * log_p, axis=-1))
        grad = inner.gradient(loss, kernel)
    n_rows = kernel.shape[-1]
    hessian = outer.jacobian(grad, kernel).numpy().reshape(-1, n_rows, kernel.numpy().size // n_rows, n_rows)
    blocks = [hessian[:, r, :, r] for r in range(n_rows)]
    for block in blocks:
        np.testing.assert_allclose(block, block.T, atol=1e-6)
    return [np.linalg.eigvalsh(block) for block in blocks]


def largest_magnitude(eigenvalues):
    return np.array([e[np.argmax(np.abs(e))] for e in eigenvalues])


@pytest.mark.parametrize("layer_name", ["hidden", "logits"])
def test_dense_rows_match_the_explicit_hessian(layer_name):
    model = dense_model()
    x, y = data((5,))
    layer = model.get_layer(layer_name)
    expected = largest_magnitude(explicit_block_eigenvalues(model, layer.kernel, x, y))
    got = row_hessian_top_eigenvalues(model, layer, x, y, iterations=ITERATIONS)
    assert got.shape == (layer.kernel.shape[-1],)
    assert (expected > 1e-4).all()  # nothing trivial to match
    np.testing.assert_allclose(got, expected, rtol=1e-3)


def test_conv_filters_match_the_explicit_hessian():
    model = conv_model()
    x, y = data((5, 5, 2))
    layer = model.get_layer("conv")
    expected = largest_magnitude(explicit_block_eigenvalues(model, layer.kernel, x, y))
    got = row_hessian_top_eigenvalues(model, layer, x, y, iterations=ITERATIONS)
    assert got.shape == (4,)
    assert (expected > 1e-4).all()
    np.testing.assert_allclose(got, expected, rtol=1e-3)


def test_iterations_and_seed_are_deterministic():
    model = dense_model()
    x, y = data((5,))
    layer = model.get_layer("hidden")
    a = row_hessian_top_eigenvalues(model, layer, x, y, iterations=3, seed=1)
    b = row_hessian_top_eigenvalues(model, layer, x, y, iterations=3, seed=1)
    np.testing.assert_array_equal(a, b)


def test_assign_rows_puts_the_largest_eigenvalues_in_fixed8():
    ratio = (50, 25, 25)
    model = dense_model(hidden=8, ratio=ratio, seed=3)
    # A layer with another kernel quantizer is left alone.
    h = QDense(3, kernel_quantizer=quantized_bits(4, 0, alpha=1), name="other")(model.output)
    model = tf.keras.Model(model.input, h)
    x, y = data((5,), n=32, seed=3)
    layer = model.get_layer("hidden")
    quantizer = layer.kernel_quantizer_internal
    eigenvalues = largest_magnitude(explicit_block_eigenvalues(model, layer.kernel, x, y))
    by_variance = default_assignment(layer.kernel, ratio).numpy()
    before = model(x).numpy()
    assert quantizer.get_config()["assignment"] is None

    assigned = assign_rows(model, x, y, iterations=100)

    assert sorted(assigned) == ["hidden", "logits"]
    for name, codes in assigned.items():
        q = model.get_layer(name).kernel_quantizer_internal
        n_rows = model.get_layer(name).kernel.shape[-1]
        assert list(np.bincount(codes, minlength=3)) == row_counts(n_rows, ratio)
        np.testing.assert_array_equal(q.assignment.numpy(), codes)
        assert q.get_config()["assignment"] == [int(c) for c in codes]

    codes = assigned["hidden"]
    n_f8 = row_counts(8, ratio)[FIXED8]
    top = np.argsort(eigenvalues)[::-1]
    assert eigenvalues[top[n_f8 - 1]] > 1.01 * eigenvalues[top[n_f8]]  # an unambiguous top
    assert set(np.flatnonzero(codes == FIXED8)) == set(top[:n_f8])
    variance = layer.kernel.numpy().var(axis=0)
    rest = np.flatnonzero(codes != FIXED8)
    calm = rest[np.argsort(variance[rest])][: row_counts(8, ratio)[POT4]]
    assert set(np.flatnonzero(codes == POT4)) == set(calm)

    # The layer now quantizes with these codes, and the model computes with them.
    assert not np.array_equal(codes, by_variance)
    reference = quantized_rowwise(ratio, assignment=codes)
    np.testing.assert_array_equal(quantizer(layer.kernel).numpy(), reference(layer.kernel).numpy())
    assert not np.allclose(model(x).numpy(), before)
