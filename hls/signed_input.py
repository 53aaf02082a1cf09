"""The signed input layer: a network's first layer on a sign-and-magnitude grid (``quantized_data_term``
with ``signed=True``), its config and call templates (``nnet::signed_data_terms``).

Its output is a signed fixed-point value, not a term code, so the mMAC layer after it runs in shift mode
(each weight term shifts the whole input), and hls4ml's own layers take it as any fixed-point input.
"""

from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
from hls4ml.model.layers import Layer
from hls4ml.model.types import FixedPrecisionType

from .layers import ENCODING_IDS
from .templates import _budget_function, _resolution_name, mmac_include_list


class SignedDataTerm(Layer):
    """Sign and magnitude: the magnitude on the unsigned ``bits``/``integer`` grid (round half up,
    saturate), its ``a`` most significant terms kept, the sign put back. A NAF top term can round a
    magnitude up to ``2^bits``: sign, one extra bit, ``bits``."""

    def initialize(self):
        bits, integer = self.get_attr("bits"), self.get_attr("integer")
        self.set_attr("n_in", self.get_input_variable().size())
        self.set_attr("encoding_id", ENCODING_IDS[self.get_attr("encoding")])
        out = FixedPrecisionType(width=bits + 2, integer=integer + 2, signed=True)
        self.add_output_variable(self.get_input_variable().shape, precision=out)


signed_data_term_config_template = """struct config{index} : nnet::data_term_config {{
    static const unsigned n_in = {n_in};
    static const unsigned bits = {bits};
    static const int integer = {integer};
    static const unsigned encoding = {encoding_id};
    static const unsigned n_resolutions = {n_resolutions};
    typedef ap_ufixed<{bits}, {integer}, AP_RND, AP_SAT> grid_t;
    {data_terms_function}
}};\n"""

signed_data_term_function_template = (
    "nnet::signed_data_terms<{input_t}, {output_t}, {config}>({input}, {output}, {resolution});"
)


class SignedDataTermConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(SignedDataTerm)
        self.template = signed_data_term_config_template

    def format(self, node):
        params = self._default_config_params(node)
        params["n_resolutions"] = len(node.get_attr("budgets"))
        params["data_terms_function"] = _budget_function("data_terms", node.get_attr("budgets"))
        return self.template.format(**params)


class SignedDataTermFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(SignedDataTerm, include_header=mmac_include_list)
        self.template = signed_data_term_function_template

    def format(self, node):
        params = self._default_function_params(node)
        params["resolution"] = _resolution_name(node)
        return self.template.format(**params)


TEMPLATES = (SignedDataTermConfigTemplate, SignedDataTermFunctionTemplate)
