"""Hessian-aware row assignment for RMSMP (docs/algorithms.md#row-wise-mixed-schemes, "Assignment").

The rows of a kernel (its last axis: a Dense neuron or a Conv filter) that
the loss is most sensitive to get Fixed-W8. Sensitivity is the largest
eigenvalue of the row's Hessian block ``H_rr = d^2 L / dw_r^2``, where ``w_r``
is the row's float weights (``kernel[..., r]``) and ``L`` the mean sparse
categorical cross-entropy of ``model(x, training=False)`` (logits) against
the integer labels ``y``. The quantizers are straight-through, so the
Hessian is that of the loss at the quantized weights, seen through the float
kernel variable.

Method. Power iteration on every row at once, with Hessian-vector products
from double back-propagation: ``g = dL/dW`` under an outer tape, then
``H u = d(g . u)/dW`` (computed as the outer tape's gradient of ``g`` with
output gradient ``u``, which is the same thing). One product with the
stacked vector ``v = [v_1 .. v_n]`` would give ``sum_s H_rs v_s`` in row
``r``: the cross-row blocks leak in, for Dense as for Conv. So the products
are exact per block instead: for each row ``r`` the vector ``u_r`` is ``v``
masked to row ``r`` (zero elsewhere), and row ``r`` of ``H u_r`` is exactly
``H_rr v_r``. The ``n`` products are vectorized with ``tf.vectorized_map``
(pfor) over the masks, inside one ``tf.function``: the forward pass and the
first backward pass run once per iteration, only the second backward pass is
batched ``n`` times.

Cost per power-iteration step: one forward and one backward pass, plus ``n``
second backward passes (vectorized; each about two to three times a forward
pass) with ``n``-fold activation memory. ``iterations`` steps per layer, so
``iterations * n`` Hessian-vector products in all; a layer of 64 rows at 20
iterations is 1280 products. Keep ``x`` a modest batch.

Power iteration converges to the eigenvalue of largest magnitude, which is
the largest one when the block is positive semi-definite (as it is for
cross-entropy behind piecewise-linear, straight-through layers); the result
is the Rayleigh quotient ``v_r . H_rr v_r`` of the last iterate (negative if a
negative eigenvalue dominates). A row whose block is zero gets 0.

The cross-entropy is written out (``logsumexp - picked logit``): TensorFlow's
fused ``sparse_softmax_cross_entropy_with_logits`` refuses second derivatives.
"""

import numpy as np
import tensorflow as tf

from .quantizers.rowwise import default_assignment, quantized_rowwise


def _loss(model, x, y):
    logits = tf.cast(model(x, training=False), tf.float32)
    picked = tf.gather(logits, y, axis=-1, batch_dims=1)
    return tf.reduce_mean(tf.reduce_logsumexp(logits, axis=-1) - picked)


def _block_hvp_function(model, kernel, x, y):
    """A tf.function: ``V`` (kernel-shaped) -> ``H_rr v_r`` in every row ``r``, exactly."""
    n_rows = int(kernel.shape[-1])
    masks = tf.one_hot(tf.range(n_rows), n_rows, dtype=kernel.dtype)  # (n, n): row r of masks selects row r

    @tf.function
    def block_hvp(v):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                loss = _loss(model, x, y)
            grad = inner.gradient(loss, kernel)

        def one_row(args):
            mask, r = args
            # d(grad . u)/dW with u = v masked to row r; its row r is H_rr v_r.
            hu = outer.gradient(grad, kernel, output_gradients=v * mask)
            return tf.gather(hu, r, axis=-1)

        rows = tf.vectorized_map(one_row, (masks, tf.range(n_rows)))  # (n, *kernel.shape[:-1])
        return tf.transpose(tf.reshape(rows, [n_rows, -1]))  # (fan_in, n)

    return block_hvp


def row_hessian_top_eigenvalues(model, layer, x, y, iterations=20, seed=0):
    """Largest-magnitude eigenvalue of every row's Hessian block of ``layer.kernel``: numpy array (n_rows,)."""
    kernel = layer.kernel
    x = tf.convert_to_tensor(x)
    y = tf.cast(tf.convert_to_tensor(y), tf.int32)
    n_rows = int(kernel.shape[-1])
    block_hvp = _block_hvp_function(model, kernel, x, y)

    v = np.random.default_rng(seed).standard_normal(kernel.shape).astype(kernel.dtype.as_numpy_dtype)
    v = tf.reshape(tf.constant(v), [-1, n_rows])  # columns are rows of the kernel
    v = v / tf.norm(v, axis=0, keepdims=True)
    eigenvalues = tf.zeros([n_rows], v.dtype)
    for _ in range(int(iterations)):
        hv = block_hvp(tf.reshape(v, kernel.shape))
        eigenvalues = tf.reduce_sum(v * hv, axis=0)  # Rayleigh quotient of the current iterate
        norm = tf.norm(hv, axis=0, keepdims=True)
        v = tf.where(norm > 0, hv / tf.where(norm > 0, norm, 1.0), v)
    return eigenvalues.numpy()


def _rowwise_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _rowwise_layers(layer)
        elif isinstance(getattr(layer, "kernel_quantizer_internal", None), quantized_rowwise):
            yield layer


def assign_rows(model, x, y, iterations=20, seed=0):
    """Assign the schemes of every row-wise quantized layer by Hessian eigenvalue; ``{layer name: codes}``.

    Every layer's eigenvalues are taken at the same point (the assignment in
    force when called) before any layer is reassigned.
    """
    layers = list(_rowwise_layers(model))
    eigenvalues = [
        row_hessian_top_eigenvalues(model, layer, x, y, iterations=iterations, seed=seed) for layer in layers
    ]
    assigned = {}
    for layer, eigs in zip(layers, eigenvalues, strict=True):
        quantizer = layer.kernel_quantizer_internal
        codes = default_assignment(layer.kernel, quantizer.ratio, importance=eigs).numpy()
        quantizer.assign(codes)
        assigned[layer.name] = codes
    return assigned
