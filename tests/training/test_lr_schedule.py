"""``training.lr_schedule``: the learning rate each step gets, the same after a resume; a bad name is refused."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from mrfpga.cli.run_config import from_dict
from mrfpga.training.errors import ConfigError
from mrfpga.training.trainer import Step, fit

LR, N, BATCH, EPOCHS = 0.01, 40, 8, 3  # 5 steps per epoch, 15 in all


class RecordingStep(Step):
    """A plain eager step that records the learning rate Adam applied at each step."""

    def __init__(self, model, optimizer):
        self.rates = []

        def step(x, y):
            with tf.GradientTape() as tape:
                logits = model(x)
                loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            self.rates.append(float(optimizer.learning_rate))
            return loss

        self.step = step


def tiny():
    rng = np.random.default_rng(0)
    data = SimpleNamespace(x_train=rng.normal(size=(N, 4)).astype("float32"), y_train=rng.integers(0, 3, N))
    tf.keras.utils.set_random_seed(0)
    return data, tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])


def train(schedule, checkpoint_dir=None, stop_after=None):
    data, model = tiny()
    steps = []

    def make_step(model, optimizer):
        steps.append(RecordingStep(model, optimizer))
        return steps[-1]

    def on_epoch_end(epoch):
        if epoch == stop_after:
            raise KeyboardInterrupt  # before this epoch's checkpoint: the resume repeats it

    try:
        fit(model, data, EPOCHS, BATCH, LR, 0, make_step, 0, on_epoch_end, checkpoint_dir, lr_schedule=schedule)
    except KeyboardInterrupt:
        pass
    return steps[0].rates


def test_cosine_decays_to_zero_over_the_run_and_constant_stays():
    total = EPOCHS * N // BATCH
    assert train("cosine") == pytest.approx(
        [LR * (1 + math.cos(math.pi * i / total)) / 2 for i in range(total)], rel=1e-5
    )
    assert train("constant") == pytest.approx([LR] * total)


def test_a_resumed_run_continues_on_the_same_curve(tmp_path):
    whole = train("cosine")
    first = train("cosine", tmp_path, stop_after=1)  # epoch 0 committed, epoch 1 lost
    assert first == whole[:10]
    assert train("cosine", tmp_path) == pytest.approx(whole[5:])  # from epoch 1 on, at the same rates


def test_unknown_schedule_is_named():
    with pytest.raises(ConfigError, match=r"training\.lr_schedule: 'step' is not one of constant, cosine"):
        from_dict({"training": {"lr_schedule": "step"}})
