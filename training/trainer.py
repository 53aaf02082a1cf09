"""The epoch loop every training method shares: batches, Keras progress bars, checkpoints, resume.

Progress goes to standard output as Keras' ``fit`` writes it: a bar redrawn in
place on a terminal; written to a file or a pipe, one line an epoch (``fit``'s
``verbose=2``), since a redrawn bar leaves kilobytes of carriage returns and
backspaces an epoch in a log.

With a checkpoint directory, the model and optimizer are saved after every
epoch together with everything else that decides what comes next: the
epoch, the data-order random state, the step's own state (the student
sampler) and any method state (a row-wise assignment). Each epoch writes its
weights under a new prefix (``ckpt-<epoch>``); renaming ``trainer_state.json``
into place, which names that prefix, commits weights and state together; only
then is the previous checkpoint deleted. A run stopped at any instant and
started again with the same directory continues from the last committed
epoch and ends where an uninterrupted run would have.
"""

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from .models import model_input
from .stop_points import stop_point
from .switchable_bn import SwitchableBatchNormalization

STATE = "trainer_state.json"
# ``jit_compile: auto`` compiles the whole step with XLA from this many steps on: XLA saves the digits MLP
# 1 to 2 ms a step but costs 2 to 3 s of compiling per batch shape (a short last batch is a second one), so a
# shorter run would not earn its compile back (bench/bench_training.py measures the step).
XLA_MIN_STEPS = 5000


def jit_compile_problem(setting, distributed):
    """What is wrong with ``training.jit_compile`` ``setting`` (``distributed``: under a strategy other than
    the default), or None."""
    if setting not in ("auto", True, False):
        return f"training.jit_compile: {setting!r} is not auto, true or false"
    if setting is True and distributed:
        return "training.jit_compile: true needs training.strategy 'default' (XLA compiles one replica)"
    return None


def whole_step_xla(setting, model, steps):
    """Whether to compile the whole training step with XLA: ``setting`` True or False as given; "auto" for a
    run of at least ``XLA_MIN_STEPS`` steps of a model without switchable batch normalization (whose
    per-resolution branches take minutes to compile) outside a distribution strategy."""
    problem = jit_compile_problem(setting, tf.distribute.has_strategy())
    if problem is not None:
        raise ValueError(problem)
    if setting is True or setting is False:
        return setting
    switchable = any(isinstance(layer, SwitchableBatchNormalization) for layer in model.layers)
    return steps >= XLA_MIN_STEPS and not switchable and not tf.distribute.has_strategy()


# ``training.lr_schedule``: Adam's learning rate over the run, the same for every method and model.
# ``cosine`` decays it from the configured rate to 0 over the run's steps; it reads ``optimizer.iterations``,
# which the checkpoint holds, so a resumed run continues on the same curve. The default is ``constant``: on
# digits, cosine did not narrow the meta model's worst gap to the individual models, and over a short
# training it left every model less trained (docs/benchmarks.md#mlp-training-variants-20-seeds).
LR_SCHEDULES = ("constant", "cosine")
DEFAULT_LR_SCHEDULE = "constant"


def learning_rate_schedule(name, learning_rate, total_steps):
    """Adam's learning rate: the float itself (``constant``) or a Keras schedule over ``total_steps``."""
    if name == "constant":
        return learning_rate
    if name == "cosine":
        return tf.keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, total_steps))
    raise ValueError(f"training.lr_schedule: {name!r} is not one of {', '.join(LR_SCHEDULES)}")


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


