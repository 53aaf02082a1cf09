"""``mrfpga evaluate``: every method side by side on one configuration, as tables and plots.

Trained here, with the configuration's data, model and epochs:

- the meta model (``training.method`` if it is multires, joint or all, else multires);
- one individually trained model per resolution;
- post-training term quantization of a float model;
- bit sharing at matched cost: onion weights (one shared sign-magnitude
  code, precision p its top p bits) with the same data terms, the precision
  of each resolution matched at measured cost: the meta model's mean number
  of nonzero weight terms per group of g, measured on its trained weights at
  that resolution, against the nonzero bits per group as onion codes at each
  precision; the closest wins (a tie goes to the higher precision). First on
  the meta model's weights; then on the trained baseline's own, which is
  trained again while they call for other precisions (at most 3 trainings;
  the one closest to the meta model's counts is kept). Both models' measured
  terms per group are reported;
- the float model of the same architecture, trained the same way (the ceiling);
- an onion model (``quantization.precisions``) and its confidence cascade;
- a row-wise model (``quantization.ratio``) and its assignment per layer.
"""

import copy
import csv
import json
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from mrfpga.training import term_encodings
from mrfpga.training.cascade import sweep
from mrfpga.training.methods import train
from mrfpga.training.quantizers import quantized_onion, quantized_rowwise, quantized_term
from mrfpga.training.resolution import n_resolutions, set_resolution
from mrfpga.training.steps import accuracy_per_resolution

from .pipeline import describe_input, load_data

TERM_METHODS = ("multires", "joint", "all")


def weight_terms(quantizer, kernel):
    """Nonzero terms of every quantized weight at the quantizer's current resolution: a term kernel's kept
    digits (in its encoding), an onion code's kept bits (binary: what its mMAC walks)."""
    x = tf.constant(kernel, tf.float32)
    if isinstance(quantizer, quantized_term):
        unit, encoding = quantizer.magnitudes(x)[1], quantizer.encoding
    elif isinstance(quantizer, quantized_onion):
        unit, encoding = quantizer.codes(x)[1], "binary"
    else:
        raise ValueError(f"no term count for {type(quantizer).__name__} kernels")
    magnitudes = np.round(np.abs(quantizer(x).numpy() / unit.numpy())).astype(np.int32)  # exact: power-of-two unit
    return np.count_nonzero(term_encodings.digit_planes(magnitudes, quantizer.bits, encoding).numpy(), axis=-1)


def group_sums(per_weight, group_size):
    """Sums over groups of ``group_size`` consecutive inputs (axis -2, the last group may be short)."""
    moved = np.moveaxis(per_weight, -2, -1)
    pad = -moved.shape[-1] % group_size
    moved = np.pad(moved, [(0, 0)] * (moved.ndim - 1) + [(0, pad)])
    return moved.reshape(*moved.shape[:-1], -1, group_size).sum(axis=-1).ravel()


def kernels(model):
    return [layer for layer in model.layers if hasattr(layer, "kernel_quantizer_internal")]


def measured_terms_per_group(model, group_size, quantizer_for=None):
    """Per resolution, the mean number of nonzero weight terms per group of ``group_size`` over every term or
    onion kernel of ``model`` (its trained weights); ``quantizer_for(layer)`` may quantize them differently."""
    quantizer_for = quantizer_for or (lambda layer: layer.kernel_quantizer_internal)
    result = []
    for r in range(n_resolutions(model)):
        set_resolution(model, r)
        per_layer = [weight_terms(quantizer_for(layer), layer.kernel.numpy()) for layer in kernels(model)]
        result.append(float(np.mean(np.concatenate([group_sums(t, group_size) for t in per_layer]))))
    set_resolution(model, n_resolutions(model) - 1)
    return result


def onion_terms_per_group(model, quantization, precision):
    """The terms per group of ``model``'s trained weights quantized as onion codes at ``precision``."""
    onion = quantized_onion(quantization.weight_bits, [precision])
    return measured_terms_per_group(model, quantization.group_size, lambda layer: onion)[-1]


def _candidates(quantization):
    return range(2, quantization.weight_bits + 1)


def _closest_precisions(target, onion_terms, candidates):
    """Per target count, the precision whose count comes closest (a tie goes to the higher precision)."""
    return [min(candidates, key=lambda p, t=t: (abs(onion_terms[p] - t), -p)) for t in target]


def bit_sharing_precisions(meta, quantization):
    """Per resolution, the onion precision whose terms per group on the meta model's trained weights come
    closest to the meta model's own (a tie goes to the higher precision); and both counts."""
    target = measured_terms_per_group(meta, quantization.group_size)
    candidates = _candidates(quantization)
    onion = {p: onion_terms_per_group(meta, quantization, p) for p in candidates}
    return _closest_precisions(target, onion, candidates), target, onion


