"""The run configuration: a YAML file validated against these dataclasses.

Every section and key is checked: an unknown key, a missing section or a
value of the wrong type is a ``ConfigError`` naming the key.
"""

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mrfpga.training.data import NORMALIZATIONS
from mrfpga.training.term import MAX_INPUT_INTEGER
from mrfpga.training.terms import ENCODINGS

# SPEC section 1: (data terms a, weight terms k per group of 16).
REFERENCE_RESOLUTIONS = [[2, 8], [2, 10], [2, 12], [2, 14], [3, 14], [3, 16], [3, 18], [3, 20]]


class ConfigError(ValueError):
    pass


@dataclass
class DataConfig:
    """``data: digits`` (or a path) is short for ``data: {source: digits}``."""

    source: str = "digits"  # digits | path to an .npz
    normalize: str = "none"  # none | standard (per-feature mean and std of the training split)
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
    scheme: str = "term"
    weight_bits: int = 8
    activation_bits: int = 8
    activation_integer: int = 3
    group_size: int = 16
    encoding: str = "naf"
    bias_bits: int = 16
    bias_integer: int = 7
    resolutions: list[list[int]] = field(default_factory=lambda: [list(r) for r in REFERENCE_RESOLUTIONS])
    precisions: list[int] = field(default_factory=lambda: [2, 4, 6, 8])  # onion
    ratio: list[float] = field(default_factory=lambda: [65.0, 30.0, 5.0])  # rowwise: PoT4, Fixed4, Fixed8
    qkeras_kernel: str = "quantized_bits"  # qkeras (plain baseline): quantized_bits | quantized_po2

    @property
    def data_budgets(self):
        return [a for a, _ in self.resolutions]

    @property
    def weight_budgets(self):
        return [k for _, k in self.resolutions]


@dataclass
class TrainingConfig:
    method: str = "multires"
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 0.003
    seed: int = 0
    strategy: str = "default"  # default | mirrored | multiworker (tf.distribute)
    reassign_every: int = 10  # rowwise: epochs between row reassignments
    hessian_iterations: int = 20  # rowwise: power iterations
    cascade_thresholds: list[float] = field(default_factory=lambda: [0.5, 0.7, 0.8, 0.9, 0.95, 0.99])  # onion


@dataclass
class HLSConfig:
    board: str = "pynq-z2"
    backend: str = "Vivado"
    io_type: str = "io_parallel"
    clock_period: float | None = None  # None: the board's default clock
    reuse_factor: int = 1
    csim_samples: int | None = None  # None: the whole test set


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    hls: HLSConfig = field(default_factory=HLSConfig)

    def to_dict(self):
        return dataclasses.asdict(self)


SCHEMES = ("term", "onion", "rowwise", "qkeras")
QKERAS_KERNELS = ("quantized_bits", "quantized_po2")
METHODS = ("multires", "joint", "all", "individual", "post_training", "onion", "rowwise", "qkeras")
MODEL_KINDS = ("mlp", "cnn", "custom")
# Methods that need a particular scheme.
METHOD_SCHEMES = {"onion": "onion", "rowwise": "rowwise", "qkeras": "qkeras"}
BACKENDS = ("Vivado", "Vitis")
IO_TYPES = ("io_parallel", "io_stream")


