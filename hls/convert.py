"""Convert a multi-resolution QKeras model into one hls4ml project with a resolution port."""

import math

from hls4ml.converters.keras_v2_to_hls import get_model_arch, parse_keras_model
from hls4ml.model import ModelGraph
from hls4ml.utils.config import _get_precision_from_quantizer, create_config  # the first: hls4ml's QKeras mapping

from mrfpga.training.errors import ConversionError
from mrfpga.training.quantizers import n_resolutions

from .boards import load_board
from .convert_names import KIT_CONFIG_KEY, RESOLUTION_PORT
from .handlers import mark_kit_layers
from .registry import LAYERS, install

INPUT_PRECISION = "ap_fixed<16,6>"


def resolution_bits(n_res):
    return max(1, math.ceil(math.log2(n_res)))


def _add_resolution_port(layer_list, input_layers, n_res):
    """A top-level input ``resolution[1]`` that every multi-resolution layer reads."""
    if any(layer["name"] == RESOLUTION_PORT for layer in layer_list):
        raise ConversionError(f"the model has a layer named {RESOLUTION_PORT!r}, the name of the resolution port")
    port = {"class_name": "InputLayer", "name": RESOLUTION_PORT, "input_shape": [1]}
    layer_list.insert(1, port)
    for layer in layer_list:
        if layer["class_name"] in LAYERS:  # every kit layer reads the port
            layer["inputs"] = list(layer["inputs"]) + [RESOLUTION_PORT]
    return list(input_layers) + [RESOLUTION_PORT]


def _check_supported(model_arch):
    if model_arch["class_name"] not in ("Functional", "Model"):
        raise ConversionError(
            "convert a functional Keras model (tf.keras.Model(inputs, outputs)); wrap Sequential models"
        )


def convert(
    model,
    output_dir,
    board="pynq-z2",
    backend="Vivado",
    io_type="io_parallel",
    clock_period=None,
    reuse_factor=1,
    project_name="myproject",
    mmac_unit=None,
    layer_config=None,
):
    """hls4ml ModelGraph of ``model`` for ``board``; its top function takes the ``resolution`` after the data.

    ``mmac_unit``: ``"term_pair"`` or ``"weight_term"`` for the mMAC layers after a data-term layer
    (docs/mmac_core.md); None takes the measured default. ``layer_config``: per layer name, hls4ml-style
    ``{"ReuseFactor": n, "MMACUnit": unit}`` overriding the model-wide values."""
    install()
    board = load_board(board)
    n_res = n_resolutions(model)
    config = create_config(
        output_dir=str(output_dir),
        project_name=project_name,
        backend=backend,
        part=board.part,
        clock_period=clock_period or board.clock_period_ns,
        io_type=io_type,
    )
    config["KerasModel"] = model
    config["InputData"] = None
    config["OutputPredictions"] = None
    config[KIT_CONFIG_KEY] = board.name
    model_arch, reader = get_model_arch(config)
    _check_supported(model_arch)
    mark_kit_layers(model_arch)
    # hls4ml infers exact types for its own layers from 'auto'; ours set theirs; the ports are pinned.
    ports = {name: {"Precision": {"result": INPUT_PRECISION}} for name, *_ in model_arch["config"]["input_layers"]}
    ports[RESOLUTION_PORT] = {"Precision": {"result": f"ap_uint<{resolution_bits(n_res)}>"}}
    layer_list, input_layers, output_layers, _ = parse_keras_model(model_arch, reader)
    # hls4ml's QActivation keeps its QKeras quantizer; its type is the layer's result type (as hls4ml's
    # config_from_keras_model would set it), else 'auto' would pass the input type through unquantized.
    for layer in layer_list:
        quantizer = layer.get("activation_quantizer")
        if quantizer is not None and layer["name"] not in ports:
            precision = getattr(quantizer, "hls_type", None) or _get_precision_from_quantizer(quantizer)
            ports[layer["name"]] = {"Precision": {"result": str(precision)}}
    model_config = {"Precision": "auto", "ReuseFactor": reuse_factor, "Strategy": "Latency", "BitExact": None}
    kit_layers = [layer for layer in layer_list if layer["class_name"] in LAYERS]
    if kit_layers:
        # Not one pipelined function: HLS would unroll every loop below it, the term-serial loops included.
        # In DATAFLOW each layer keeps its own schedule (docs/mmac_core.md).
        model_config["PipelineStyle"] = "dataflow"
    layer_config = layer_config or {}
    unknown = sorted(set(layer_config) - {layer["name"] for layer in layer_list})
    if unknown:
        raise ConversionError(f"hls_config names layers the model does not have: {', '.join(unknown)}")
    for layer in layer_list:
        own = layer_config.get(layer["name"], {})
        unit = own.get("MMACUnit", mmac_unit)
        if unit is not None and layer["class_name"] in ("MMACDense", "MMACConv2D"):
            layer["mmac_unit"] = unit
        if "ReuseFactor" in own:
            ports.setdefault(layer["name"], {})["ReuseFactor"] = own["ReuseFactor"]
    config["HLSConfig"] = {"Model": model_config, "LayerName": ports}
    input_layers = _add_resolution_port(layer_list, input_layers, n_res)
    hls_model = ModelGraph.from_layer_list(config, layer_list, input_layers, output_layers)
    hls_model.mrfpga_board = board
    hls_model.mrfpga_resolutions = n_res
    return hls_model