MATCH_TRAININGS = 3  # at most this many trainings of the bit-sharing baseline to match its cost


@dataclass
class MatchedBitSharing:
    model: object
    precisions: list
    meta_terms: list  # the meta model's measured terms per group, per resolution (the target)
    terms: list  # the baseline's own, measured on its trained weights at its precisions
    trainings: int
    fixed_point: bool  # its precisions are the closest on its own trained weights


def matched_bit_sharing(meta, quantization, train_at):
    """The bit-sharing baseline at matched cost; ``train_at(precisions)`` trains one.

    Its precisions are first matched on the meta model's trained weights (``bit_sharing_precisions``). Trained at
    them, the baseline has weights of its own, with other counts: on digits a baseline matched that way
    measured 1.7 terms per group where the meta model had 8. So every resolution is matched again on the
    baseline's own trained weights (as onion codes at each precision) and the baseline trained again, until
    the precisions repeat or ``MATCH_TRAININGS`` trainings are done. Of the baselines trained, the one whose own
    measured terms per group come closest to the meta model's (summed over the resolutions) is kept.
    """
    precisions, target, _ = bit_sharing_precisions(meta, quantization)
    candidates = _candidates(quantization)
    trained = {}  # precisions -> (model, its measured terms per group, the precisions its own weights call for)
    while tuple(precisions) not in trained and len(trained) < MATCH_TRAININGS:
        model = train_at(precisions)
        own = {p: onion_terms_per_group(model, quantization, p) for p in candidates}  # its own quantizers' counts too
        again = _closest_precisions(target, own, candidates)
        trained[tuple(precisions)] = (model, [own[p] for p in precisions], again)
        precisions = again
    best = min(trained, key=lambda p: sum(abs(m - t) for m, t in zip(trained[p][1], target, strict=True)))
    model, terms, again = trained[best]
    return MatchedBitSharing(model, list(best), target, terms, len(trained), list(best) == again)


def _variant(config, method, scheme, **quantization):
    c = copy.deepcopy(config)
    c.training.method = method
    c.quantization.scheme = scheme
    for key, value in quantization.items():
        setattr(c.quantization, key, value)
    return c


def _accuracies(model, data):
    return [acc for acc, _ in accuracy_per_resolution(model, data.x_test, data.y_test)]


def evaluate(config, out_dir, verbose=1):
    data = load_data(config)
    for warning in describe_input(config, data)["warnings"]:
        print(f"WARNING: {warning}", flush=True)
    q = config.quantization
    meta_method = config.training.method if config.training.method in TERM_METHODS else "multires"
    accuracy, extra = {}, {}

    def run(name, variant):
        if verbose:
            print(f"\n== {name}: {variant.training.method} ({variant.quantization.scheme})")
        models, _ = train(variant, data, None, verbose)
        return models

    meta = run("meta model", _variant(config, meta_method, "term"))["meta"]
    accuracy["meta"] = _accuracies(meta, data)
    individual = run("individually trained models", _variant(config, "individual", "term"))
    accuracy["individual"] = [_accuracies(individual[f"individual_{r}"], data)[0] for r in range(len(q.resolutions))]
    post = run("post-training quantization", _variant(config, "post_training", "term"))
    accuracy["post_training"] = _accuracies(post["post_training"], data)
    accuracy["float"] = _accuracies(post["float"], data) * len(q.resolutions)  # one model: the ceiling
    matched = matched_bit_sharing(
        meta, q, lambda p: run(f"bit sharing at {p}", _variant(config, meta_method, "bitshare", precisions=p))["meta"]
    )
    accuracy["bit_sharing"] = _accuracies(matched.model, data)
    extra["terms_per_group"] = {
        "group_size": q.group_size,
        "meta": matched.meta_terms,
        "bit_sharing": matched.terms,
        "bit_sharing_trainings": matched.trainings,
        "bit_sharing_fixed_point": matched.fixed_point,
    }
    onion = run("onion", _variant(config, "onion", "onion"))["onion"]
    extra["onion"] = {
        "precisions": q.precisions,
        "accuracy": _accuracies(onion, data),
        "cascade": sweep(onion, data.x_test, data.y_test, q.precisions, config.training.cascade_thresholds),
    }
    rowwise = run("row-wise mixed", _variant(config, "rowwise", "rowwise"))["rowwise"]
    extra["rowwise"] = {
        "ratio": q.ratio,
        "accuracy": _accuracies(rowwise, data)[0],
        "assignment": {
            layer.name: np.bincount(layer.kernel_quantizer_internal.assignment.numpy(), minlength=3).tolist()
            for layer in rowwise.layers
            if isinstance(getattr(layer, "kernel_quantizer_internal", None), quantized_rowwise)
        },
    }
    results = {
        "data": data.name,
        "model": config.model.kind,
        "epochs": config.training.epochs,
        "seed": config.training.seed,
        "meta_method": meta_method,
        "resolutions": [{"a": a, "k": k, "gamma": a * k} for a, k in q.resolutions],
        "bit_sharing_precisions": matched.precisions,
        "input": describe_input(config, data),
        "accuracy": accuracy,
        **extra,
    }
    write_outputs(results, meta, out_dir)
    return results


