"""Training methods selected by ``training.method``, and their baselines (docs/algorithms.md: multi-resolution
training, onion bit sharing, row-wise mixed schemes).

Each returns named Keras models:

- ``multires`` / ``joint`` / ``all``: one meta model serving every resolution;
- ``individual``: one model per resolution, trained alone with the same epochs;
- ``post_training``: a float model trained with the same epochs, then
  quantized without training (its BN copied into every resolution's branch);
- ``onion``: one onion model (precision-specific BN, weighted joint loss);
- ``rowwise``: one row-wise model whose rows are reassigned every
  ``reassign_every`` epochs from the Hessian's top eigenvalue per row;
- ``qkeras``: one plain QKeras model (the hls4ml baseline), cross-entropy.
"""

import copy
from pathlib import Path

import numpy as np
import tensorflow as tf

from .data import fit_input_grid
from .models import build_model, model_input, scheme_input_bits
from .quantizers import quantized_rowwise
from .resolution import kit_quantizers, n_resolutions, set_resolution
from .steps import step_factory
from .switchable_bn import SwitchableBatchNormalization, calibrate_switchable_bn
from .trainer import fit, make_strategy

HESSIAN_SAMPLES = 256


def _fit(model, data, training, make_step, checkpoints, name, verbose, **kwargs):
    directory = None if checkpoints is None else Path(checkpoints) / name
    return fit(
        model, data, training.epochs, training.batch_size, training.learning_rate, training.seed, make_step,
        verbose, checkpoint_dir=directory, lr_schedule=training.lr_schedule, jit_compile=training.jit_compile,
        **kwargs,
    )  # fmt: skip


def single_resolution(quantization, index):
    """The quantization config restricted to resolution ``index``."""
    q = copy.deepcopy(quantization)
    q.resolutions = [list(quantization.resolutions[index])]
    return q


def copy_float_weights(float_model, quantized):
    """Quantize a trained float model: same layer names, its BN into every resolution's branch."""
    for layer in quantized.layers:
        if not layer.weights:
            continue
        source = float_model.get_layer(layer.name)
        if isinstance(layer, SwitchableBatchNormalization):
            for norm, float_norm in zip(layer.norms, source.norms * len(layer.norms), strict=False):
                norm.set_weights(float_norm.get_weights())
        else:
            layer.set_weights(source.get_weights())


def rowwise_layers(model):
    return [q for q in kit_quantizers(model) if isinstance(q, quantized_rowwise)]


def input_grid(config, data, quantization=None):
    """The first layer's grid for ``quantization`` (the configuration's by default): ``data.input_*`` where
    set, the rest from the training split (``fit_input_grid``)."""
    d, q = config.data, quantization or config.quantization
    bits = d.input_bits or scheme_input_bits(q)
    return fit_input_grid(data.x_train, bits, d.input_integer, d.input_signed)


def train(config, data, checkpoints=None, verbose=1):
    """Train ``config.training.method`` inside its tf.distribute strategy; returns {name: model}, {name: losses}."""
    with make_strategy(config.training.strategy).scope():
        models, histories = _train(config, data, checkpoints, verbose)
        for model in models.values():  # every model alike: the baselines too
            calibrate_switchable_bn(model, model_input(model, data.x_train))
            set_resolution(model, n_resolutions(model) - 1)
        return models, histories


def _train(config, data, checkpoints, verbose):
    t, q, m = config.training, config.quantization, config.model
    tf.keras.utils.set_random_seed(t.seed)

    def new_model(quantization):
        grid = None if quantization is None else input_grid(config, data, quantization)
        return build_model(m, data.input_shape, data.n_classes, quantization, t.seed, grid)

    if t.method in ("multires", "joint", "all"):
        model = new_model(q)
        make_step = step_factory(t.method, t.seed, alpha=t.distillation_alpha, temperature=t.distillation_temperature)
        history = _fit(model, data, t, make_step, checkpoints, "meta", verbose)
        set_resolution(model, n_resolutions(model) - 1)
        return {"meta": model}, {"meta": history}
    if t.method == "individual":
        models, histories = {}, {}
        for r in range(len(q.resolutions)):
            name = f"individual_{r}"
            if verbose:
                print(f"-- resolution {r}: a={q.resolutions[r][0]}, k={q.resolutions[r][1]}")
            models[name] = new_model(single_resolution(q, r))
            histories[name] = _fit(models[name], data, t, step_factory("single"), checkpoints, name, verbose)
        return models, histories
    if t.method == "post_training":
        float_model = new_model(None)
        history = _fit(float_model, data, t, step_factory("single"), checkpoints, "float", verbose)
        quantized = new_model(q)
        copy_float_weights(float_model, quantized)
        return {"post_training": quantized, "float": float_model}, {"float": history}
    if t.method == "onion":
        model = new_model(q)
        history = _fit(model, data, t, step_factory("onion", precisions=q.precisions), checkpoints, "onion", verbose)
        set_resolution(model, n_resolutions(model) - 1)
        return {"onion": model}, {"onion": history}
    if t.method == "rowwise":
        return _train_rowwise(config, data, new_model(q), checkpoints, verbose)
    if t.method == "qkeras":
        model = new_model(q)
        history = _fit(model, data, t, step_factory("single"), checkpoints, "qkeras", verbose)
        return {"qkeras": model}, {"qkeras": history}
    raise ValueError(f"unknown training method {t.method!r}")


def _train_rowwise(config, data, model, checkpoints, verbose):
    from .hessian import assign_rows

    t = config.training
    quantizers = rowwise_layers(model)
    sample = np.random.default_rng(t.seed).permutation(len(data.x_train))[:HESSIAN_SAMPLES]
    x = data.x_train[sample].reshape((-1, *model.input_shape[1:]))
    y = data.y_train[sample]

    def reassign(epoch):
        if (epoch + 1) % t.reassign_every == 0 and epoch + 1 < t.epochs:
            codes = assign_rows(model, x, y, t.hessian_iterations, t.seed)
            if verbose:
                counts = {name: np.bincount(c, minlength=3).tolist() for name, c in codes.items()}
                print(f"   reassigned rows (PoT4, Fixed4, Fixed8) per layer: {counts}")

    def get_state():
        return [None if q.assignment is None else q.assignment.numpy().tolist() for q in quantizers]

    def set_state(state):
        for q, codes in zip(quantizers, state, strict=True):
            if codes is not None and min(codes) >= 0:
                q.assign(codes)

    assign_rows(model, x, y, t.hessian_iterations, t.seed)
    history = _fit(
        model, data, t, step_factory("single"), checkpoints, "rowwise", verbose,
        on_epoch_end=reassign, method_state=(get_state, set_state),
    )  # fmt: skip
    return {"rowwise": model}, {"rowwise": history}
