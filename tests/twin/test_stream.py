"""The streaming Verilog twin (``mrfpga.hls.twin.stream``). The streaming mMAC Dense: in Verilator, its outputs
equal the golden model at every resolution, and each frame's first-word and output cycles equal the timing model
(``spec.stream_dense_schedule`` and the cycle-level ``dataflow`` model), frames one at a time and back to back,
groups straddling words or not; a converted io_stream layer's latency and interval (what its C simulation counts,
tests/hls) are that model's. A converted io_stream MLP with a switchable BN as one streaming design with the
project's FIFOs: outputs equal, cycles equal the dataflow model, and each layer alone takes the cycles its C
simulation counts."""

import numpy as np
import pytest
import tensorflow as tf
from model_builders import spread_switchable_bn
from qkeras import QActivation, QConv2D, QDense, quantized_bits

from mrfpga.hls.cost.estimate import layer_cycles
from mrfpga.hls.layers import mmac
from mrfpga.hls.layers.streaming import pack_size
from mrfpga.hls.project.convert import convert
from mrfpga.hls.twin import stream
from mrfpga.hls.twin.spec import (
    MaxPoolCore,
    dense_core,
    simulate,
    simulate_chain,
    stream_dense_cycles,
    stream_group_ends,
)
from mrfpga.training import quantized_data_term, quantized_term
from mrfpga.training.switchable_bn import SwitchableBatchNormalization

pytestmark = pytest.mark.slow

BUDGETS = [0, 2, 8]  # no term at all, a few, every term


def random_core(n_in, n_out, group_size, reuse, seed=1):
    rng = np.random.default_rng(seed)
    magnitudes, signs = rng.integers(0, 128, (n_in, n_out)), rng.integers(0, 2, (n_in, n_out)).astype(bool)
    return dense_core("dense", magnitudes, signs, rng.integers(-300, 300, n_out), group_size=group_size,
                      reuse=reuse, weight_bits=8, weight_budgets=BUDGETS, mode="weight_term", data_bits=6,
                      data_budgets=[6] * len(BUDGETS))  # fmt: skip


def check_twin(spec, words, codes, out_dir):
    layers = [stream.StreamLayer(spec, words)]
    binary = stream.build_stream_twin(layers, [], out_dir)
    resolutions = list(range(spec.n_resolutions))
    for back_to_back in (False, True):
        runs = stream.run_stream_twin(layers, [], codes, resolutions, out_dir, back_to_back, binary)
        for r, (outputs, timing) in zip(resolutions, runs, strict=True):
            np.testing.assert_array_equal(outputs, simulate(spec, codes, r)[0])
            assert timing == stream.schedule(spec, words, r, len(codes), back_to_back), (r, back_to_back)
            assert timing == stream.timing(layers, [], r, len(codes), back_to_back), (r, back_to_back)
            latency, interval = stream_dense_cycles(
                stream_group_ends(spec.n_in, spec.group_size, words), stream.steps_per_group(spec, r)
            )
            if back_to_back:
                assert {b - a for (_, a), (_, b) in zip(timing[1:], timing[2:], strict=False)} == {interval}, r
            else:
                assert {out - first + 1 for first, out in timing} == {latency}, r


@pytest.mark.parametrize(
    "n_in, n_out, group_size, reuse, words",
    [
        (20, 6, 4, 2, 4),  # a group a word
        (24, 5, 16, 1, 8),  # groups of two words, the last one short
        (30, 7, 4, 3, 6),  # groups straddling words
        (32, 4, 8, 1, 1),  # a value a word: the groups stage sets the pace
    ],
)
def test_twin_equals_the_golden_model_and_the_timing_model(tmp_path, n_in, n_out, group_size, reuse, words):
    spec = random_core(n_in, n_out, group_size, reuse)
    codes = np.random.default_rng(2).integers(0, 64, (5, n_in))
    check_twin(spec, words, codes, tmp_path)