def write_outputs(results, meta, out_dir):
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    methods = list(results["accuracy"])
    with open(out_dir / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["resolution", "a", "k", "gamma", *methods])
        for r, res in enumerate(results["resolutions"]):
            writer.writerow([r, res["a"], res["k"], res["gamma"], *(results["accuracy"][m][r] for m in methods)])
    lines = ["| res | a | k | gamma | " + " | ".join(methods) + " |", "|---" * (4 + len(methods)) + "|"]
    for r, res in enumerate(results["resolutions"]):
        cells = " | ".join(f"{100 * results['accuracy'][m][r]:.2f}" for m in methods)
        lines.append(f"| {r} | {res['a']} | {res['k']} | {res['gamma']} | {cells} |")
    terms = results["terms_per_group"]
    settled = "" if terms["bit_sharing_fixed_point"] else "; its own weights still call for other precisions"
    lines += ["", f"Weight terms per group of {terms['group_size']}, measured on the trained weights "
              f"(bit-sharing precisions {results['bit_sharing_precisions']}, matched in "
              f"{terms['bit_sharing_trainings']} trainings of the baseline{settled}):",
              "| res | meta | bit sharing |", "|---|---|---|"]  # fmt: skip
    lines += [
        f"| {r} | {m:.2f} | {b:.2f} |" for r, (m, b) in enumerate(zip(terms["meta"], terms["bit_sharing"], strict=True))
    ]
    lines += ["", f"Onion precisions {results['onion']['precisions']}: accuracy "
              + ", ".join(f"{100 * a:.2f}" for a in results["onion"]["accuracy"]), "",
              "| threshold | accuracy | mean cost |", "|---|---|---|"]  # fmt: skip
    lines += [
        f"| {c['threshold']} | {100 * c['accuracy']:.2f} | {c['mean_cost']:.3f} |" for c in results["onion"]["cascade"]
    ]
    lines += ["", f"Row-wise {results['rowwise']['ratio']}: accuracy {100 * results['rowwise']['accuracy']:.2f}; "
              "rows (PoT4, Fixed4, Fixed8) per layer: " + json.dumps(results["rowwise"]["assignment"])]  # fmt: skip
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
    write_plots(results, meta, out_dir)


def write_plots(results, meta, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gamma = [r["gamma"] for r in results["resolutions"]]
    order = np.argsort(gamma, kind="stable")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for method, values in results["accuracy"].items():
        ax.plot(np.array(gamma)[order], 100 * np.array(values)[order], "o-", label=method.replace("_", " "))
    ax.set_xlabel("term-pair budget gamma = a * k")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{results['model']} on {results['data']}: accuracy against resolution")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "accuracy_vs_gamma.png", dpi=120)
    plt.close(fig)

    layer = next(layer for layer in meta.layers if hasattr(layer, "kernel_quantizer_internal"))
    n = len(results["resolutions"])
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.6), sharey=True)
    for r, ax in enumerate(np.atleast_1d(axes)):
        set_resolution(meta, r)
        values = layer.kernel_quantizer_internal(layer.kernel).numpy().ravel()
        ax.hist(values, bins=41)
        ax.set_title(f"k={results['resolutions'][r]['k']}", fontsize=9)
    set_resolution(meta, n - 1)
    fig.suptitle(f"weight levels of {layer.name} per resolution")
    fig.tight_layout()
    fig.savefig(out_dir / "weight_histograms.png", dpi=110)
    plt.close(fig)

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    cascade = results["onion"]["cascade"]
    left.plot([c["mean_cost"] for c in cascade], [100 * c["accuracy"] for c in cascade], "o-")
    for c in cascade:
        left.annotate(str(c["threshold"]), (c["mean_cost"], 100 * c["accuracy"]), fontsize=8)
    left.set_xlabel("mean cost per input (precision passes, in units of the top precision)")
    left.set_ylabel("accuracy (%)")
    left.set_title("onion confidence cascade")
    names = list(results["rowwise"]["assignment"])
    counts = np.array([results["rowwise"]["assignment"][k] for k in names]).reshape(-1, 3)
    bottom = np.zeros(len(names))
    for s, label in enumerate(("PoT-W4", "Fixed-W4", "Fixed-W8")):
        right.bar(names, counts[:, s], bottom=bottom, label=label)
        bottom += counts[:, s]
    right.set_ylabel("rows")
    right.set_title("row-wise assignment per layer")
    right.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "onion_rowwise.png", dpi=110)
    plt.close(fig)
