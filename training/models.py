"""Model builders: a term-quantized MLP in plain QKeras layers."""

import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits

from .quantizers import quantized_data_term, quantized_term


def data_term_quantizer(q):
    return quantized_data_term(q.activation_bits, q.activation_integer, q.data_budgets, q.encoding)


def weight_term_quantizer(q):
    return quantized_term(q.weight_bits, q.group_size, q.weight_budgets, q.encoding)


def bias_quantizer(q):
    # A plain QKeras fixed-point bias: step 2^(integer+1-bits), exact in hardware.
    return quantized_bits(q.bias_bits, q.bias_integer, alpha=1)


def build_mlp(n_inputs, n_classes, hidden, quantization, seed=0):
    """Input -> data terms -> [QDense(term) -> data terms] * len(hidden) -> QDense(term) logits."""
    tf.keras.utils.set_random_seed(seed)
    x = tf.keras.Input((n_inputs,), name="features")
    h = QActivation(data_term_quantizer(quantization), name="input_terms")(x)
    for i, units in enumerate(hidden):
        h = QDense(
            units,
            kernel_quantizer=weight_term_quantizer(quantization),
            bias_quantizer=bias_quantizer(quantization),
            name=f"dense_{i}",
        )(h)
        h = QActivation(data_term_quantizer(quantization), name=f"terms_{i}")(h)
    logits = QDense(
        n_classes,
        kernel_quantizer=weight_term_quantizer(quantization),
        bias_quantizer=bias_quantizer(quantization),
        name="logits",
    )(h)
    return tf.keras.Model(x, logits, name="mlp")