def test_converted_stream_dense_has_the_twin_of_its_figures(tmp_path):
    """The io_stream layer's core and input words give a twin whose latency and interval are the layer's
    (``mmac.cycles``/``mmac.interval``, which its C simulation counts)."""
    tf.keras.utils.set_random_seed(3)
    x = tf.keras.Input((24,), name="features")
    h = QActivation(quantized_data_term(6, 3, [2, 4, 6]), name="terms_in")(x)
    kernel = quantized_term(8, 8, [1, 2, 4])
    out = QDense(5, kernel_quantizer=kernel, bias_quantizer=quantized_bits(10, 4, alpha=1), name="dense")(h)
    hls_model = convert(tf.keras.Model(x, out), tmp_path / "prj", io_type="io_stream", reuse_factor=2)
    node = next(n for n in hls_model.get_layers() if n.class_name == "MMACDense")
    spec, words = node.core_spec(), pack_size(node.get_input_variable())
    codes = np.random.default_rng(4).integers(0, 1 << spec.data_bits, (4, spec.n_in))
    check_twin(spec, words, codes, tmp_path / "twin")
    ends = stream_group_ends(spec.n_in, spec.group_size, words)
    for r in range(spec.n_resolutions):
        model = stream_dense_cycles(ends, stream.steps_per_group(spec, r))
        assert model == (mmac.cycles(node, r), mmac.interval(node, r)), r


def check_streaming_design(hls_model, kinds, frames, seed, out_dir):
    """The converted io_stream model as one streaming twin with the project's FIFOs: its layers are ``kinds``; in
    Verilator, ``frames`` frames of random input codes come out as the golden model's at every resolution, and
    every frame's cycles are the dataflow model's, one at a time and back to back; each layer alone, its input
    offered every cycle from the frame's first, takes the cycles its C simulation counts (hls4ml's pooling: its
    estimate)."""
    layers, depths = stream.stream_twin_layers(hls_model)
    assert [layer.spec.kind for layer in layers] == kinds
    first, specs = layers[0].spec, [layer.spec for layer in layers]
    top = 1 << (first.in_width - 1)
    codes = np.random.default_rng(seed).integers(-top, top, (frames, first.n_in))
    binary = stream.build_stream_twin(layers, depths, out_dir)
    resolutions = list(range(max(spec.n_resolutions for spec in specs)))
    for back_to_back in (False, True):
        runs = stream.run_stream_twin(layers, depths, codes, resolutions, out_dir, back_to_back, binary)
        for r, (outputs, timing) in zip(resolutions, runs, strict=True):
            np.testing.assert_array_equal(outputs, simulate_chain(specs, codes, r)[0])
            assert timing == stream.timing(layers, depths, r, frames, back_to_back), (r, back_to_back)
    covered = (*stream.STREAM_TWIN_LAYERS, *stream.STREAM_POOLS)
    nodes = [n for n in hls_model.get_layers() if n.class_name in covered]
    for layer, node in zip(layers, nodes, strict=True):
        for r in resolutions:
            (_, out), *_ = stream.timing([layer], [], r, 1, False)
            assert out + 1 == layer_cycles(node, r), (node.name, r)


def test_streaming_mlp_twin_equals_keras_codes_and_the_dataflow_model(tmp_path):
    """A converted io_stream MLP (data terms, Dense, switchable BN, data terms, Dense) as one streaming twin with
    the project's FIFOs: its outputs equal the golden model's at every resolution, and its frames' cycles the
    dataflow model's, the layers overlapping, frames one at a time and back to back."""
    tf.keras.utils.set_random_seed(5)
    x = tf.keras.Input((16,), name="features")
    h = QActivation(quantized_data_term(6, 3, [2, 4, 6]), name="terms_in")(x)
    h = QDense(12, kernel_quantizer=quantized_term(8, 8, [1, 2, 4]), use_bias=False, name="dense_0")(h)
    h = SwitchableBatchNormalization(3, name="bn_0")(h)
    h = QActivation(quantized_data_term(6, 2, [1, 3, 6]), name="terms_0")(h)
    out = QDense(4, kernel_quantizer=quantized_term(8, 8, [1, 2, 4]), bias_quantizer=quantized_bits(10, 4, alpha=1),
                 name="logits")(h)  # fmt: skip
    model = tf.keras.Model(x, out)
    spread_switchable_bn(model, seed=7)
    hls_model = convert(model, tmp_path / "prj", io_type="io_stream", reuse_factor=3)
    kinds = ["data_term", "mmac_dense", "scale_shift", "data_term", "mmac_dense"]
    check_streaming_design(hls_model, kinds, frames=4, seed=6, out_dir=tmp_path / "twin")


@pytest.mark.parametrize(
    "rows, cols, n_chan, pool, signed",
    [(5, 6, 3, (2, 2), False), (6, 7, 2, (3, 2), True)],
    ids=["2x2_odd_rows", "3x2_signed_trailing_column"],
)
def test_max_pool_twin_equals_the_golden_model_and_the_dataflow_model(tmp_path, rows, cols, n_chan, pool, signed):
    spec = MaxPoolCore("pool", rows, cols, n_chan, *pool, bits=5, signed=signed)
    layers = [stream.StreamLayer(spec, n_chan)]
    low, high = (-16, 16) if signed else (0, 32)
    codes = np.random.default_rng(8).integers(low, high, (3, spec.n_in))
    binary = stream.build_stream_twin(layers, [], tmp_path)
    for back_to_back in (False, True):
        ((outputs, timing),) = stream.run_stream_twin(layers, [], codes, [0], tmp_path, back_to_back, binary)
        np.testing.assert_array_equal(outputs, simulate(spec, codes, 0)[0])
        assert timing == stream.timing(layers, [], 0, len(codes), back_to_back), back_to_back


