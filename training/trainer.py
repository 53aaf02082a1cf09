"""The epoch loop every training method shares: batches, Keras progress bars, checkpoints, resume.

With a checkpoint directory, the model and optimizer are saved after every
epoch (``tf.train.CheckpointManager``) together with everything else that
decides what comes next: the epoch, the data-order random state, the
step's own state (the student sampler) and any method state (a row-wise
assignment). An interrupted run started again with the same directory
continues from the last completed epoch and ends where an uninterrupted run
would have.
"""

import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from .models import model_input

STATE = "trainer_state.json"


class Step:
    """A training step: a compiled ``self.step(x, y, *self.args())`` returning the loss.

    ``args()`` gives the per-batch arguments decided in Python (a student
    index); override get_state/set_state if the step has Python state.
    """

    step = None

    def args(self):
        return ()

    def __call__(self, x, y):
        return self.step(x, y, *self.args())

    def get_state(self):
        return None

    def set_state(self, state):
        pass


def make_strategy(name):
    """``default`` (no distribution), ``mirrored`` (every local GPU, else every logical CPU) or
    ``multiworker`` (MultiWorkerMirroredStrategy: machines listed in the TF_CONFIG environment variable)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; known: default, mirrored, multiworker")


def replica_share(loss, labels):
    """The loss a replica backpropagates: its batch mean weighted by its share of the global batch,
    so the summed gradients and losses are the whole batch's, even when a last batch splits unevenly."""
    local = tf.cast(tf.shape(labels)[0], loss.dtype)
    total = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, local)
    return loss * local / total


def _distributed_runner(strategy, step):
    @tf.function
    def run(x, y, *args):
        per_replica = strategy.run(step.step, args=(x, y, *args))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return run


def _batches(strategy, x, y, order, batch_size):
    if not tf.distribute.has_strategy():
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            yield x[idx], y[idx]
        return
    dataset = tf.data.Dataset.from_tensor_slices((x[order], y[order])).batch(batch_size)
    yield from strategy.experimental_distribute_dataset(dataset)


def _write_json_atomically(path, value):
    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


def fit(
    model,
    data,
    epochs,
    batch_size,
    learning_rate,
    seed,
    make_step,
    verbose=1,
    on_epoch_end=None,
    checkpoint_dir=None,
    method_state=(None, None),
):
    """Train ``model``; ``make_step(model, optimizer) -> Step``; returns the mean loss of every epoch.

    ``on_epoch_end(epoch)`` runs after each epoch (e.g. row reassignment);
    ``method_state`` is a (get, set) pair of callables for method state that
    must survive a resume.
    """
    strategy = tf.distribute.get_strategy()  # the caller's scope, where the model was built
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    step = make_step(model, optimizer)
    run = _distributed_runner(strategy, step) if tf.distribute.has_strategy() else step.step
    rng = np.random.default_rng(seed)
    history, start = [], 0
    get_method_state, set_method_state = method_state
    manager = None
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
        manager = tf.train.CheckpointManager(checkpoint, str(checkpoint_dir), max_to_keep=1)
        if manager.latest_checkpoint and (checkpoint_dir / STATE).is_file():
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
            state = json.loads((checkpoint_dir / STATE).read_text())
            start, history = state["epoch"], state["history"]
            rng.bit_generator.state = state["rng"]
            step.set_state(state["step"])
            if set_method_state is not None:
                set_method_state(state["method"])
            if verbose:
                print(f"Resuming after epoch {start} from {manager.latest_checkpoint}")
    x_train = model_input(model, data.x_train)
    n = len(x_train)
    steps = -(-n // batch_size)
    for epoch in range(start, epochs):
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        bar = tf.keras.utils.Progbar(steps, verbose=verbose)
        order = rng.permutation(n)
        losses = []
        for i, (xb, yb) in enumerate(_batches(strategy, x_train, data.y_train, order, batch_size)):
            loss = float(run(xb, yb, *step.args()))
            losses.append(loss)
            bar.update(i + 1, [("loss", loss)])
        history.append(float(np.mean(losses)))
        if on_epoch_end is not None:
            on_epoch_end(epoch)
        if manager is not None:
            manager.save(checkpoint_number=epoch + 1)
            state = {
                "epoch": epoch + 1,
                "history": history,
                "rng": rng.bit_generator.state,
                "step": step.get_state(),
                "method": get_method_state() if get_method_state is not None else None,
            }
            _write_json_atomically(checkpoint_dir / STATE, state)
    return history
