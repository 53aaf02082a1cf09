"""Real data: signed features, the input grid chosen from the training data, normalization, out-of-grid
warnings; and, end to end on a synthetic standardized data set, a term meta model against the float model."""

import json

import numpy as np
import pytest
import yaml
from processes import mrfpga_in_process

from mrfpga.cli.run_config import from_dict
from mrfpga.hls.package_data import package_dir
from mrfpga.training.data import InputGrid, Normalization, fit_input_grid
from mrfpga.training.errors import ConfigError
from mrfpga.training.quantizers import quantized_data_term


def synthetic(n_train=2000, n_test=1000, n_features=16, n_classes=4, seed=0):
    """Classes from a linear map of standard normal features (their signs matter), stored raw: each
    feature scaled and shifted (scales 0.5..40, offsets -20..20), so a user standardizes them."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n_train + n_test, n_features))
    w = rng.normal(size=(n_features, n_classes))
    y = np.argmax(z @ w + 0.3 * rng.normal(size=(len(z), n_classes)), axis=1)
    x = z * rng.uniform(0.5, 40, n_features) + rng.uniform(-20, 20, n_features)
    return {"x_train": x[:n_train], "y_train": y[:n_train], "x_test": x[n_train:], "y_test": y[n_train:]}


def test_signed_data_term_is_sign_and_magnitude():
    q = quantized_data_term(4, 1, [1, 5], "naf", signed=True)  # step 2^-3, top 15/8
    x = np.array([-0.3125, 0.3125, -0.0625, 0.0625, -5.0, 5.0, -1.0, 1.3125], np.float32)
    q.set_resolution(1)  # every term: the symmetric grid, ties away from zero, saturation at ±15/8
    np.testing.assert_array_equal(q(x).numpy(), [-0.375, 0.375, -0.125, 0.125, -1.875, 1.875, -1.0, 1.375])
    # One NAF term of the magnitude's code: 3 = 4 - 1 -> 4, 15 = 16 - 1 -> 16, 11 = 16 - 4 - 1 -> 16.
    q.set_resolution(0)
    np.testing.assert_array_equal(q(x).numpy(), [-0.5, 0.5, -0.125, 0.125, -2.0, 2.0, -1.0, 2.0])
    assert q.fixed_type().signed and q.min() == -q.max() == -1.875
    restored = quantized_data_term.from_config(q.get_config())
    assert restored.signed and restored.integer == 1


def test_input_grid_from_the_training_data():
    assert fit_input_grid(np.array([[0.0, 1.0]]), 8) == InputGrid(8, 1, False)  # digits: [0, 1] -> step 2^-7
    assert fit_input_grid(np.array([[-3.0, 2.0]]), 8) == InputGrid(8, 2, True)  # 3 <= 255/64
    assert fit_input_grid(np.array([[-0.01, 0.002]]), 8) == InputGrid(8, -6, True)  # 0.01 <= 255 * 2^-14
    assert fit_input_grid(np.array([[1e6]]), 8) == InputGrid(8, 20, False)  # scaled data keeps its range
    exact_top = (2**8 - 1) * 2.0**-5
    assert fit_input_grid(np.array([[exact_top]]), 8).integer == 3
    assert fit_input_grid(np.array([[exact_top + 1e-6]]), 8).integer == 4
    assert fit_input_grid(np.array([[-3.0]]), 8, integer=0, signed=False) == InputGrid(8, 0, False)  # configured


def test_out_of_grid_fractions_and_warning():
    grid = InputGrid(4, 1, False)  # [0, 1.875], step 1/8
    x = np.array([-1.0, -0.05, 0.0, 1.0, 1.9, 1.95, 3.0, 0.5] * 125)
    out = grid.out_of_grid(x)
    assert out == {"saturated": 0.25, "clipped": 0.125}  # 1.95 and 3.0 (>= 1.9375); -1.0 (-0.05 rounds to 0)
    assert "25.00% saturate above 1.875" in grid.warning(x) and "12.50% are negative and clip to 0" in grid.warning(x)
    assert grid.warning(np.r_[np.zeros(999), -1.0]) is None  # 0.1% is the limit
    assert grid.warning(np.r_[np.zeros(998), -1.0, -1.0]) is not None


def test_normalization_from_the_training_split():
    x = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, -2.0]])
    norm = Normalization.fit(x)
    np.testing.assert_array_equal(norm.apply(x), [[-1, 0, 1], [1, 0, -1]])  # a constant feature is only centred
    again = Normalization.from_dict(json.loads(json.dumps(norm.to_dict())))
    np.testing.assert_array_equal(again.apply(x), norm.apply(x))
    with pytest.raises(ValueError, match="normalization has"):
        norm.apply(np.zeros((2, 4)))


def test_data_config_keys():
    assert from_dict({"data": "digits"}).data.source == "digits"  # the short form
    config = from_dict({"data": {"source": "x.npz", "normalize": "standard", "input_integer": -2}})
    assert (config.data.normalize, config.data.input_integer, config.data.input_signed) == ("standard", -2, None)
    with pytest.raises(ConfigError, match="data.normalize: 'minmax' is not one of none, standard"):
        from_dict({"data": {"normalize": "minmax"}})
    with pytest.raises(ConfigError, match="data.input_bits: 20 out of range"):
        from_dict({"data": {"input_bits": 20}})
    with pytest.raises(ConfigError, match="data.input_signed: expected bool"):
        from_dict({"data": {"input_signed": "yes"}})


def write_config(tmp_path, name, data, **sections):
    config = yaml.safe_load((package_dir("examples") / "digits_mlp.yaml").read_text())
    config["data"] = data
    config["model"]["hidden"] = [32]
    for section, values in sections.items():
        config[section].update(values)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_standardized_signed_data_end_to_end(tmp_path, capsys):
    """On standardized data with negative features: the meta model's top resolution within 2 pp of the float
    model of the same architecture trained the same way, 0 mismatches at every resolution, from the CLI."""
    from mrfpga.cli.pipeline import load_data, load_model
    from mrfpga.cli.run_config import load_config
    from mrfpga.training.methods import train
    from mrfpga.training.models import model_input

    np.savez(tmp_path / "raw.npz", **synthetic())
    config = write_config(
        tmp_path, "std", {"source": "raw.npz", "normalize": "standard"},
        training={"epochs": 20}, hls={"csim_samples": 300, "measure": False},  # the twin: test_pipeline's user-npz run
        quantization={"resolutions": [[2, 8], [2, 12], [3, 14], [3, 20]]},  # 4 of the 8: a shorter run
    )  # fmt: skip
    out, _ = mrfpga_in_process(capsys, "run", config, "--out", tmp_path / "run")
    assert "WARNING: input grid" not in out
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["input"]["input_grid"]["signed"] and report["input"]["normalization"]["kind"] == "standard"
    assert report["input"]["out_of_grid"]["train"] == {"saturated": 0.0, "clipped": 0.0}
    stored = json.loads((tmp_path / "run" / "input.json").read_text())
    assert stored["normalization"] == report["input"]["normalization"]
    rows = report["resolutions"]
    assert len(rows) == 4
    for row in rows:
        assert row["csim_mismatches"] == row["predict_mismatches"] == row["testbench_mismatches"] == 0, row
    top = (tmp_path / "run" / "hls_project" / "firmware" / "myproject.cpp").read_text()
    assert "nnet::signed_data_terms<" in top

    # The float model of the same architecture, trained the same way (post_training trains it first).
    float_config = load_config(config)
    float_config.training.method = "post_training"
    data = load_data(float_config)
    float_model = train(float_config, data, verbose=0)[0]["float"]
    x, y = data.x_test[:300], data.y_test[:300]
    float_accuracy = float(np.mean(np.argmax(float_model.predict(model_input(float_model, x), verbose=0), 1) == y))
    print(f"float {float_accuracy:.4f}; meta per resolution {[r['keras_accuracy'] for r in rows]}")
    assert rows[-1]["keras_accuracy"] >= float_accuracy - 0.02
    assert float_accuracy > 0.8

    # What the kit did before signed inputs: negatives clipped to 0 by an unsigned grid, and warned about.
    clipped = write_config(
        tmp_path, "clipped", {"source": "raw.npz", "normalize": "standard", "input_signed": False},
        training={"epochs": 20}, quantization={"resolutions": [[2, 8], [2, 12], [3, 14], [3, 20]]},
    )  # fmt: skip
    out, _ = mrfpga_in_process(capsys, "train", clipped, "--out", tmp_path / "clipped")
    assert "are negative and clip to 0" in out
    warned = json.loads((tmp_path / "clipped" / "input.json").read_text())
    assert 0.4 < warned["out_of_grid"]["train"]["clipped"] < 0.6
    clipped_model = load_model(tmp_path / "clipped")
    clipped_accuracy = float(np.mean(np.argmax(clipped_model.predict(x, verbose=0), 1) == y))
    print(f"unsigned input grid (negatives clipped): {clipped_accuracy:.4f}")
    assert clipped_accuracy < rows[-1]["keras_accuracy"] - 0.05


def test_digits32_is_the_digits_at_32x32x3():
    """The built-in 32x32 colour stand-in: each digit pixel a 4x4 block in a per-sample foreground colour over a
    background colour, values multiples of 1/64 in [0, 1] (on the default input grid), the digits' labels."""
    from mrfpga.training.data import load

    small, large = load("digits"), load("digits32")
    assert large.input_shape == (32, 32, 3) and large.x_train.shape == (len(small.x_train), 32 * 32 * 3)
    np.testing.assert_array_equal(large.y_test, small.y_test)
    x = large.x_train.reshape(-1, 32, 32, 3)
    assert x.min() >= 0 and x.max() <= 1 and np.array_equal(x * 64, np.round(x * 64))
    blocks = x.reshape(-1, 8, 4, 8, 4, 3)
    assert np.all(blocks == blocks[:, :, :1, :, :1, :])  # constant 4x4 blocks
    # Where the digit is darkest and brightest the colour is the background and the foreground: the pixel's
    # order of brightness is the digit's in every channel.
    digit = small.x_train.reshape(-1, 8, 8)
    colour = blocks[:, :, 0, :, 0, :]
    order = np.argsort(digit[0], axis=None, kind="stable")
    assert np.all(np.diff(colour[0].reshape(64, 3)[order], axis=0) >= 0)
