"""Every training method trains from a config; models, checkpoints, resume and the cascade behave."""

import json

import numpy as np
import pytest
import yaml
from processes import mrfpga_in_process

from mrfpga.cli.run_config import Config, from_dict
from mrfpga.training.cascade import cascade
from mrfpga.training.data import load_digits
from mrfpga.training.methods import train
from mrfpga.training.models import model_input
from mrfpga.training.resolution import n_resolutions, set_resolution
from mrfpga.training.steps import onion_weights

pytestmark = pytest.mark.slow


def small_config(**sections):
    raw = {
        "model": {"hidden": [16], "filters": [4]},
        "quantization": {"resolutions": [[2, 8], [3, 20]], "precisions": [3, 8]},
        "training": {"epochs": 2, "reassign_every": 1, "hessian_iterations": 3},
    }
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return from_dict(raw)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.mark.parametrize(
    "method, scheme, names",
    [
        ("multires", "term", ["meta"]),
        ("joint", "term", ["meta"]),
        ("all", "term", ["meta"]),
        ("individual", "term", ["individual_0", "individual_1"]),
        ("post_training", "term", ["float", "post_training"]),
        ("onion", "onion", ["onion"]),
        ("rowwise", "rowwise", ["rowwise"]),
    ],
)
def test_each_method_trains_from_a_config(method, scheme, names, digits):
    config = small_config(training={"method": method}, quantization={"scheme": scheme})
    models, histories = train(config, digits, verbose=0)
    assert sorted(models) == names
    for history in histories.values():
        assert len(history) == 2 and np.isfinite(history).all()
    for name, model in models.items():
        logits = model.predict(model_input(model, digits.x_test[:50]), verbose=0)
        assert logits.shape == (50, 10) and np.isfinite(logits).all(), name
    expected = {"meta": 2, "onion": 2, "post_training": 2, "float": 1, "rowwise": 1}
    for name, model in models.items():
        assert n_resolutions(model) == expected.get(name, 1), name
    if method == "rowwise":
        layers = [layer for layer in models["rowwise"].layers if hasattr(layer, "kernel_quantizer_internal")]
        assert len(layers) == 2
        for layer in layers:  # assigned from the Hessian, not left to the default
            assert (layer.kernel_quantizer_internal.assignment.numpy() >= 0).all()


def test_cnn_with_switchable_batch_norm(digits):
    config = small_config(model={"kind": "cnn"})
    model = train(config, digits, verbose=0)[0]["meta"]
    assert model.input_shape == (None, 8, 8, 1)
    bn = model.get_layer("bn_0")
    means = [norm.moving_mean.numpy() for norm in bn.norms]
    assert not np.array_equal(means[0], means[1])  # each resolution keeps its own statistics
    set_resolution(model, 0)
    low = model(digits.x_test[:20].reshape(-1, 8, 8, 1)).numpy()
    set_resolution(model, 1)
    assert not np.array_equal(low, model(digits.x_test[:20].reshape(-1, 8, 8, 1)).numpy())


def test_custom_builder(digits, tmp_path, monkeypatch):
    (tmp_path / "user_models.py").write_text(
        "import tensorflow as tf\n"
        "from qkeras import QDense, QActivation\n"
        "from mrfpga.training.models import data_term_quantizer, weight_term_quantizer\n"
        "def tiny(input_shape, n_classes, q):\n"
        "    x = tf.keras.Input(input_shape)\n"
        "    h = QActivation(data_term_quantizer(q))(tf.keras.layers.Flatten()(x))\n"
        "    return tf.keras.Model(x, QDense(n_classes, kernel_quantizer=weight_term_quantizer(q))(h))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = small_config(model={"kind": "custom", "builder": "user_models:tiny"})
    model = train(config, digits, verbose=0)[0]["meta"]
    assert len(model.layers) == 4 and n_resolutions(model) == 2
    with pytest.raises(ValueError, match="has no function 'nope'"):
        train(small_config(model={"kind": "custom", "builder": "user_models:nope"}), digits, verbose=0)


def test_onion_loss_weights_and_cascade_limits():
    assert onion_weights([2, 6]) == [0.25, 0.75]
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=(2, 100))
    y = rng.integers(0, 10, 100)
    always_low = cascade(probs, y, [2, 8], threshold=0.0)
    always_high = cascade(probs, y, [2, 8], threshold=1.01)
    assert always_low["accuracy"] == np.mean(probs[0].argmax(1) == y) and always_low["mean_cost"] == 0.25
    assert always_high["accuracy"] == np.mean(probs[1].argmax(1) == y) and always_high["mean_cost"] == 1.25


