"""Convert a multi-resolution QKeras model into one hls4ml project with a resolution port."""

import contextlib
import io
import math
import sys

import numpy as np
import tensorflow as tf
from hls4ml.converters.keras_v2_to_hls import get_model_arch, parse_keras_model
from hls4ml.model import ModelGraph
from hls4ml.utils.config import _get_precision_from_quantizer, create_config  # the first: hls4ml's QKeras mapping

from mrfpga.hls.cost.folding import AUTO, choose_folding
from mrfpga.hls.layers import registry
from mrfpga.hls.layers.common import KIT_CONFIG_KEY, RESOLUTION_PORT, mark_kit_layers
from mrfpga.hls.layers.registry import LAYERS
from mrfpga.hls.layers.streaming import size_fifos
from mrfpga.hls.sim.csim import INPUT_FRAC_BITS, INPUT_INT_BITS
from mrfpga.training.errors import ConversionError
from mrfpga.training.resolution import n_resolutions

from . import writer
from .boards import load_board


def resolution_bits(n_res):
    return max(1, math.ceil(math.log2(n_res)))


PASS_THROUGH = (tf.keras.layers.Flatten, tf.keras.layers.Reshape, tf.keras.layers.MaxPooling2D)
KIT_KERNELS = ("quantized_term", "quantized_pot", "quantized_onion", "quantized_rowwise")  # layers that type themselves


def quantizer_type(quantizer):
    """(width, integer, signed) of the values a QActivation's quantizer produces, or None."""
    from mrfpga.training.quantizers.base import KitQuantizer

    if isinstance(quantizer, KitQuantizer):
        t = quantizer.fixed_type(np.zeros(1, np.float32))
        return t.width, t.integer, t.signed
    config = {"class_name": type(quantizer).__name__, "config": quantizer.get_config()}
    p = _get_precision_from_quantizer(config)  # hls4ml's own mapping
    return (p.width, p.integer, p.signed) if hasattr(p, "integer") else None


def first_layer_type(model):
    """(width, integer, signed) the model's first layer puts its input on, or None."""
    from qkeras import QActivation

    for layer in model.layers:
        if not isinstance(layer, (tf.keras.layers.InputLayer, *PASS_THROUGH)):
            return quantizer_type(layer.quantizer) if isinstance(layer, QActivation) else None
    return None


def input_port_type(model):
    """(width, integer) of the top function's input: ap_fixed<16,6>, widened so that the first layer's grid
    fits with a bit to spare and none of its fraction bits is lost."""
    first = first_layer_type(model)
    if first is None:
        return INPUT_INT_BITS + INPUT_FRAC_BITS, INPUT_INT_BITS
    width, integer, _ = first
    integer_bits = max(INPUT_INT_BITS, integer + 1)
    frac_bits = max(INPUT_FRAC_BITS, width - integer)
    return integer_bits + frac_bits, integer_bits


def _input_type(model, layer):
    """(width, integer, signed) of what ``layer`` reads, through pooling and reshaping, or None."""
    from qkeras import QActivation

    source = layer.inbound_nodes[0].inbound_layers
    while isinstance(source, PASS_THROUGH):
        source = source.inbound_nodes[0].inbound_layers
    if isinstance(source, tf.keras.layers.InputLayer):
        width, integer = input_port_type(model)
        return width, integer, True
    return quantizer_type(source.quantizer) if isinstance(source, QActivation) else None


def exact_result_type(model, layer):
    """An ap_fixed type that holds every output of one of hls4ml's own QDense/QConv2D exactly, or None:
    fraction bits of input times weight (or the bias's), integer bits for the largest sum."""
    from mrfpga.hls.sim.reference import _quantized
    from mrfpga.training.quantizers.base import frac_bits_of

    source = _input_type(model, layer)
    if source is None:
        return None
    width, integer, signed = source
    kernel = _quantized(layer.kernel_quantizer_internal, layer.kernel.numpy())
    bias = _quantized(layer.bias_quantizer_internal, layer.bias.numpy()) if layer.use_bias else np.zeros(1)
    w_frac, b_frac = frac_bits_of(kernel, lowest=-64), frac_bits_of(bias, lowest=-64)
    if w_frac is None or b_frac is None:
        return None
    frac = max(width - integer + w_frac, b_frac)
    peak = 2.0 ** (integer - 1 if signed else integer)
    bound = float(np.max(np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0) * peak + np.abs(bias)))
    integer_bits = max(1, math.ceil(math.log2(bound + 2.0**-frac))) + 1
    return f"ap_fixed<{integer_bits + frac},{integer_bits}>"


def pin_results_before_switchable_bn(model, ports):
    """A switchable BN types itself from its input when hls4ml builds the graph; hls4ml's own layers
    infer their types later, so one of them before a switchable BN (the qkeras scheme's CNN) gets an
    exact result type here."""
    from qkeras import QConv2D, QDense

    from mrfpga.training.switchable_bn import SwitchableBatchNormalization

    for layer in model.layers:
        if not isinstance(layer, SwitchableBatchNormalization):
            continue
        source = layer.inbound_nodes[0].inbound_layers
        kernel = type(getattr(source, "kernel_quantizer_internal", None)).__name__
        pinned = "Precision" in ports.get(source.name, {})
        if isinstance(source, QDense | QConv2D) and kernel not in KIT_KERNELS and not pinned:
            precision = exact_result_type(model, source)
            if precision is not None:  # hls4ml puts a linear activation after the layer until it optimizes
                for name in (source.name, f"{source.name}_linear"):
                    ports.setdefault(name, {})["Precision"] = {"result": precision}


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


