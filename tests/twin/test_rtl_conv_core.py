"""The Verilog twin of a streaming convolution's per-pixel core: the converted layer's ``core_spec()`` (the
``mmac_dense`` that ``conv_pixels`` runs over each window), built in Verilator and fed the real windows of a
frame (zero-padded patches of the exact data-term codes, flattened like the line buffer's window), equals the
exact reference convolution pixel for pixel at every resolution (fed that resolution's codes, as the layer
before hands them over), and takes the golden model's cycles."""

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits

from mrfpga.hls.project.convert import convert
from mrfpga.hls.sim.csim import snap_to_input_grid
from mrfpga.hls.sim.reference import _layer
from mrfpga.hls.twin import measure
from mrfpga.hls.twin.spec import simulate
from mrfpga.hls.twin.tools import run_testbench
from mrfpga.training import quantized_data_term, quantized_term
from mrfpga.training.resolution import set_resolution

pytestmark = pytest.mark.slow

RESOLUTIONS = [(1, 3), (2, 8), (3, 20)]


def model_with_conv():
    tf.keras.utils.set_random_seed(21)
    x = tf.keras.Input((5, 6, 2), name="features")
    h = QActivation(quantized_data_term(8, 3, [a for a, _ in RESOLUTIONS]), name="terms_in")(x)
    h = QConv2D(3, 3, padding="same", kernel_quantizer=quantized_term(8, 16, [k for _, k in RESOLUTIONS]),
                bias_quantizer=quantized_bits(12, 5, alpha=1), name="conv")(h)  # fmt: skip
    h = tf.keras.layers.Flatten()(h)
    return tf.keras.Model(x, QDense(2, kernel_quantizer=quantized_term(8, 16, [k for _, k in RESOLUTIONS]))(h))


def windows(codes, node):
    """Each output pixel's zero-padded patch, flattened (filter row, filter column, channel), raster order."""
    fh, fw = node.get_attr("filt_height"), node.get_attr("filt_width")
    sh, sw = node.get_attr("stride_height"), node.get_attr("stride_width")
    oh, ow = node.get_attr("out_height"), node.get_attr("out_width")
    top, left = node.get_attr("pad_top"), node.get_attr("pad_left")
    n, h, w, _ = codes.shape
    bottom = max(0, (oh - 1) * sh + fh - top - h)
    right = max(0, (ow - 1) * sw + fw - left - w)
    padded = np.pad(codes, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out = [
        padded[:, i * sh : i * sh + fh, j * sw : j * sw + fw, :].reshape(n, -1) for i in range(oh) for j in range(ow)
    ]
    return np.stack(out, axis=1).reshape(n * oh * ow, -1)


def test_twin_of_the_conv_core_equals_the_exact_convolution(tmp_path):
    model = model_with_conv()
    x = snap_to_input_grid(np.random.default_rng(22).uniform(-1, 9, (6, 5, 6, 2)))
    hls_model = convert(model, tmp_path / "prj", io_type="io_stream")
    node = next(n for n in hls_model.get_layers() if n.class_name == "MMACConv2D")
    spec = node.core_spec()
    results = []
    terms_layer, conv = model.get_layer("terms_in"), model.get_layer("conv")
    binary = measure.build_twin([spec], tmp_path / "twin")
    for r in range(len(RESOLUTIONS)):
        set_resolution(model, r)
        h = _layer(terms_layer, tf.constant(x.astype(np.float64)))
        patches = windows(np.round(h.numpy() * 2.0**spec.data_frac).astype(np.int64), node)
        out = _layer(conv, h).numpy() * 2.0**spec.out_frac
        assert np.array_equal(out, np.round(out))
        exact = out.reshape(-1, spec.n_out).astype(np.int64)
        # The weight-term unit takes each resolution's data-term codes as the layer before hands them over.
        outputs, cycles = run_testbench(binary, patches, spec.in_width, spec.n_outputs, spec.out_width,
                                        spec.out_signed, [r], tmp_path / "twin")  # fmt: skip
        np.testing.assert_array_equal(outputs[0], exact, err_msg=f"resolution {r}")
        golden, golden_cycles = simulate(spec, patches, r)
        np.testing.assert_array_equal(golden, exact)
        assert cycles[0] == golden_cycles.tolist()
        results.append((exact, cycles[0][0]))
    assert results[0][1] < results[-1][1]
    assert not np.array_equal(results[0][0], results[-1][0])
