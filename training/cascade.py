"""Input-specific onion inference (docs/algorithms.md#onion-bit-sharing): a confidence cascade over precisions.

Each input starts at the lowest precision and moves up while the top
softmax probability is below the threshold (the highest precision always
answers). The kit's cost of an input is the sum over the precisions it ran
of ``p / p_max``: a pass at precision p moves p of the p_max bits of every
weight and activation, and each pass is run anew (the design choice:
partial results of lower precisions are not reused).
"""

import numpy as np

from .models import model_input
from .resolution import n_resolutions, set_resolution


def precision_probabilities(model, x):
    """Softmax outputs at every precision: (n_precisions, n_samples, n_classes)."""
    x = model_input(model, x)
    out = []
    for r in range(n_resolutions(model)):
        set_resolution(model, r)
        logits = model.predict(x, verbose=0, batch_size=1024)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        out.append(e / e.sum(axis=1, keepdims=True))
    set_resolution(model, n_resolutions(model) - 1)
    return np.stack(out)


def cascade(probabilities, y, precisions, threshold):
    """Accuracy and mean cost per input of the cascade at one threshold."""
    n_prec, n = probabilities.shape[:2]
    chosen = np.full(n, n_prec - 1)
    undecided = np.ones(n, bool)
    for r in range(n_prec - 1):
        confident = undecided & (probabilities[r].max(axis=1) >= threshold)
        chosen[confident] = r
        undecided &= ~confident
    relative = np.cumsum(np.asarray(precisions, float) / max(precisions))
    predictions = probabilities[chosen, np.arange(n)].argmax(axis=1)
    return {
        "threshold": float(threshold),
        "accuracy": float(np.mean(predictions == y)),
        "mean_cost": float(relative[chosen].mean()),
        "share_per_precision": np.bincount(chosen, minlength=n_prec).tolist(),
    }


def sweep(model, x, y, precisions, thresholds):
    probabilities = precision_probabilities(model, x)
    return [cascade(probabilities, y, precisions, t) for t in thresholds]
