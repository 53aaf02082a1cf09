"""The teacher/student schedule and the distillation loss (docs/algorithms.md#multi-resolution-training)."""

import numpy as np
import pytest
import tensorflow as tf

from mrfpga.cli.run_config import QuantizationConfig
from mrfpga.training.data import load_digits
from mrfpga.training.models import build_mlp
from mrfpga.training.resolution import resolution_variables
from mrfpga.training.steps import StudentSampler, distillation_loss, joint_loss, make_train_step


def test_students_are_drawn_without_replacement_and_never_the_teacher():
    sampler = StudentSampler(8, seed=0)
    draws = [next(sampler) for _ in range(7 * 5)]
    for epoch in range(5):
        assert sorted(draws[epoch * 7 : (epoch + 1) * 7]) == list(range(7))
    assert draws[:7] != draws[7:14]  # reshuffled when used up


def test_single_resolution_trains_against_itself():
    assert [next(StudentSampler(1, seed=0)) for _ in range(3)] == [0, 0, 0]


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_distillation_loss_is_the_spec_formula():
    rng = np.random.default_rng(0)
    t, s = rng.normal(0, 3, (5, 10)), rng.normal(0, 3, (5, 10))
    y = rng.integers(0, 10, 5)
    pt, ps = softmax(t / 4), softmax(s / 4)
    kl = np.sum(pt * (np.log(pt) - np.log(ps)), -1)
    ce_s = -np.log(softmax(s)[np.arange(5), y])
    ce_t = -np.log(softmax(t)[np.arange(5), y])
    expected = np.mean(0.1 * 16 * kl + 0.45 * ce_s + 0.45 * ce_t)
    got = distillation_loss(tf.constant(t, tf.float32), tf.constant(s, tf.float32), tf.constant(y))
    assert float(got) == pytest.approx(expected, rel=1e-5)
    joint = joint_loss(tf.constant(t, tf.float32), tf.constant(s, tf.float32), tf.constant(y))
    assert float(joint) == pytest.approx(np.mean(ce_s + ce_t), rel=1e-5)


def test_teacher_is_not_detached():
    t = tf.Variable(np.random.default_rng(1).normal(0, 2, (4, 10)).astype(np.float32))
    s = tf.constant(np.random.default_rng(2).normal(0, 2, (4, 10)).astype(np.float32))
    y = tf.constant([1, 2, 3, 4])
    with tf.GradientTape(persistent=True) as tape:
        full = distillation_loss(t, s, y)
        ce_only = 0.45 * tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, t, from_logits=True))
    # The KL term sends gradient into the teacher as well.
    assert not np.allclose(tape.gradient(full, t).numpy(), tape.gradient(ce_only, t).numpy())


def test_one_step_runs_teacher_and_student_and_updates_shared_weights():
    data = load_digits()
    q = QuantizationConfig(resolutions=[[2, 8], [3, 20]])
    model = build_mlp(data.n_inputs, data.n_classes, [16], q)
    before = [w.numpy().copy() for w in model.trainable_variables]
    step = make_train_step(model, tf.keras.optimizers.Adam(0.01), distillation_loss, teacher=1)
    loss = step(data.x_train[:64], data.y_train[:64], tf.constant(0))
    assert np.isfinite(float(loss))
    assert all(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_variables, strict=True))
    # The step leaves the model at the student's resolution; other students reuse the trace.
    assert {int(v.numpy()) for v in resolution_variables(model)} == {0}
    traces = step.experimental_get_tracing_count()
    step(data.x_train[:64], data.y_train[:64], tf.constant(1))
    assert {int(v.numpy()) for v in resolution_variables(model)} == {1}
    assert step.experimental_get_tracing_count() == traces


@pytest.mark.parametrize(("architecture", "compiled"), [("mlp", False), ("mlp", True), ("cnn", False)])
def test_teacher_student_step_one_model_at_a_time_equals_one_tape(architecture, compiled):
    """Holding one model's activations at a time (the teacher backpropagated before the student runs under a
    tape) changes nothing: the losses, weights, optimizer slots and switchable BN statistics after three steps
    are exactly those of one tape over both models, the plain form of the step."""
    from mrfpga.training.models import build_cnn
    from mrfpga.training.steps import holds_one_model_at_a_time

    q = QuantizationConfig(resolutions=[[2, 8], [2, 12], [3, 20]])
    data = load_digits()
    x, y = data.x_train[:32], data.y_train[:32]
    states = []
    for one_model_at_a_time in (False, True):
        if architecture == "mlp":
            model, batch = build_mlp(data.n_inputs, data.n_classes, [16, 8], q, seed=1), x
        else:
            model, batch = build_cnn((8, 8, 1), data.n_classes, [4], q, seed=1), x.reshape(-1, 8, 8, 1)
        optimizer = tf.keras.optimizers.Adam(0.01)
        optimizer.build(model.trainable_variables)
        step = make_train_step(model, optimizer, distillation_loss, 2, compiled, one_model_at_a_time)
        losses = [float(step(batch, y, tf.constant(student))) for student in (0, 1, 0)]
        states.append((losses, [v.numpy() for v in model.variables + optimizer.variables]))
    (reference_losses, reference), (losses, state) = states
    assert losses == reference_losses
    for a, b in zip(reference, state, strict=True):
        np.testing.assert_array_equal(a, b)
    moving = [v for v in model.non_trainable_variables if "moving_mean" in v.name]
    assert (architecture == "cnn") == any(np.any(v.numpy() != 0) for v in moving)  # the CNN's BN trained
    # By default: one model at a time without convolutions, and under XLA (one scratch for the whole step).
    assert holds_one_model_at_a_time(model) == (architecture == "mlp")
    assert holds_one_model_at_a_time(model, jit_compile=True)


