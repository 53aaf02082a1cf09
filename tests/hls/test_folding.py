"""``reuse_factor: auto``: per layer, the folding whose estimate fits the board; io_stream balanced."""

import dataclasses
import itertools

import pytest

from mrfpga.cli.run_config import QuantizationConfig, from_dict
from mrfpga.hls import convert_from_keras_model
from mrfpga.hls.cost.estimate import layer_interval, layer_resources
from mrfpga.hls.cost.folding import FIT_MARGIN, RESOURCE_KEYS, choose_folding, reuse_candidates
from mrfpga.hls.layers.mmac import MAX_TERM_LANES
from mrfpga.hls.layers.streaming import fifo_resources
from mrfpga.hls.project.boards import load_board
from mrfpga.hls.project.convert import convert
from mrfpga.training.errors import ConfigError, ConversionError
from mrfpga.training.models import build_cnn, build_mlp

N_RES = 4  # QuantizationConfig's default resolutions


@pytest.fixture(scope="module")
def cnn():
    return build_cnn((8, 8, 1), 10, [4], QuantizationConfig(), seed=0)


def converter(model, tmp_path, io_type="io_stream"):
    def convert_at(layer_reuse, layer_lanes=None):
        layers = {name: {"ReuseFactor": reuse} for name, reuse in layer_reuse.items()}
        for name, lanes in (layer_lanes or {}).items():
            layers.setdefault(name, {})["TermLanes"] = lanes
        return convert(model, tmp_path / "prj", "pynq-z2", io_type=io_type, layer_config=layers)

    return convert_at


def totals(graph):
    """The estimate a folding is judged on: every layer's resources and the FIFOs; the slowest layer's interval."""
    total = dict(fifo_resources(graph))
    for node in graph.get_layers():
        if node.name not in graph.inputs:
            for key, value in layer_resources(node).items():
                total[key] = total.get(key, 0) + value
    interval = max(layer_interval(n, r) for n in graph.get_layers() if n.name not in graph.inputs for r in range(N_RES))
    return {k: total.get(k, 0) for k in RESOURCE_KEYS}, interval


def test_io_parallel_fits_at_reuse_factor_1(tmp_path):
    model = build_mlp((64,), 10, [16], QuantizationConfig(), seed=0)
    hls_model = convert_from_keras_model(model, tmp_path / "prj", board="pynq-z2", reuse_factor="auto")
    folding = hls_model.folding
    assert folding.layer_reuse == {"dense_0": 1, "logits": 1}
    rounds = {n.name: n.get_attr("rounds") for n in hls_model.get_layers() if n.class_name == "MMACDense"}
    assert rounds == {"dense_0": 1, "logits": 1}
    assert folding.to_dict()["source"].startswith("estimate")


def test_io_stream_takes_the_fastest_folding_that_fits(cnn, tmp_path):
    """On a board where the fastest folding does not fit, the chosen one fits and no other combination of the
    layers' reuse factors (and the convolution's term lanes) that fits is faster (every combination converted and
    estimated)."""
    convert_at = converter(cnn, tmp_path)
    fastest, _ = totals(convert_at({}))
    pynq = load_board("pynq-z2")
    layers = {"conv_0": cnn.get_layer("conv_0"), "logits": cnn.get_layer("logits")}
    graph = convert_at({})
    backend = graph.config.backend
    candidates = {n.name: reuse_candidates(n, layers[n.name], backend) for n in graph.get_layers() if n.name in layers}
    slowest, _ = totals(convert_at({name: values[-1] for name, values in candidates.items()}))
    lut = (fastest["LUT"] + slowest["LUT"]) // 2  # between the most and the least folded design's
    board = dataclasses.replace(pynq, resources={**pynq.resources, "LUT": int(lut / FIT_MARGIN)})

    folding = choose_folding(convert_at, cnn, board, "io_stream", N_RES, {})
    chosen, interval = totals(convert_at(folding.layer_reuse, folding.layer_lanes))
    assert (chosen, interval) == (folding.resources, folding.interval)
    assert all(chosen[k] <= folding.usable[k] for k in RESOURCE_KEYS)
    assert folding.layer_reuse != {"conv_0": 1, "logits": 1}
    fitting = []
    conv_lanes = range(1, MAX_TERM_LANES + 1)
    for (conv_reuse, lanes), logits_reuse in itertools.product(
        itertools.product(candidates["conv_0"], conv_lanes), candidates["logits"]
    ):
        resources, at = totals(convert_at({"conv_0": conv_reuse, "logits": logits_reuse}, {"conv_0": lanes}))
        if all(resources[k] <= folding.usable[k] for k in RESOURCE_KEYS):
            fitting.append(at)
    assert folding.interval == min(fitting)


def test_a_layer_reuse_factor_given_is_kept(cnn, tmp_path):
    config = {"LayerName": {"logits": {"ReuseFactor": 5}}}
    hls_model = convert_from_keras_model(
        cnn, tmp_path / "prj", hls_config=config, board="pynq-z2", io_type="io_stream", reuse_factor="auto"
    )
    assert hls_model.folding.fixed == ["logits"]
    assert "logits" not in hls_model.folding.layer_reuse
    assert hls_model.graph["logits"].get_attr("rounds") == 5


def test_a_model_that_fits_at_no_folding_names_the_resource_and_the_layer(cnn, tmp_path):
    pynq = load_board("pynq-z2")
    board = dataclasses.replace(pynq, resources={**pynq.resources, "LUT": 100})
    with pytest.raises(ConversionError, match=r"does not fit pynq-z2 at any folding: .* LUT where 80 are usable"):
        choose_folding(converter(cnn, tmp_path), cnn, board, "io_stream", N_RES, {})
    # io_parallel: the switchable BN multiplies every value of the 8x8x4 map at once, a DSP48E1 each (the
    # layers with weights use none), and no folding changes that.
    with pytest.raises(ConversionError, match=r"256 DSP48E1 where 176 are usable .* layer bn_0 takes the most of it, "
                       r"256 DSP48E1 at any folding"):  # fmt: skip
        convert_from_keras_model(cnn, tmp_path / "prj", board="pynq-z2", io_type="io_parallel", reuse_factor="auto")


def test_the_run_configuration_takes_auto_by_default_and_refuses_other_words():
    assert from_dict({}).hls.reuse_factor == "auto"
    assert from_dict({"hls": {"reuse_factor": 4}}).hls.reuse_factor == 4
    with pytest.raises(ConfigError, match="reuse_factor"):
        from_dict({"hls": {"reuse_factor": "fast"}})


def test_term_lanes_are_refused_where_the_units_do_not_take_them(cnn, tmp_path):
    """Several term slots a cycle are for the weight-term units of a convolution or an io_parallel Dense."""
    with pytest.raises(ConversionError, match=r"layer logits: TermLanes 2: several term slots a cycle are for"):
        convert(cnn, tmp_path / "prj", "pynq-z2", io_type="io_stream", layer_config={"logits": {"TermLanes": 2}})
    other = next(layer.name for layer in cnn.layers if type(layer).__name__ not in ("QConv2D", "QDense", "InputLayer"))
    with pytest.raises(ConversionError, match=rf"layer {other} is not an mMAC layer; TermLanes is theirs"):
        convert(cnn, tmp_path / "prj", "pynq-z2", io_type="io_stream", layer_config={other: {"TermLanes": 2}})