def test_streaming_cnn_twin_equals_keras_codes_and_the_dataflow_model(tmp_path):
    """A converted io_stream CNN as the issue's one is built (data terms, a same-padded 3x3 convolution, switchable
    BN, data terms, 2x2 max pooling, a strided valid convolution, Dense) as one streaming twin with the project's
    FIFOs: outputs equal the golden model at every resolution, frames' cycles equal the dataflow model, and each
    layer alone takes the cycles its C simulation counts (hls4ml's pooling: its estimate)."""
    tf.keras.utils.set_random_seed(9)
    budgets = [1, 2, 4]
    x = tf.keras.Input((6, 7, 2), name="features")
    h = QActivation(quantized_data_term(6, 3, [2, 4, 6]), name="terms_in")(x)
    h = QConv2D(4, 3, padding="same", use_bias=False, kernel_quantizer=quantized_term(8, 8, budgets), name="conv_0")(h)
    h = SwitchableBatchNormalization(3, name="bn_0")(h)
    h = QActivation(quantized_data_term(6, 2, [1, 3, 6]), name="terms_0")(h)
    h = tf.keras.layers.MaxPooling2D(2, name="pool_0")(h)
    h = QConv2D(3, 2, strides=2, kernel_quantizer=quantized_term(8, 8, budgets),
                bias_quantizer=quantized_bits(10, 4, alpha=1), name="conv_1")(h)  # fmt: skip
    h = QActivation(quantized_data_term(6, 2, [1, 3, 6]), name="terms_1")(h)
    h = tf.keras.layers.Flatten()(h)
    out = QDense(3, kernel_quantizer=quantized_term(8, 8, budgets), bias_quantizer=quantized_bits(10, 4, alpha=1),
                 name="logits")(h)  # fmt: skip
    model = tf.keras.Model(x, out)
    spread_switchable_bn(model, seed=10)
    hls_model = convert(model, tmp_path / "prj", io_type="io_stream", reuse_factor=2)
    kinds = ["data_term", "conv_stream", "scale_shift", "data_term", "max_pool", "conv_stream", "data_term"]
    check_streaming_design(hls_model, [*kinds, "mmac_dense"], frames=3, seed=11, out_dir=tmp_path / "twin")


def test_yosys_sizes_the_whole_streaming_design(tmp_path):
    """The streaming MLP with a switchable BN in one Yosys run: a figure per layer, the BN's multipliers on
    DSP48E1 (one per value of a word) and nothing else on one."""
    tf.keras.utils.set_random_seed(12)
    x = tf.keras.Input((8,), name="features")
    h = QActivation(quantized_data_term(6, 3, [2, 6]), name="terms_in")(x)
    h = QDense(6, kernel_quantizer=quantized_term(8, 8, [1, 4]), use_bias=False, name="dense_0")(h)
    h = SwitchableBatchNormalization(2, name="bn_0")(h)
    h = QActivation(quantized_data_term(6, 2, [1, 6]), name="terms_0")(h)
    out = QDense(3, kernel_quantizer=quantized_term(8, 8, [1, 4]), name="logits")(h)
    model = tf.keras.Model(x, out)
    spread_switchable_bn(model, seed=13)
    hls_model = convert(model, tmp_path / "prj", io_type="io_stream", reuse_factor=2)
    layers, depths = stream.stream_twin_layers(hls_model)
    sized = stream.synthesize(layers, depths, tmp_path / "twin", units_per_layer=2)
    assert (
        "synth_xilinx" in sized["tool"]
        and "-nodsp" not in sized["tool"]
        and "whole streaming design" in sized["method"]
    )
    assert set(sized["layers"]) == {layer.spec.name for layer in layers}
    assert sized["layers"]["bn_0"]["DSP48E1"] == layers[2].words
    assert sized["total"]["DSP48E1"] == layers[2].words
    assert all(sized["layers"][name]["LUT"] > 0 for name in ("terms_in", "dense_0", "terms_0", "logits"))
    assert sized["total"]["LUT"] >= sum(layer["LUT"] for layer in sized["layers"].values())
