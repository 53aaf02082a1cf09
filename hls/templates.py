"""Config and function-call templates of the kit's layers (Vivado and Vitis backends)."""

from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

from .layers import DataTerm, MMACConv2D, MMACDense, SwitchableScaleShift

mmac_include_list = ["nnet_utils/nnet_mmac.h"]


def _budget_function(name, budgets):
    values = ", ".join(str(b) for b in budgets)
    return (
        f"static unsigned {name}(unsigned resolution) {{\n"
        f"        static const unsigned table[{len(budgets)}] = {{{values}}};\n"
        f"        return table[resolution < {len(budgets)} ? resolution : {len(budgets) - 1}];\n"
        f"    }}"
    )


def _table_function(name, values):
    body = ", ".join(str(v) for v in values)
    return (
        f"static unsigned {name}(unsigned i) {{\n"
        f"        static const unsigned table[{len(values)}] = {{{body}}};\n"
        f"        return table[i];\n"
        f"    }}"
    )


def _resolution_name(node):
    return node.get_input_variable(node.inputs[1]).name


data_term_config_template = """struct config{index} : nnet::data_term_config {{
    static const unsigned n_in = {n_in};
    static const unsigned bits = {bits};
    static const int integer = {integer};
    static const unsigned encoding = {encoding_id};
    static const unsigned n_resolutions = {n_resolutions};
    typedef ap_ufixed<{bits}, {integer}, {rounding}, AP_SAT> grid_t;
    {data_terms_function}
    {low_bits_function}
}};\n"""

data_term_function_template = "nnet::data_terms<{input_t}, {output_t}, {config}>({input}, {output}, {resolution});"


class DataTermConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(DataTerm)
        self.template = data_term_config_template

    def format(self, node):
        params = self._default_config_params(node)
        params["n_resolutions"] = len(node.get_attr("budgets"))
        params["data_terms_function"] = _budget_function("data_terms", node.get_attr("budgets"))
        params["low_bits_function"] = _budget_function("dropped_bits", node.get_attr("floors"))
        return self.template.format(**params)


class DataTermFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(DataTerm, include_header=mmac_include_list)
        self.template = data_term_function_template

    def format(self, node):
        params = self._default_function_params(node)
        params["resolution"] = _resolution_name(node)
        return self.template.format(**params)


mmac_dense_config_template = """struct config{index}{suffix} : nnet::mmac_dense_config {{
    static const unsigned n_in = {patch_size};
    static const unsigned n_out = {n_out};
    static const unsigned group_size = {group_size};
    static const unsigned n_groups = {n_groups};
    static const unsigned max_weight_terms = {max_weight_terms};
    static const unsigned max_data_terms = {max_data_terms};
    static const unsigned data_bits = {data_bits};
    static const unsigned unit = {unit_id};
    typedef {data_int_t} data_int_t;
    static const unsigned index_bits = {index_bits};
    static const unsigned exponent_bits = {exponent_bits};
    static const unsigned acc_shift = {acc_shift};
    static const unsigned reuse_factor = {rounds};
    static const unsigned n_units = {n_units};
    static const unsigned n_resolutions = {n_resolutions};
    typedef {terms_t.name} term_t;
    typedef ap_int<{acc_width}> accum_t;
    typedef {bias_t.name} bias_t;
    {weight_terms_function}
    {weight_floor_function}
    {data_terms_function}
    {group_terms_function}
    {group_base_function}
}};\n"""

mmac_dense_function_template = (
    "nnet::mmac_dense<{input_t}, {output_t}, {config}>({input}, {output}, {terms}, {bias}, {resolution});"
)


def format_mmac_dense_config(params, node, suffix=""):
    params["suffix"] = suffix
    params["terms_t"] = node.get_weights("terms").type
    params["bias_t"] = node.get_weights("bias").type
    params["max_data_terms"] = max(node.get_attr("data_budgets"))
    params["n_resolutions"] = len(node.get_attr("weight_budgets"))
    params["weight_terms_function"] = _budget_function("weight_terms", node.get_attr("weight_budgets"))
    params["weight_floor_function"] = _budget_function("weight_floor", node.get_attr("weight_floors"))
    params["data_terms_function"] = _budget_function("data_terms", node.get_attr("data_budgets"))
    params["group_terms_function"] = _budget_function("group_terms", node.get_attr("group_terms"))
    params["group_base_function"] = _table_function("group_base", node.get_attr("group_bases"))
    return mmac_dense_config_template.format(**params)


class MMACDenseConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(MMACDense)
        self.template = mmac_dense_config_template

    def format(self, node):
        return format_mmac_dense_config(self._default_config_params(node), node)


class MMACDenseFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(MMACDense, include_header=mmac_include_list)
        self.template = mmac_dense_function_template

    def format(self, node):
        params = self._default_function_params(node)
        params["terms"] = node.get_weights("terms").name
        params["bias"] = node.get_weights("bias").name
        params["resolution"] = _resolution_name(node)
        return self.template.format(**params)


mmac_conv2d_config_template = """struct config{index} : nnet::mmac_conv2d_config {{
    static const unsigned in_height = {in_height};
    static const unsigned in_width = {in_width};
    static const unsigned n_chan = {n_chan};
    static const unsigned out_height = {out_height};
    static const unsigned out_width = {out_width};
    static const unsigned n_filt = {n_filt};
    static const unsigned filt_height = {filt_height};
    static const unsigned filt_width = {filt_width};
    static const unsigned stride_height = {stride_height};
    static const unsigned stride_width = {stride_width};
    static const unsigned pad_top = {pad_top};
    static const unsigned pad_left = {pad_left};
    typedef config{index}_mmac dense_config;
}};\n"""

mmac_conv2d_function_template = (
    "nnet::mmac_conv2d<{input_t}, {output_t}, {config}>({input}, {output}, {terms}, {bias}, {resolution});"
)


class MMACConv2DConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(MMACConv2D)
        self.template = mmac_conv2d_config_template

    def format(self, node):
        params = self._default_config_params(node)
        dense = format_mmac_dense_config(dict(params), node, suffix="_mmac")
        return dense + "\n" + self.template.format(**params)


class MMACConv2DFunctionTemplate(MMACDenseFunctionTemplate):
    def __init__(self):
        FunctionCallTemplate.__init__(self, MMACConv2D, include_header=mmac_include_list)
        self.template = mmac_conv2d_function_template


scale_shift_config_template = """struct config{index} : nnet::scale_shift_config {{
    static const unsigned n_in = {n_in};
    static const unsigned n_chan = {n_chan};
    static const unsigned n_resolutions = {n_resolutions};
    static const unsigned scale_up = {scale_up};
    static const unsigned shift_up = {shift_up};
    typedef {data_int_t} data_int_t;
    typedef {scales_t.name} scale_t;
    typedef {shifts_t.name} shift_t;
    typedef ap_int<{acc_width}> accum_t;
}};\n"""

scale_shift_function_template = (
    "nnet::switchable_scale_shift<{input_t}, {output_t}, {config}>({input}, {output}, {scales}, {shifts}, "
    "{resolution});"
)


class ScaleShiftConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(SwitchableScaleShift)
        self.template = scale_shift_config_template

    def format(self, node):
        params = self._default_config_params(node)
        params["scales_t"] = node.get_weights("scales").type
        params["shifts_t"] = node.get_weights("shifts").type
        return self.template.format(**params)


class ScaleShiftFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(SwitchableScaleShift, include_header=mmac_include_list)
        self.template = scale_shift_function_template

    def format(self, node):
        params = self._default_function_params(node)
        params["scales"] = node.get_weights("scales").name
        params["shifts"] = node.get_weights("shifts").name
        params["resolution"] = _resolution_name(node)
        return self.template.format(**params)


TEMPLATES = (
    ScaleShiftConfigTemplate,
    ScaleShiftFunctionTemplate,
    DataTermConfigTemplate,
    DataTermFunctionTemplate,
    MMACDenseConfigTemplate,
    MMACDenseFunctionTemplate,
    MMACConv2DConfigTemplate,
    MMACConv2DFunctionTemplate,
)
