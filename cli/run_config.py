"""The run configuration: data, model, quantization, training and HLS settings (``mrfpga.hls.settings``), as
dataclasses, loaded from a YAML file (``load_config``) or built from a plain mapping (``from_dict``), and
validated. It spans training and hls, so it lives above both.

Every section and key is checked when the configuration is built, before any
training: an unknown key, a value of the wrong type, a number that is not
finite or out of its range is a ``ConfigError`` naming the key and what it
allows. ``check_against_data`` adds the checks that need the data's shape.
"""

import dataclasses
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mrfpga.hls.settings import HLSConfig, check_hls_settings, useful_reuse_factor
from mrfpga.training.data import BUILT_IN, NORMALIZATIONS, Dataset, scale_problem
from mrfpga.training.errors import ConfigError
from mrfpga.training.models import build_model, load_builder
from mrfpga.training.quantizers.data_term import MAX_INPUT_INTEGER
from mrfpga.training.resolution import n_resolutions
from mrfpga.training.steps import ALPHA, TEMPERATURE
from mrfpga.training.switchable_bn import DEFAULT_SCALE_TERMS, check_scale_terms
from mrfpga.training.term_encodings import ENCODINGS, n_planes
from mrfpga.training.trainer import DEFAULT_LR_SCHEDULE, LR_SCHEDULES, jit_compile_problem

# The reference resolutions: (data terms a per value, weight terms k per group of 16), from the cheapest to
# the richest (docs/algorithms.md#resolutions-and-the-term-pair-budget).
REFERENCE_RESOLUTIONS = [[2, 8], [2, 10], [2, 12], [2, 14], [3, 14], [3, 16], [3, 18], [3, 20]]


@dataclass
class DataConfig:
    """``data: digits`` (or a path) is short for ``data: {source: digits}``."""

    source: str = "digits"  # digits | digits32 (32x32x3) | path to an .npz
    normalize: str = "none"  # none | standard (per-feature mean and std of the training split)
    scale: str | float = "auto"  # auto (uint8 / 255, uint16 / 65535) | none | x * a number; before normalize
    # The first layer's grid; None: from the training data (signed if any value is negative, integer bits
    # so the largest magnitude fits) and the scheme's activation width.
    input_bits: int | None = None  # magnitude bits
    input_integer: int | None = None
    input_signed: bool | None = None


@dataclass
class ModelConfig:
    kind: str = "mlp"  # mlp | cnn | custom
    hidden: list[int] = field(default_factory=lambda: [64, 32])  # mlp
    filters: list[int] = field(default_factory=lambda: [8, 16])  # cnn: 3x3 conv blocks
    builder: str | None = None  # custom: "module:function"


@dataclass
class QuantizationConfig:
    scheme: str = "term"  # term | onion | rowwise | qkeras
    weight_bits: int = 8  # b: weight magnitude bits
    activation_bits: int = 8  # the activation grid's width
    activation_integer: int = 3  # of which integer bits
    group_size: int = 16  # g: weights per term group along the fan-in (term)
    encoding: str = "naf"  # naf | binary | hese: how a weight splits into terms
    bias_bits: int = 16  # QKeras quantized_bits(bias_bits, bias_integer, alpha=1)
    bias_integer: int = 7
    resolutions: list[list[int]] = field(default_factory=lambda: [list(r) for r in REFERENCE_RESOLUTIONS])
    precisions: list[int] = field(default_factory=lambda: [2, 4, 6, 8])  # onion
    ratio: list[float] = field(default_factory=lambda: [65.0, 30.0, 5.0])  # rowwise: PoT4, Fixed4, Fixed8
    qkeras_kernel: str = "quantized_bits"  # qkeras (plain baseline): quantized_bits | quantized_po2
    # Switchable BN: each folded scale as at most this many signed powers of two (no multiplier); null: 16-bit codes
    bn_scale_terms: int | None = DEFAULT_SCALE_TERMS

    @property
    def data_budgets(self) -> list[int]:
        return [a for a, _ in self.resolutions]

    @property
    def weight_budgets(self) -> list[int]:
        return [k for _, k in self.resolutions]


