"""``mrfpga evaluate``: every method side by side on one configuration, as tables and plots.

Trained here, with the configuration's data, model and epochs:

- the meta model (``training.method`` if it is multires, joint or all, else multires);
- one individually trained model per resolution;
- post-training term quantization of a float model;
- bit sharing at matched cost: onion weights with precision
  ``p_r = 1 + floor(2 k_r / g + 1/2)`` (a p-bit sign-magnitude weight has
  p - 1 magnitude bits, half of them nonzero on average, so a group of g
  carries about ``g (p - 1) / 2`` terms, matched to k), the same data terms;
- an onion model (``quantization.precisions``) and its confidence cascade;
- a row-wise model (``quantization.ratio``) and its assignment per layer.
"""

import copy
import csv
import json

import numpy as np

from mrfpga.training import data as datasets
from mrfpga.training.cascade import sweep
from mrfpga.training.methods import train
from mrfpga.training.multires import accuracy_per_resolution
from mrfpga.training.quantizers import set_resolution
from mrfpga.training.rowwise import quantized_rowwise

TERM_METHODS = ("multires", "joint", "all")


def bit_sharing_precisions(quantization):
    g = quantization.group_size
    return [
        int(min(max(1 + np.floor(2 * k / g + 0.5), 2), quantization.weight_bits)) for _, k in quantization.resolutions
    ]


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
    data = datasets.load(config.data, config.training.seed)
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
    post = run("post-training quantization", _variant(config, "post_training", "term"))["post_training"]
    accuracy["post_training"] = _accuracies(post, data)
    precisions = bit_sharing_precisions(q)
    shared = run("bit sharing", _variant(config, meta_method, "bitshare", precisions=precisions))["meta"]
    accuracy["bit_sharing"] = _accuracies(shared, data)
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
        "bit_sharing_precisions": precisions,
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