def _check_type(value, annotation, key):
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        return _check_type(value, next(o for o in options if o is not type(None)), key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (inner,) = typing.get_args(annotation)
        return [_check_type(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is int and isinstance(value, bool) or not isinstance(value, annotation):
        raise ConfigError(f"{key}: expected {annotation.__name__}, got {value!r}")
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


def validate(config):
    q, t, h = config.quantization, config.training, config.hls
    _one_of(q.scheme, SCHEMES, "quantization.scheme")
    _one_of(q.encoding, ENCODINGS, "quantization.encoding")
    _one_of(q.qkeras_kernel, QKERAS_KERNELS, "quantization.qkeras_kernel")
    _one_of(t.method, METHODS, "training.method")
    _one_of(config.model.kind, MODEL_KINDS, "model.kind")
    _one_of(t.strategy, ("default", "mirrored", "multiworker"), "training.strategy")
    _one_of(config.data.normalize, NORMALIZATIONS, "data.normalize")
    if config.data.input_bits is not None and not 1 <= config.data.input_bits <= 16:
        raise ConfigError(f"data.input_bits: {config.data.input_bits} out of range 1..16")
    if config.data.input_integer is not None and abs(config.data.input_integer) > MAX_INPUT_INTEGER:
        raise ConfigError(
            f"data.input_integer: {config.data.input_integer} out of range {-MAX_INPUT_INTEGER}..{MAX_INPUT_INTEGER}"
        )
    if config.model.kind == "custom" and not config.model.builder:
        raise ConfigError("model.builder: a custom model needs 'module:function'")
    needed = METHOD_SCHEMES.get(t.method, "term")
    if q.scheme != needed:
        raise ConfigError(
            f"quantization.scheme: training.method {t.method!r} needs scheme {needed!r}, not {q.scheme!r}"
        )
    if sorted(q.precisions) != q.precisions or not all(2 <= p <= q.weight_bits for p in q.precisions):
        raise ConfigError(f"quantization.precisions: {q.precisions} must increase within 2..{q.weight_bits}")
    if len(q.ratio) != 3 or min(q.ratio) < 0 or sum(q.ratio) <= 0:
        raise ConfigError(f"quantization.ratio: {q.ratio} must be three non-negative shares (PoT4, Fixed4, Fixed8)")
    if not all(0 < th <= 1 for th in t.cascade_thresholds):
        raise ConfigError(f"training.cascade_thresholds: {t.cascade_thresholds} must lie in (0, 1]")
    _one_of(h.backend, BACKENDS, "hls.backend")
    _one_of(h.io_type, IO_TYPES, "hls.io_type")
    if not config.model.hidden or any(u < 1 for u in config.model.hidden):
        raise ConfigError("model.hidden: needs at least one layer, each with a positive number of units")
    if not config.model.filters or any(f < 1 for f in config.model.filters):
        raise ConfigError("model.filters: needs at least one conv block, each with a positive number of filters")
    if not q.resolutions:
        raise ConfigError("quantization.resolutions: needs at least one (data terms, weight terms) pair")
    for i, pair in enumerate(q.resolutions):
        if len(pair) != 2:
            raise ConfigError(f"quantization.resolutions[{i}]: expected a pair [data terms, weight terms], got {pair}")
        a, k = pair
        if not 1 <= a <= q.activation_bits + 1:
            raise ConfigError(f"quantization.resolutions[{i}]: data terms {a} out of range 1..{q.activation_bits + 1}")
        max_k = q.group_size * (q.weight_bits + 1)
        if not 1 <= k <= max_k:
            raise ConfigError(f"quantization.resolutions[{i}]: weight terms {k} out of range 1..{max_k}")
    for key, value, low in [
        ("quantization.weight_bits", q.weight_bits, 2),
        ("quantization.activation_bits", q.activation_bits, 1),
        ("quantization.group_size", q.group_size, 1),
        ("quantization.bias_bits", q.bias_bits, 2),
        ("training.epochs", t.epochs, 1),
        ("training.batch_size", t.batch_size, 1),
        ("training.reassign_every", t.reassign_every, 1),
        ("training.hessian_iterations", t.hessian_iterations, 1),
        ("hls.reuse_factor", h.reuse_factor, 1),
    ]:
        if value < low:
            raise ConfigError(f"{key}: {value} is below the minimum {low}")
    if not 0 <= q.activation_integer <= q.activation_bits:
        raise ConfigError(
            f"quantization.activation_integer: {q.activation_integer} out of range 0..{q.activation_bits}"
        )
    if t.learning_rate <= 0:
        raise ConfigError(f"training.learning_rate: {t.learning_rate} must be positive")
    if h.clock_period is not None and h.clock_period <= 0:
        raise ConfigError(f"hls.clock_period: {h.clock_period} must be positive")
    if h.csim_samples is not None and h.csim_samples < 1:
        raise ConfigError(f"hls.csim_samples: {h.csim_samples} must be positive")
    from mrfpga.hls.boards import load_board

    try:
        load_board(h.board)
    except ValueError as err:
        raise ConfigError(f"hls.board: {err}") from None
    return config


def from_dict(raw):
    return validate(_build(Config, raw, ""))


def load_config(path):
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    config = from_dict(raw)
    if config.data.source != "digits":
        # A relative data path is relative to the config file.
        data = Path(config.data.source)
        config.data.source = str(data if data.is_absolute() else (path.parent / data).resolve())
    return config