@dataclass
class TrainingConfig:
    method: str = "multires"
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 0.003
    lr_schedule: str = DEFAULT_LR_SCHEDULE  # constant | cosine (Adam's rate to 0 over the run)
    distillation_alpha: float = ALPHA  # multires and all: the KL term's weight (0.1)
    distillation_temperature: float = TEMPERATURE  # multires and all: the softmax temperature T (4)
    seed: int = 0
    strategy: str = "default"  # default | mirrored | multiworker (tf.distribute)
    jit_compile: bool | str = "auto"  # whole training step under XLA: auto | true | false
    reassign_every: int = 10  # rowwise: epochs between row reassignments
    hessian_iterations: int = 20  # rowwise: power iterations
    cascade_thresholds: list[float] = field(default_factory=lambda: [0.5, 0.7, 0.8, 0.9, 0.95, 0.99])  # onion


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    hls: HLSConfig = field(default_factory=HLSConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SCHEMES = ("term", "onion", "rowwise", "qkeras")
QKERAS_KERNELS = ("quantized_bits", "quantized_po2")
METHODS = ("multires", "joint", "all", "individual", "post_training", "onion", "rowwise", "qkeras")
MODEL_KINDS = ("mlp", "cnn", "custom")
# Methods that need a particular scheme.
METHOD_SCHEMES = {"onion": "onion", "rowwise": "rowwise", "qkeras": "qkeras"}


def _check_type(value, annotation, key):
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        *others, last = [o for o in options if o is not type(None)]
        for option in others:  # the first type the value has; the last one's error otherwise
            try:
                return _check_type(value, option, key)
            except ConfigError:
                pass
        return _check_type(value, last, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (inner,) = typing.get_args(annotation)
        return [_check_type(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is int and isinstance(value, bool) or not isinstance(value, annotation):
        raise ConfigError(f"{key}: expected {annotation.__name__}, got {value!r}")
    if annotation is float and not math.isfinite(value):
        raise ConfigError(f"{key}: {value} is not a finite number")
    return value


def _build(cls, raw, prefix):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        where = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(f"{where}: unknown key; known keys here: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in raw.items():
        key = f"{prefix}.{name}" if prefix else name
        hint = hints[name]
        if hint is DataConfig and isinstance(value, str):
            value = {"source": value}
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, key)
        else:
            values[name] = _check_type(value, hint, key)
    return cls(**values)


def _one_of(value, options, key):
    if value not in options:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, options))}")


# Bit widths the quantizers and the HLS types take, per scheme (onion codes may be wider than term codes).
MAX_BITS = {"onion": 24}
MAX_TERM_BITS = 16
MAX_BIAS_BITS = 32  # the bias's fraction bits stay within what conversion reads exactly (hls.common.MAX_BIAS_FRAC)
MAX_SEED = 2**32 - 1  # numpy and scikit-learn seeds


def _in_range(key, value, low, high=None):
    if high is None and value < low:
        raise ConfigError(f"{key}: {value} is below the minimum {low}")
    if high is not None and not low <= value <= high:
        raise ConfigError(f"{key}: {value} out of range {low}..{high}")


def _strictly_increasing(key, values, what):
    for i in range(1, len(values)):
        earlier, later = values[i - 1], values[i]
        pairs = isinstance(later, list)
        if later == earlier or (any(x < y for x, y in zip(later, earlier, strict=True)) if pairs else later < earlier):
            raise ConfigError(
                f"{key}[{i}]: {later} after {earlier}; {what} must increase from the cheapest to the richest "
                "(the last is the teacher), with no repeats"
            )


def validate(config: Config) -> Config:
    q, t, h, m = config.quantization, config.training, config.hls, config.model
    _one_of(q.scheme, SCHEMES, "quantization.scheme")
    _one_of(q.encoding, ENCODINGS, "quantization.encoding")
    _one_of(q.qkeras_kernel, QKERAS_KERNELS, "quantization.qkeras_kernel")
    try:
        check_scale_terms(q.bn_scale_terms, "quantization.bn_scale_terms")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    _one_of(t.method, METHODS, "training.method")
    _one_of(m.kind, MODEL_KINDS, "model.kind")
    _one_of(t.strategy, ("default", "mirrored", "multiworker"), "training.strategy")
    _one_of(t.lr_schedule, LR_SCHEDULES, "training.lr_schedule")
    if not 0 <= t.distillation_alpha < 1:  # at 1 no label reaches the teacher (digits MLP: 10% accuracy)
        raise ConfigError(
            f"training.distillation_alpha: {t.distillation_alpha} out of range: 0 <= alpha < 1 (at 1 the teacher "
            "sees no labels)"
        )
    if not t.distillation_temperature > 0:
        raise ConfigError(f"training.distillation_temperature: {t.distillation_temperature} must be above 0")
    if (problem := jit_compile_problem(t.jit_compile, t.strategy != "default")) is not None:
        raise ConfigError(problem)
    _one_of(config.data.normalize, NORMALIZATIONS, "data.normalize")
    if (problem := scale_problem(config.data.scale)) is not None:
        raise ConfigError(problem)
    if config.data.input_bits is not None and not 1 <= config.data.input_bits <= 16:
        raise ConfigError(f"data.input_bits: {config.data.input_bits} out of range 1..16")
    if config.data.input_integer is not None and abs(config.data.input_integer) > MAX_INPUT_INTEGER:
        raise ConfigError(
            f"data.input_integer: {config.data.input_integer} out of range {-MAX_INPUT_INTEGER}..{MAX_INPUT_INTEGER}"
        )
    if m.kind == "custom":
        if not m.builder:
            raise ConfigError("model.builder: a custom model needs 'module:function'")
        try:
            load_builder(m.builder)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    needed = METHOD_SCHEMES.get(t.method, "term")
    if q.scheme != needed:
        raise ConfigError(
            f"quantization.scheme: training.method {t.method!r} needs scheme {needed!r}, not {q.scheme!r}"
        )
    if not m.hidden or any(u < 1 for u in m.hidden):
        raise ConfigError("model.hidden: needs at least one layer, each with a positive number of units")
    if not m.filters or any(f < 1 for f in m.filters):
        raise ConfigError("model.filters: needs at least one conv block, each with a positive number of filters")

    # Scalars first, so a bad width is named under its own key, not under a range derived from it.
    max_bits = MAX_BITS.get(q.scheme, MAX_TERM_BITS)
    _in_range("quantization.weight_bits", q.weight_bits, 2, max_bits)
    _in_range("quantization.activation_bits", q.activation_bits, 1, max_bits)
    _in_range("quantization.activation_integer", q.activation_integer, 0, q.activation_bits)
    _in_range("quantization.group_size", q.group_size, 1)
    _in_range("quantization.bias_bits", q.bias_bits, 2, MAX_BIAS_BITS)
    _in_range("quantization.bias_integer", q.bias_integer, 0, q.bias_bits - 1)
    _in_range("training.epochs", t.epochs, 1)
    _in_range("training.batch_size", t.batch_size, 1)
    _in_range("training.seed", t.seed, 0, MAX_SEED)
    _in_range("training.reassign_every", t.reassign_every, 1)
    _in_range("training.hessian_iterations", t.hessian_iterations, 1)
    if t.learning_rate <= 0:
        raise ConfigError(f"training.learning_rate: {t.learning_rate} must be positive")
    if h.csim_samples is not None:
        _in_range("hls.csim_samples", h.csim_samples, 1)

    if not q.resolutions:
        raise ConfigError("quantization.resolutions: needs at least one (data terms, weight terms) pair")
    for i, pair in enumerate(q.resolutions):
        if len(pair) != 2:
            raise ConfigError(f"quantization.resolutions[{i}]: expected a pair [data terms, weight terms], got {pair}")
        a, k = pair
        max_a = n_planes(q.activation_bits)
        if not 1 <= a <= max_a:
            raise ConfigError(f"quantization.resolutions[{i}]: data terms {a} out of range 1..{max_a}")
        max_k = q.group_size * n_planes(q.weight_bits)
        if not 1 <= k <= max_k:
            raise ConfigError(f"quantization.resolutions[{i}]: weight terms {k} out of range 1..{max_k}")
    _strictly_increasing("quantization.resolutions", q.resolutions, "resolutions (data terms and weight terms)")
    if q.scheme == "onion":
        if not q.precisions:
            raise ConfigError("quantization.precisions: needs at least one precision")
        widest = min(q.weight_bits, q.activation_bits)
        for i, p in enumerate(q.precisions):
            _in_range(f"quantization.precisions[{i}]", p, 2, widest)
        _strictly_increasing("quantization.precisions", q.precisions, "precisions")
        if not all(0 < th <= 1 for th in t.cascade_thresholds):
            raise ConfigError(f"training.cascade_thresholds: {t.cascade_thresholds} must lie in (0, 1]")
    if len(q.ratio) != 3 or min(q.ratio) < 0 or sum(q.ratio) <= 0:
        raise ConfigError(f"quantization.ratio: {q.ratio} must be three non-negative shares (PoT4, Fixed4, Fixed8)")
    check_hls_settings(h.board, h.backend, h.io_type, h.clock_period, h.reuse_factor, prefix="hls.")
    return config


def resolution_settings(quantization: QuantizationConfig, n_res: int) -> list[dict[str, Any]]:
    """What each resolution of the model means, and the cost axis it is plotted on."""
    q = quantization
    if q.scheme == "term":
        settings = [{"a": a, "k": k, "gamma": a * k, "label": f"a={a} k={k}"} for a, k in q.resolutions]
    elif q.scheme == "onion":
        settings = [{"precision": p, "label": f"p={p}"} for p in q.precisions]
    else:
        settings = [{"label": q.scheme}]
    if len(settings) != n_res:
        raise ConfigError(
            f"the model has {n_res} resolutions; the configuration's {q.scheme} scheme names {len(settings)}"
        )
    return settings


def _reachable_weight_terms(model):
    """(terms, layer, fan-in, group) of the term layer whose groups hold the most terms, or None: a layer's
    groups run along its kernel's fan-in axis (a Dense's inputs, a Conv2D's input channels), so they hold
    ``min(group_size, fan-in)`` weights of ``weight_bits + 1`` terms each."""
    from mrfpga.training.quantizers import quantized_term

    best = None
    for layer in model.layers:
        quantizer = getattr(layer, "kernel_quantizer_internal", None)
        if isinstance(quantizer, quantized_term):
            fan_in = int(layer.kernel.shape[-2])
            group = min(quantizer.group_size, fan_in)
            found = (group * n_planes(quantizer.bits), layer, fan_in, group)
            if best is None or found[0] > best[0]:
                best = found
    return best


def _check_budgets_reachable(model, q):
    reach = _reachable_weight_terms(model)
    if reach is None:
        return
    most, layer, fan_in, group = reach
    inputs = f"{fan_in} input channels" if len(layer.kernel.shape) > 2 else f"{fan_in} inputs"
    for i, k in enumerate(q.weight_budgets):
        if k > most:
            raise ConfigError(
                f"quantization.resolutions[{i}]: weight terms {k} can never be reached: the most any layer's group "
                f"holds is {most}, in layer {layer.name} ({inputs}, so groups of {group} weights, "
                f"{n_planes(q.weight_bits)} terms each at weight_bits {q.weight_bits}); use at most {most}"
            )


def check_against_data(config: Config, data: Dataset) -> None:
    """The checks that need the data: the model fits its samples, every weight budget fits the groups the
    model's layers really have, and the reuse factor fits the model."""
    m, q = config.model, config.quantization
    if m.kind == "cnn" and len(data.input_shape) != 3:
        raise ConfigError(
            f"model.kind: a cnn needs image samples (height, width, channels); {data.name}'s samples have shape "
            f"{tuple(data.input_shape)}"
        )
    explicit_reuse = config.hls.reuse_factor != "auto"  # auto picks only reuse factors a layer can use
    if m.kind != "custom" and q.scheme != "term" and not (explicit_reuse and config.hls.reuse_factor > 1):
        return  # nothing else to check, no model to build
    try:
        model = build_model(m, data.input_shape, data.n_classes, q, config.training.seed)
    except ValueError as err:
        raise ConfigError(f"model.builder: {err}") from None
    if m.kind == "custom":
        resolution_settings(q, n_resolutions(model))  # the builder's model and the configuration agree
    if q.scheme == "term":
        _check_budgets_reachable(model, q)
    useful = useful_reuse_factor(model, q)
    if explicit_reuse and config.hls.reuse_factor > useful:
        raise ConfigError(
            f"hls.reuse_factor: {config.hls.reuse_factor} out of range 1..{useful}: no layer of this model can use "
            "more rounds, the rest would be idle"
        )


def from_dict(raw: dict[str, Any] | None) -> Config:
    return validate(_build(Config, raw, ""))


# YAML 1.1 reads 1e-3 (no dot) and 1.0e3 (no exponent sign) as strings; a configuration reads them as numbers.
SCIENTIFIC = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with scientific notation as floats."""


ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:float", SCIENTIFIC, list("-+0123456789."))


def _refuse_duplicates(node, where, source):
    """A key given twice in one mapping (YAML keeps the last one silently) is a ``ConfigError`` naming both lines."""
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                line = key.start_mark.line + 1
                if key.value in seen:
                    raise ConfigError(
                        f"{source}: {where}{key.value} is given twice, on lines {seen[key.value]} and {line}; "
                        "keep one (YAML would silently use the last)"
                    )
                seen[key.value] = line
                _refuse_duplicates(value, f"{where}{key.value}.", source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicates(item, f"{where.rstrip('.')}[{i}].", source)


def parse_yaml(text: str, source: str | os.PathLike[str]) -> Any:
    """The mapping a configuration's YAML text holds: scientific notation read as numbers, a key given twice
    refused. ``source`` names the text in errors."""
    loader = ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_duplicates(node, "", source)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML: {err}") from None
    finally:
        loader.dispose()


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """A text file's contents, or a ``ConfigError`` saying why it cannot be read and what to do."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a directory; give the file itself")
    if not path.exists():
        raise ConfigError(f"{what} {path} does not exist")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read {what} {path}: {err.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{what} {path} is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); save it as UTF-8"
        ) from None