# The Keras layer classes the kit converts: its own (the QKeras layers with its quantizers, the switchable
# BN) and hls4ml's that it passes through or types exactly. The QKeras classes it marks (common.OVERRIDES)
# name their own limits.
SUPPORTED_LAYERS = (
    "InputLayer", "QDense", "QConv2D", "QActivation", "SwitchableBatchNormalization", "Dense", "Conv2D",
    "Activation", "BatchNormalization", "Flatten", "Reshape", "MaxPooling2D", "Dropout",
)  # fmt: skip


def _check_supported(model_arch):
    from mrfpga.hls.layers.common import OVERRIDES

    if model_arch["class_name"] not in ("Functional", "Model"):
        raise ConversionError(
            "convert a functional Keras model (tf.keras.Model(inputs, outputs)); wrap Sequential models"
        )
    for layer in model_arch["config"]["layers"]:
        if layer["class_name"] not in SUPPORTED_LAYERS and layer["class_name"] not in OVERRIDES:
            raise ConversionError(
                f"layer {layer['config']['name']}: {layer['class_name']} is not supported by the kit's conversion; "
                f"it converts {', '.join(SUPPORTED_LAYERS[1:])}"
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

    ``reuse_factor``: an integer, or ``"auto"``: per layer, the folding the cost model says fits the board
    (``mrfpga.hls.cost.folding``; the choice is the graph's ``mrfpga_folding``). ``mmac_unit``: ``"term_pair"``
    or ``"weight_term"`` for the mMAC layers after a data-term layer (docs/mmac_core.md); None takes the
    measured default. ``layer_config``: per layer name, hls4ml-style ``{"ReuseFactor": n, "MMACUnit": unit,
    "TermLanes": lanes}`` overriding the model-wide values (``TermLanes``: term slots an mMAC unit walks a cycle,
    docs/mmac_core.md)."""
    if reuse_factor == AUTO:
        return _convert_folded(
            model, output_dir, board, backend, io_type, clock_period, project_name, mmac_unit, layer_config
        )
    registry.install()
    writer.install()
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
    width, integer = input_port_type(model)
    port = f"ap_fixed<{width},{integer}>"
    ports = {name: {"Precision": {"result": port}} for name, *_ in model_arch["config"]["input_layers"]}
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
        if "TermLanes" in own:
            if layer["class_name"] not in ("MMACDense", "MMACConv2D"):
                raise ConversionError(f"hls_config: layer {layer['name']} is not an mMAC layer; TermLanes is theirs")
            layer["term_lanes"] = int(own["TermLanes"])
        if "ReuseFactor" in own:
            ports.setdefault(layer["name"], {})["ReuseFactor"] = own["ReuseFactor"]
    pin_results_before_switchable_bn(model, ports)
    config["HLSConfig"] = {"Model": model_config, "LayerName": ports}
    input_layers = _add_resolution_port(layer_list, input_layers, n_res)
    hls_model = ModelGraph.from_layer_list(config, layer_list, input_layers, output_layers)
    hls_model.mrfpga_board = board
    hls_model.mrfpga_resolutions = n_res
    # io_stream: FIFOs of one image row between the layers of a chain, not hls4ml's whole frames.
    hls_model.mrfpga_fifo_depths = size_fifos(hls_model, side_inputs=(RESOLUTION_PORT,))
    hls_model.mrfpga_folding = None
    return hls_model


def _convert_folded(model, output_dir, board, backend, io_type, clock_period, project_name, mmac_unit, layer_config):
    """``convert`` at the folding ``choose_folding`` picks; the layers ``layer_config`` gives a reuse factor
    keep it."""
    layer_config = layer_config or {}
    fixed = {name: own["ReuseFactor"] for name, own in layer_config.items() if "ReuseFactor" in own}

    converted = {}  # the chosen folding is often one the search converted already (all at 1, when that fits)

    def convert_at(layer_reuse, layer_lanes=None):
        key = (tuple(sorted(layer_reuse.items())), tuple(sorted((layer_lanes or {}).items())))
        if key not in converted:
            merged = {name: dict(own) for name, own in layer_config.items()}
            for name, reuse in layer_reuse.items():
                merged.setdefault(name, {})["ReuseFactor"] = reuse
            for name, lanes in (layer_lanes or {}).items():
                merged.setdefault(name, {})["TermLanes"] = lanes
            converted[key] = convert(
                model, output_dir, board, backend, io_type, clock_period, 1, project_name, mmac_unit, merged
            )
        return converted[key]

    shown = sys.stdout  # the search's progress; hls4ml's layer list at every conversion is not
    with contextlib.redirect_stdout(io.StringIO()):

        def progress(text):
            print(f"  {text}", file=shown, flush=True)

        folding = choose_folding(convert_at, model, load_board(board), io_type, n_resolutions(model), fixed, progress)
    hls_model = convert_at(
        {name: reuse for name, reuse in folding.layer_reuse.items() if reuse != 1}, folding.layer_lanes
    )
    hls_model.mrfpga_folding = folding
    return hls_model
