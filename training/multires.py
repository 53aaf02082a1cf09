"""Multi-resolution ("meta") training, SPEC section 2.

Each step runs the teacher (highest resolution) and one student on the same
batch. Students come from a shuffled list of the other resolutions, drawn
without replacement and reshuffled when used up. The loss is
``alpha*T^2*KL(p_t^T || p_s^T) + (1-alpha)/2*CE(s) + (1-alpha)/2*CE(t)`` with
the teacher not detached, or ``CE(t) + CE(s)`` in ``joint`` mode; one
optimizer step on the sum.
"""

import numpy as np
import tensorflow as tf

from .quantizers import n_resolutions, resolution_variables, set_resolution

ALPHA = 0.1
TEMPERATURE = 4.0


class StudentSampler:
    """Without-replacement draws from every resolution but the teacher, reshuffled when used up."""

    def __init__(self, n_resolutions, seed):
        self.pool = list(range(n_resolutions - 1)) or [0]
        self.rng = np.random.default_rng(seed)
        self.queue = []

    def __next__(self):
        if not self.queue:
            self.queue = list(self.rng.permutation(self.pool))
        return int(self.queue.pop())

    def __iter__(self):
        return self


def distillation_loss(teacher_logits, student_logits, labels, alpha=ALPHA, temperature=TEMPERATURE):
    ce = tf.keras.losses.sparse_categorical_crossentropy
    t_soft = tf.nn.softmax(teacher_logits / temperature)
    s_log_soft = tf.nn.log_softmax(student_logits / temperature)
    t_log_soft = tf.nn.log_softmax(teacher_logits / temperature)
    kl = tf.reduce_sum(t_soft * (t_log_soft - s_log_soft), axis=-1)
    return tf.reduce_mean(
        alpha * temperature**2 * kl
        + (1 - alpha) / 2 * ce(labels, student_logits, from_logits=True)
        + (1 - alpha) / 2 * ce(labels, teacher_logits, from_logits=True)
    )


def joint_loss(teacher_logits, student_logits, labels):
    ce = tf.keras.losses.sparse_categorical_crossentropy
    return tf.reduce_mean(ce(labels, teacher_logits, from_logits=True) + ce(labels, student_logits, from_logits=True))


LOSSES = {"multires": distillation_loss, "joint": joint_loss}


def make_train_step(model, optimizer, loss_fn, teacher):
    variables = resolution_variables(model)

    def select(index):
        for v in variables:
            v.assign(index)

    @tf.function
    def step(x, y, student):
        with tf.GradientTape() as tape:
            select(teacher)
            teacher_logits = model(x, training=True)
            select(student)
            student_logits = model(x, training=True)
            loss = loss_fn(teacher_logits, student_logits, y)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step


def train_multires(model, data, epochs, batch_size, learning_rate, seed=0, method="multires", verbose=1):
    """Train ``model`` on ``data`` (a Dataset); returns the per-epoch mean loss."""
    if method not in LOSSES:
        raise ValueError(f"unknown training method {method!r}; known: {', '.join(LOSSES)}")
    tf.keras.utils.set_random_seed(seed)
    n_res = n_resolutions(model)
    teacher = n_res - 1
    sampler = StudentSampler(n_res, seed)
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    step = make_train_step(model, optimizer, LOSSES[method], teacher)
    rng = np.random.default_rng(seed)
    n = len(data.x_train)
    steps = -(-n // batch_size)
    history = []
    for epoch in range(epochs):
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        bar = tf.keras.utils.Progbar(steps, verbose=verbose, stateful_metrics=["student"])
        order = rng.permutation(n)
        losses = []
        for i in range(steps):
            idx = order[i * batch_size : (i + 1) * batch_size]
            student = next(sampler)
            loss = float(step(data.x_train[idx], data.y_train[idx], tf.constant(student, tf.int32)))
            losses.append(loss)
            bar.update(i + 1, [("loss", loss), ("student", student)])
        history.append(float(np.mean(losses)))
    set_resolution(model, teacher)
    return history


def accuracy_per_resolution(model, x, y):
    """Keras accuracy and logits at every resolution."""
    results = []
    for r in range(n_resolutions(model)):
        set_resolution(model, r)
        logits = model.predict(x, verbose=0, batch_size=1024)
        results.append((float(np.mean(np.argmax(logits, -1) == y)), logits))
    set_resolution(model, n_resolutions(model) - 1)
    return results