# Keys a scheme replaces by its own fixed choice: given with another value, they would be ignored without a word.
SCHEME_OVERRIDES = {
    "onion": {
        "group_size": ("the onion scheme's groups are always 8 weights (its mMAC core's)", (8,)),
        "resolutions": ("the onion scheme's resolutions are quantization.precisions", ()),
    },
    "rowwise": {
        "group_size": ("the rowwise scheme has no term groups (each row is PoT-W4, Fixed-W4 or Fixed-W8)", ()),
        "resolutions": ("the rowwise scheme has one resolution; its rows follow quantization.ratio", ()),
        "activation_bits": ("the rowwise scheme's activations are always 4-bit", (4,)),
    },
    "qkeras": {
        "group_size": ("the qkeras scheme has no term groups (plain fixed point)", ()),
        "resolutions": ("the qkeras scheme has one resolution", ()),
        "encoding": ("the qkeras scheme has no term encoding (plain fixed point)", ()),
    },
}


def _refuse_overridden(raw, config):
    """A quantization key the configured scheme overrides, given with a value of its own: a ``ConfigError``."""
    given = (raw or {}).get("quantization")
    if not isinstance(given, dict):
        return
    scheme = config.quantization.scheme
    defaults = QuantizationConfig()
    for key, (reason, same) in SCHEME_OVERRIDES.get(scheme, {}).items():
        if key in given:
            value = getattr(config.quantization, key)
            if value != getattr(defaults, key) and value not in same:
                raise ConfigError(
                    f"quantization.{key}: {value} would have no effect: {reason}; remove the key, or use scheme "
                    "'term' for a term-quantized model"
                )


def load_config(path: str | os.PathLike[str], all_methods: bool = False) -> Config:
    """The configuration in the YAML file ``path``. ``all_methods`` (``mrfpga evaluate``, which trains every
    scheme from one file): keys of other schemes than the configured one are used, so none is refused as
    ignored."""
    path = Path(path)
    raw = parse_yaml(read_text(path, "config file"), path)
    config = from_dict(raw)
    if not all_methods:
        _refuse_overridden(raw, config)
    if config.data.source not in BUILT_IN:
        # A relative data path is relative to the config file.
        data = Path(config.data.source)
        config.data.source = str(data if data.is_absolute() else (path.parent / data).resolve())
        if Path(config.data.source).is_dir():
            raise ConfigError(
                f"data.source: {config.data.source} is a directory; give the .npz file itself (written with "
                "numpy.savez)"
            )
    return config
