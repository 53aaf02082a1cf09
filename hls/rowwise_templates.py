"""Config and function-call templates of the row-wise layers (Vivado and Vitis backends)."""

from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

from .rowwise_layers import CORES, RowwiseConv2D, RowwiseDense
from .templates import _resolution_name, _table_function, mmac_conv2d_config_template

rowwise_include_list = ["nnet_utils/nnet_rowwise.h"]

rowwise_core_template = """struct {name} : nnet::rowwise_core_config {{
        static const unsigned n_in = {n_in};
        static const unsigned n_rows = {n_rows};
        static const unsigned table_size = {table_size};
        typedef {weight_t} weight_t;
        typedef ap_int<{acc_width}> accum_t;
        typedef ap_int<{product_width}> product_t;
        {row_index_function}
        {row_shift_function}
    }};"""

rowwise_dense_config_template = """struct config{index}{suffix} : nnet::rowwise_dense_config {{
    static const unsigned n_in = {n_in};
    static const unsigned n_out = {n_out};
    static const unsigned reuse_factor = {reuse};
    static const unsigned multiplier_limit = {multiplier_limit};
    typedef {data_int_t} data_int_t;
    typedef ap_int<{acc_width}> accum_t;
    typedef {bias_t} bias_t;
    {cores}
}};\n"""

rowwise_function_template = (
    "nnet::{function}<{input_t}, {output_t}, {config}>({input}, {output}, {pot_weights}, {fixed4_weights}, "
    "{fixed8_weights}, {bias}, {resolution});"
)


def _nested(function):
    return function.replace("\n", "\n    ")


def _core_config(node, name, n_in):
    n_rows = node.get_attr(f"{name}_rows")
    weights = node.get_weights(f"{name}_weights")
    return rowwise_core_template.format(
        name=name,
        n_in=n_in,
        n_rows=n_rows,
        table_size=max(1, n_rows * n_in),
        weight_t=weights.type.name,
        acc_width=node.get_attr(f"{name}_acc_width"),
        product_width=node.get_attr("data_bits") + weights.type.precision.width + 1,
        # An empty core still gets one entry: C++ has no empty arrays, and the core never reads it.
        row_index_function=_nested(_table_function("row_index", node.get_attr(f"{name}_index") or [0])),
        row_shift_function=_nested(_table_function("row_shift", node.get_attr(f"{name}_shift") or [0])),
    )


def format_rowwise_dense_config(params, node, suffix=""):
    n_in = node.get_attr("patch_size")
    params.update(
        suffix=suffix,
        n_in=n_in,
        multiplier_limit=max(1, -(-n_in * node.get_attr("n_fixed_rows") // node.get_attr("reuse_factor"))),
        bias_t=node.get_weights("bias").type.name,
        cores="\n    ".join(_core_config(node, name, n_in) for name, _ in CORES),
    )
    return rowwise_dense_config_template.format(**params)


class RowwiseDenseConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(RowwiseDense)
        self.template = rowwise_dense_config_template

    def format(self, node):
        return format_rowwise_dense_config(self._default_config_params(node), node)


class RowwiseDenseFunctionTemplate(FunctionCallTemplate):
    function = "rowwise_dense"

    def __init__(self, layer_class=RowwiseDense):
        super().__init__(layer_class, include_header=rowwise_include_list)
        self.template = rowwise_function_template

    def format(self, node):
        params = self._default_function_params(node)
        for name, _ in CORES:
            params[f"{name}_weights"] = node.get_weights(f"{name}_weights").name
        params.update(function=self.function, bias=node.get_weights("bias").name, resolution=_resolution_name(node))
        return self.template.format(**params)


class RowwiseConv2DConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(RowwiseConv2D)
        # The same geometry fields as the mMAC Conv2D; only the base struct differs.
        self.template = mmac_conv2d_config_template.replace("nnet::mmac_conv2d_config", "nnet::rowwise_conv2d_config")
        self.template = self.template.replace("config{index}_mmac", "config{index}_rowwise")

    def format(self, node):
        params = self._default_config_params(node)
        dense = format_rowwise_dense_config(dict(params), node, suffix="_rowwise")
        return dense + "\n" + self.template.format(**params)


class RowwiseConv2DFunctionTemplate(RowwiseDenseFunctionTemplate):
    function = "rowwise_conv2d"

    def __init__(self):
        super().__init__(RowwiseConv2D)


TEMPLATES = (
    RowwiseDenseConfigTemplate,
    RowwiseDenseFunctionTemplate,
    RowwiseConv2DConfigTemplate,
    RowwiseConv2DFunctionTemplate,
)