def test_switchable_bn_calibration_normalizes_every_resolution():
    """After calibration, each resolution's BN (gamma 1, beta 0) maps its input over the calibration data to
    mean 0 and variance 1 per channel, at inference (the folded, hardware-exact BN); untrained branches did not."""
    from mrfpga.training.models import build_cnn, model_input
    from mrfpga.training.resolution import set_resolution
    from mrfpga.training.switchable_bn import SwitchableBatchNormalization, calibrate_switchable_bn

    data = load_digits()
    model = build_cnn((8, 8, 1), 10, [4], QuantizationConfig(resolutions=[[2, 8], [3, 20]]), seed=0)
    x = model_input(model, data.x_train[:512])
    probe = tf.keras.Model(model.inputs, model.get_layer("bn_0").output)

    def moments(r):
        set_resolution(model, r)
        out = probe.predict(x, verbose=0).astype(np.float64)
        return out.mean(axis=(0, 1, 2)), out.var(axis=(0, 1, 2))

    before = moments(0)
    assert np.abs(before[1] - 1).max() > 0.2  # the initial moving statistics (0, 1) do not normalize
    calibrate_switchable_bn(model, x)
    for r in (0, 1):
        mean, var = moments(r)
        np.testing.assert_allclose(mean, 0, atol=1e-3)
        np.testing.assert_allclose(var, 1, atol=2e-2)  # epsilon 1e-3 and the 16-bit fold
    assert isinstance(model.get_layer("bn_0"), SwitchableBatchNormalization)


def test_whole_step_xla_auto_picks_long_runs_of_models_without_switchable_bn():
    from mrfpga.training.models import build_cnn
    from mrfpga.training.trainer import XLA_MIN_STEPS, whole_step_xla

    q = QuantizationConfig(resolutions=[[2, 8], [3, 20]])
    mlp = build_mlp(8, 3, [4], q)
    cnn = build_cnn((4, 4, 1), 3, [2], q)
    assert whole_step_xla("auto", mlp, XLA_MIN_STEPS)
    assert not whole_step_xla("auto", mlp, XLA_MIN_STEPS - 1)  # the compile would not pay for itself
    assert not whole_step_xla("auto", cnn, 10 * XLA_MIN_STEPS)  # a switchable BN's branches compile for minutes
    assert whole_step_xla(True, cnn, 1) and not whole_step_xla(False, mlp, 10 * XLA_MIN_STEPS)
    with pytest.raises(ValueError, match="jit_compile"):
        whole_step_xla("yes", mlp, 1)


def test_multires_training_under_xla_learns():
    """``training.jit_compile: true``: the whole teacher/student step compiled with XLA (both batch shapes)."""
    from mrfpga.cli.run_config import Config
    from mrfpga.training.methods import train
    from mrfpga.training.steps import accuracy_per_resolution

    data = load_digits()
    config = Config()
    config.model.hidden = [16]
    config.quantization.resolutions = [[2, 8], [3, 20]]
    config.training.epochs, config.training.jit_compile = 3, True
    models, histories = train(config, data, verbose=0)
    assert histories["meta"][-1] < histories["meta"][0]
    assert min(acc for acc, _ in accuracy_per_resolution(models["meta"], data.x_test, data.y_test)) > 0.6


@pytest.mark.parametrize("compiled", [False, True])
def test_kernels_quantized_in_one_batch_equal_each_layer_quantizing_its_own(compiled):
    """The steps quantize every term kernel for all their resolutions in one fused kernel: the logits and the
    gradients (straight through, summed over the resolutions) are exactly those of each layer quantizing its
    own kernel at each resolution."""
    from mrfpga.training.steps import _logits_at, _logits_at_each

    q = QuantizationConfig(weight_bits=6, group_size=8, resolutions=[(1, 2), (2, 5), (3, 12)])
    model = build_mlp(20, 4, [12], q, seed=3)  # fan-in 20 in groups of 8: a short last group
    rng = np.random.default_rng(4)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    x = tf.constant(rng.uniform(-1, 9, (16, 20)), tf.float32)
    variables = resolution_variables(model)
    upstream = tf.constant(rng.standard_normal((16, 4)), tf.float32)

    def run(batched):
        with tf.GradientTape() as tape:
            if batched:
                logits = _logits_at_each(model, variables, [2, 0, tf.constant(1)], x)
            else:
                logits = [_logits_at(model, variables, r, x) for r in (2, 0, tf.constant(1))]
            loss = tf.add_n([tf.reduce_sum(lg * upstream * (i + 1)) for i, lg in enumerate(logits)])
        return logits, tape.gradient(loss, model.trainable_variables)

    if compiled:
        run = tf.function(run)
    (each, each_grads), (batched, batched_grads) = run(False), run(True)
    for a, b in zip([*each, *each_grads], [*batched, *batched_grads], strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(each[0].numpy(), each[1].numpy())  # the resolutions differ