def test_same_seed_same_model(digits):
    first = train(small_config(), digits, verbose=0)[0]["meta"]
    second = train(small_config(), digits, verbose=0)[0]["meta"]
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["multires", "all"])
def test_distillation_settings_reach_the_step(method, digits):
    """The distillation's alpha 0.1 and T 4 are the defaults; another alpha or T trains another model."""

    def weights(**training):
        return train(small_config(training={"method": method, **training}), digits, verbose=0)[0]["meta"].get_weights()

    default = weights()
    for a, b in zip(default, weights(distillation_alpha=0.1, distillation_temperature=4.0), strict=True):
        np.testing.assert_array_equal(a, b)
    for other in ({"distillation_alpha": 0.5}, {"distillation_temperature": 2.0}):
        assert any(not np.array_equal(a, b) for a, b in zip(default, weights(**other), strict=True)), other


def test_evaluate_writes_tables_and_plots(tmp_path, capsys):
    raw = Config().to_dict()
    raw["model"]["hidden"] = [16]
    raw["quantization"]["resolutions"] = [[2, 8], [3, 20]]
    raw["quantization"]["precisions"] = [4, 8]
    raw["training"].update(epochs=1, reassign_every=1, hessian_iterations=2, cascade_thresholds=[0.5, 0.9])
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    out = tmp_path / "eval"
    mrfpga_in_process(capsys, "evaluate", tmp_path / "c.yaml", "--out", out)
    results = json.loads((out / "results.json").read_text())
    assert set(results["accuracy"]) == {"meta", "individual", "post_training", "float", "bit_sharing"}
    assert all(len(v) == 2 for v in results["accuracy"].values())
    terms = results["terms_per_group"]
    assert len(terms["meta"]) == len(terms["bit_sharing"]) == len(results["bit_sharing_precisions"]) == 2
    assert terms["meta"][0] <= 8 and terms["meta"][1] <= 20  # at most k per group
    assert "Weight terms per group of 16" in (out / "results.md").read_text()
    assert [c["threshold"] for c in results["onion"]["cascade"]] == [0.5, 0.9]
    assert 1 <= terms["bit_sharing_trainings"] <= 3 and "matched in" in (out / "results.md").read_text()
    assert set(results["rowwise"]["assignment"]) == {"dense_0", "logits"}
    assert (out / "results.csv").read_text().startswith("resolution,a,k,gamma,meta,individual")
    assert "| res | a | k | gamma |" in (out / "results.md").read_text()
    for plot in ("accuracy_vs_gamma.png", "weight_histograms.png", "onion_rowwise.png"):
        assert (out / plot).stat().st_size > 10_000


def test_measured_terms_per_group():
    """Term kernels: min(k, the group's terms); onion codes: the kept bits of the shared code."""
    import tensorflow as tf
    from qkeras import QDense

    from mrfpga.cli.evaluate import measured_terms_per_group, onion_terms_per_group
    from mrfpga.training.quantizers import quantized_term

    x = tf.keras.Input((6,))
    model = tf.keras.Model(x, QDense(1, kernel_quantizer=quantized_term(8, 4, [1, 3, 16]), use_bias=False)(x))
    # Step 2^-7: magnitudes 128, 3, 0, 1 (NAF terms 1 + 2 + 0 + 1) and 5, 2 (2 + 1): groups of 4 and 2.
    model.layers[-1].set_weights([np.array([[128], [3], [0], [1], [5], [2]], np.float32) / 128])
    assert measured_terms_per_group(model, 4) == [1.0, 3.0, 3.5]
    q = Config().quantization
    q.group_size = 4
    # As 8-bit onion codes (step 2^-6): 64, 2, 0, 0 | 2, 1 -> bits 1, 1, 0, 0 | 1, 1; the top 2 bits keep 64.
    assert onion_terms_per_group(model, q, 8) == 2.0
    assert onion_terms_per_group(model, q, 2) == 0.5


def test_bit_sharing_baseline_is_matched_on_its_own_trained_weights(digits):
    """The baseline kept is one that was trained; at a fixed point its precisions are the closest on its own
    weights; at most MATCH_TRAININGS trainings."""
    from mrfpga.cli.evaluate import MATCH_TRAININGS, matched_bit_sharing, onion_terms_per_group

    config = small_config()
    q = config.quantization
    meta = train(config, digits, verbose=0)[0]["meta"]
    trained = []

    def train_at(precisions):
        c = small_config()
        c.quantization.scheme, c.quantization.precisions = "bitshare", precisions  # as evaluate sets it
        trained.append((list(precisions), train(c, digits, verbose=0)[0]["meta"]))
        return trained[-1][1]

    matched = matched_bit_sharing(meta, q, train_at)
    assert 1 <= matched.trainings == len(trained) <= MATCH_TRAININGS
    assert any(model is matched.model and p == matched.precisions for p, model in trained)
    assert len(matched.terms) == len(matched.meta_terms) == len(q.resolutions)
    own = {p: onion_terms_per_group(matched.model, q, p) for p in range(2, q.weight_bits + 1)}
    for r, precision in enumerate(matched.precisions):
        assert matched.terms[r] == pytest.approx(own[precision])  # its measured count is that precision's
        if matched.fixed_point:
            gap = abs(own[precision] - matched.meta_terms[r])
            assert all(gap <= abs(count - matched.meta_terms[r]) for count in own.values())