def progress_verbosity(verbose, stream=None):
    """Keras' verbosity for ``verbose`` (0 silent, 1 a progress bar, 2 a line an epoch) on ``stream`` (standard
    output): a bar only on a terminal, a line an epoch elsewhere."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if verbose == 1 and not (callable(isatty) and isatty()):
        return 2
    return verbose


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


def _checkpoint_prefix(epoch):
    return f"ckpt-{epoch}"


def restore_checkpoint(checkpoint_dir, checkpoint):
    """The committed training state (its weights restored into ``checkpoint``), or None before the first epoch."""
    path = Path(checkpoint_dir) / STATE
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    checkpoint.read(str(path.parent / state["checkpoint"])).assert_existing_objects_matched()
    return state


def save_checkpoint(checkpoint_dir, checkpoint, state):
    """Write the weights under a new prefix, commit them with ``state`` (one rename), then drop the old ones."""
    epoch = state["epoch"]
    prefix = _checkpoint_prefix(epoch)
    checkpoint.write(str(checkpoint_dir / prefix))
    stop_point(f"written:{epoch}")
    _write_json_atomically(checkpoint_dir / STATE, {**state, "checkpoint": prefix})
    stop_point(f"committed:{epoch}")
    for stale in checkpoint_dir.glob("ckpt-*"):  # older epochs, and files of a write that was cut short
        if not stale.name.startswith(prefix + "."):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


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
    jit_compile="auto",
    lr_schedule=DEFAULT_LR_SCHEDULE,
):
    """Train ``model``; ``make_step(model, optimizer[, jit_compile=True]) -> Step``; returns the mean loss of every
    epoch.

    ``verbose``: 0 silent, 1 Keras' progress bar (a line an epoch when standard output is not a terminal),
    2 a line an epoch. ``on_epoch_end(epoch)`` runs after each epoch (e.g. row reassignment);
    ``method_state`` is a (get, set) pair of callables for method state that
    must survive a resume; ``lr_schedule`` is one of ``LR_SCHEDULES``, over ``epochs`` epochs;
    ``jit_compile`` is ``whole_step_xla``'s setting.
    """
    strategy = tf.distribute.get_strategy()  # the caller's scope, where the model was built
    verbose = progress_verbosity(verbose)
    x_train = model_input(model, data.x_train)
    n = len(x_train)
    steps = -(-n // batch_size)
    optimizer = tf.keras.optimizers.Adam(learning_rate_schedule(lr_schedule, learning_rate, epochs * steps))
    optimizer.build(model.trainable_variables)
    # A make_step of two arguments still serves every run that is not compiled whole.
    xla = whole_step_xla(jit_compile, model, epochs * steps)
    step = make_step(model, optimizer, jit_compile=True) if xla else make_step(model, optimizer)
    run = _distributed_runner(strategy, step) if tf.distribute.has_strategy() else step.step
    rng = np.random.default_rng(seed)
    history, start = [], 0
    get_method_state, set_method_state = method_state
    checkpoint = None
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
        state = restore_checkpoint(checkpoint_dir, checkpoint)
        if state is not None:
            start, history = state["epoch"], state["history"]
            rng.bit_generator.state = state["rng"]
            step.set_state(state["step"])
            if set_method_state is not None:
                set_method_state(state["method"])
            if verbose:
                print(f"Resuming after epoch {start} from {checkpoint_dir / state['checkpoint']}", flush=True)
    for epoch in range(start, epochs):
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        bar = tf.keras.utils.Progbar(steps, verbose=verbose)
        order = rng.permutation(n)
        losses = []
        for i, (xb, yb) in enumerate(_batches(strategy, x_train, data.y_train, order, batch_size)):
            loss = float(run(xb, yb, *step.args()))
            losses.append(loss)
            bar.update(i + 1, [("loss", loss)])
            stop_point(f"batch:{epoch + 1}:{i + 1}")
        history.append(float(np.mean(losses)))
        if on_epoch_end is not None:
            on_epoch_end(epoch)
        if checkpoint is not None:
            state = {
                "epoch": epoch + 1,
                "history": history,
                "rng": rng.bit_generator.state,
                "step": step.get_state(),
                "method": get_method_state() if get_method_state is not None else None,
            }
            save_checkpoint(checkpoint_dir, checkpoint, state)
    return history
