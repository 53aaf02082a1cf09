"""Training inside a tf.distribute strategy: two logical CPU devices give one device's result."""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from mrfpga.cli.run_config import from_dict
    from mrfpga.training.data import load_digits
    from mrfpga.training.methods import train

    data = load_digits()
    weights, losses = {}, {}
    for strategy in ("default", "mirrored"):
        config = from_dict({
            "model": {"hidden": [16]},
            "quantization": {"resolutions": [[2, 8], [3, 20]]},
            "training": {"epochs": 1, "strategy": strategy},
        })
        models, histories = train(config, data, verbose=0)
        weights[strategy] = [w.copy() for w in models["meta"].get_weights()]
        losses[strategy] = histories["meta"]
    replicas = tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
    print("replicas", replicas.num_replicas_in_sync)
    print("loss", losses["default"], losses["mirrored"])
    for a, b in zip(weights["default"], weights["mirrored"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    print("same")
    """
)


def test_two_logical_devices_match_one():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "replicas 2" in done.stdout and "same" in done.stdout
    losses = [line for line in done.stdout.splitlines() if line.startswith("loss")][0]
    default, mirrored = (float(v.strip("[]")) for v in losses.split()[1:])
    assert abs(default - mirrored) < 1e-4 * abs(default)
