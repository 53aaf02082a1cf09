"""Data sets: scikit-learn's digits (the embedded default; ``digits32``, the same at 32x32x3) or a user's
``.npz``; their scaling (integer images onto [0, 1]), their normalization and the fixed-point grid the network's
first layer puts them on."""

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

NORMALIZATIONS = ("none", "standard")
SCALES = ("auto", "none")  # or a number: x * scale
# ``scale: auto``: integer images onto [0, 1] by their type's largest value; any other type is left as it is.
AUTO_SCALES = {"uint8": 255, "uint16": 65535}
OUT_OF_GRID_WARNING = 0.001  # warn when more than 0.1% of the training values saturate or clip

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    input_shape: tuple  # one sample's natural shape; x holds one flat row per sample
    normalization: "Normalization | None" = None  # already applied to x_train and x_test
    dtype: str = "float32"  # the type the x arrays were stored with
    scaling: "Scaling | None" = None  # already applied, before the normalization

    @property
    def n_inputs(self):
        return int(np.prod(self.x_train.shape[1:]))

    @property
    def n_classes(self):
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def load_digits(seed=0):
    """8x8 digits, pixels 0..16 scaled to [0, 1] (multiples of 1/16: already on any grid finer than 2^-4)."""
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    x, y = sk_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    return Dataset(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), "digits", (8, 8, 1))


def load_digits32(seed=0):
    """The digits at 32x32x3, a stand-in for 32x32 colour images (CIFAR-10's shape, which cannot be downloaded
    here): each pixel becomes 4x4, drawn in a foreground colour on a background colour picked per sample.
    Colour levels are multiples of 1/4, so the values stay multiples of 1/64 in [0, 1]."""
    digits = load_digits(seed)
    rng = np.random.default_rng(seed + 32)

    def colour(x):
        n = len(x)
        foreground = rng.choice([0.5, 0.75, 1.0], (n, 1, 1, 3))
        background = rng.choice([0.0, 0.25], (n, 1, 1, 3))
        pixels = np.kron(x.reshape(n, 8, 8), np.ones((4, 4)))[..., None]
        return (background + (foreground - background) * pixels).reshape(n, -1).astype(np.float32)

    return Dataset(
        colour(digits.x_train), digits.y_train, colour(digits.x_test), digits.y_test, "digits32", (32, 32, 3)
    )


BUILT_IN = {"digits": load_digits, "digits32": load_digits32}


def load_npz(path):
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not an .npz archive; write one with numpy.savez(path, {', '.join(NPZ_KEYS)})")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in NPZ_KEYS if k not in f]
            if missing:
                raise DataError(f"{path}: missing arrays {missing}; an .npz needs {', '.join(NPZ_KEYS)}")
            arrays = {k: f[k] for k in NPZ_KEYS}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"{path}: cannot read the arrays ({err})") from None
    check_arrays(arrays, path)
    return Dataset(
        arrays["x_train"].reshape(len(arrays["x_train"]), -1).astype(np.float32),
        arrays["y_train"].astype(np.int64),
        arrays["x_test"].reshape(len(arrays["x_test"]), -1).astype(np.float32),
        arrays["y_test"].astype(np.int64),
        path.stem,
        tuple(arrays["x_train"].shape[1:]),
        dtype=arrays["x_train"].dtype.name,
    )


def _first(values, n=5):
    values = [int(v) for v in values]
    return f"{values[:n]}{' ...' if len(values) > n else ''}"


def check_arrays(arrays, source):
    """Arrays a classifier can train on and be tested with; a ``DataError`` naming the array otherwise."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim < 2:
            raise DataError(
                f"{source}: x_{split} has shape {x.shape}; it needs one sample per row: (samples, features...)"
            )
        if len(x) == 0:
            raise DataError(f"{source}: x_{split} has 0 samples")
        if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == bool):
            raise DataError(f"{source}: x_{split} holds {x.dtype} values; it needs numbers")
        with np.errstate(over="ignore"):  # beyond float32 becomes inf, reported below
            finite = np.isfinite(x.astype(np.float32))
        if not finite.all():
            rows = np.flatnonzero(~finite.reshape(len(x), -1).all(axis=1))
            raise DataError(
                f"{source}: x_{split} has {int((~finite).sum())} values that are NaN, infinite or beyond float32, "
                f"in rows {_first(rows)}"
            )
        if len(x) != len(y):
            raise DataError(f"{source}: x_{split} has {len(x)} rows but y_{split} has {len(y)}")
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise DataError(f"{source}: y_{split} must be a 1-D array of non-negative integer class labels")
    types = {arrays["x_train"].dtype.name, arrays["x_test"].dtype.name}
    if len(types) > 1 and types & set(AUTO_SCALES):  # the two splits would be scaled differently
        raise DataError(
            f"{source}: x_train holds {arrays['x_train'].dtype} values but x_test {arrays['x_test'].dtype}; save both "
            "with the same type (data.scale: auto scales by it)"
        )
    if arrays["x_test"].shape[1:] != arrays["x_train"].shape[1:]:
        raise DataError(
            f"{source}: x_test samples have shape {arrays['x_test'].shape[1:]} but x_train samples "
            f"{arrays['x_train'].shape[1:]}; both need the same"
        )
    classes = np.unique(arrays["y_train"])
    if len(classes) < 2:
        raise DataError(f"{source}: y_train has only class {int(classes[0])}; a classifier needs at least two")
    n_classes = int(classes[-1]) + 1
    if len(classes) != n_classes:
        absent = np.setdiff1d(np.arange(min(n_classes, len(classes) + 6)), classes)
        raise DataError(
            f"{source}: y_train labels run 0..{n_classes - 1} (so {n_classes} outputs) but {n_classes - len(classes)} "
            f"of them never occur ({_first(absent)}); number the classes 0..C-1"
        )
    unseen = np.setdiff1d(arrays["y_test"], classes)
    if len(unseen):
        raise DataError(f"{source}: y_test has labels never seen in training: {_first(unseen)}")


def load(source, seed=0, normalize="none", normalization=None, scale="auto"):
    """The data set, scaled, then normalized. ``scale`` is ``data.scale`` (``auto``, ``none`` or a number) or
    the ``Scaling`` stored with a trained model; ``normalize='standard'`` fits a ``Normalization`` on the scaled
    training split; a given ``normalization`` (the one stored with a trained model) is applied as it is."""
    data = BUILT_IN[source](seed) if source in BUILT_IN else load_npz(source)
    if normalize not in NORMALIZATIONS:
        raise DataError(f"data.normalize: {normalize!r} is not one of {', '.join(NORMALIZATIONS)}")
    scaling = scale if isinstance(scale, Scaling) else Scaling.of(scale, data.dtype)
    if scaling is not None:
        scaling.check(data)
        data.x_train, data.x_test = scaling.apply(data.x_train), scaling.apply(data.x_test)
        data.scaling = scaling
        for split in ("x_train", "x_test"):
            if not np.isfinite(getattr(data, split)).all():
                raise DataError(f"data.scale: x * {scaling.factor:g} takes values of {split} beyond float32")
    if normalization is None and normalize == "standard":
        normalization = Normalization.fit(data.x_train)
    if normalization is not None:
        data.x_train, data.x_test = normalization.apply(data.x_train), normalization.apply(data.x_test)
        data.normalization = normalization
    return data


def scale_problem(setting):
    """What is wrong with the ``data.scale`` setting, or None."""
    if isinstance(setting, str):
        if setting in SCALES:
            return None
        return (
            f"data.scale: {setting!r} is not auto, none or a number above 0 (x * scale; 1/255 is 0.00392156862745098)"
        )
    if isinstance(setting, bool) or not isinstance(setting, (int, float)):
        return f"data.scale: {setting!r} is not auto, none or a number above 0"
    if not math.isfinite(setting) or setting <= 0:
        return f"data.scale: {setting} must be a finite number above 0 (x * scale)"
    return None


@dataclass(frozen=True)
class Scaling:
    """``x * factor``, applied to the stored values before any normalization: ``auto`` takes ``uint8`` images
    onto [0, 1] (1/255) and ``uint16`` ones too (1/65535); a number is the factor itself.

    Like the normalization, it is stored with the trained model (``input.json``) and applied wherever the
    kit feeds data; the host that feeds the board applies it too.
    """

    factor: float
    dtype: str  # the stored type it was chosen for
    setting: "str | float"  # auto, or the configured number

    @classmethod
    def of(cls, setting, dtype):
        """The scaling ``data.scale`` ``setting`` means for x arrays stored as ``dtype``; None for none (and for
        auto on a type it leaves alone: floats, other integers)."""
        problem = scale_problem(setting)
        if problem is not None:
            raise DataError(problem)
        if setting == "none":
            return None
        if setting == "auto":
            top = AUTO_SCALES.get(dtype)
            return None if top is None else cls(1.0 / top, dtype, "auto")
        return cls(float(setting), dtype, float(setting))

    def check(self, data):
        """A stored scaling fits the data it is applied to: the same stored type."""
        if data.dtype != self.dtype:
            raise DataError(
                f"{data.name}: the model was trained on {self.dtype} x arrays scaled by {self.factor:g}; the data now "
                f"holds {data.dtype}; give it the data it was trained on, or train again"
            )

    def apply(self, x):
        return (np.asarray(x, np.float64) * self.factor).astype(np.float32)

    def describe(self):
        top = AUTO_SCALES.get(self.dtype) if self.setting == "auto" else None
        return f"x / {top} ({self.dtype}, auto)" if top else f"x * {self.factor:g} ({self.dtype})"

    def to_dict(self):
        return {"kind": "multiply", "factor": self.factor, "dtype": self.dtype, "setting": self.setting}

    @classmethod
    def from_dict(cls, d):
        return None if d is None else cls(float(d["factor"]), str(d["dtype"]), d["setting"])


@dataclass
class Normalization:
    """Per-feature ``(x - mean) / std`` with the training split's mean and standard deviation.

    A constant feature (std 0) is only centred (its std is taken as 1). The
    host that feeds the board applies the same arithmetic with the stored
    values before it writes a sample.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x_train):
        x = np.asarray(x_train, np.float64)
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std > 0, std, 1.0))

    def apply(self, x):
        x = np.asarray(x)
        if x.shape[1:] != self.mean.shape:
            raise ValueError(f"normalization has {self.mean.shape} features; the data has {x.shape[1:]}")
        return ((x - self.mean) / self.std).astype(np.float32)

    def to_dict(self):
        return {"kind": "standard", "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d):
        return None if d is None else cls(np.asarray(d["mean"], np.float64), np.asarray(d["std"], np.float64))


@dataclass(frozen=True)
class InputGrid:
    """The fixed-point grid of the network's first layer: ``bits`` magnitude bits, ``integer`` of them
    above the binary point (step ``2^(integer - bits)``, top ``(2^bits - 1) * step``), and a sign when
    ``signed`` (sign and magnitude: the grid is symmetric)."""

    bits: int
    integer: int
    signed: bool

    @property
    def step(self):
        return 2.0 ** (self.integer - self.bits)

    @property
    def top(self):
        return (2.0**self.bits - 1) * self.step

    def out_of_grid(self, x):
        """Fractions of the values of ``x`` that saturate (beyond the top, after rounding) or clip
        (negative on an unsigned grid: they become 0)."""
        x = np.asarray(x, np.float64).ravel()
        magnitude = np.abs(x) if self.signed else x
        # Rounding half up reaches the code 2^bits from (2^bits - 1/2) * step on.
        saturated = np.mean(magnitude >= self.top + self.step / 2) if x.size else 0.0
        clipped = 0.0 if self.signed or not x.size else np.mean(x <= -self.step / 2)
        return {"saturated": float(saturated), "clipped": float(clipped)}

    def warning(self, x, where="training"):
        """A sentence naming the out-of-grid fractions when they pass 0.1%, else None."""
        out = self.out_of_grid(x)
        if out["saturated"] + out["clipped"] <= OUT_OF_GRID_WARNING:
            return None
        parts = [f"{100 * out['saturated']:.2f}% saturate beyond ±{self.top:g}" if self.signed
                 else f"{100 * out['saturated']:.2f}% saturate above {self.top:g}"]  # fmt: skip
        if not self.signed:
            parts.append(f"{100 * out['clipped']:.2f}% are negative and clip to 0")
        return (
            f"input grid {self.describe()}: of the {where} values, " + " and ".join(parts)
            + "; set data.input_integer / data.input_signed, or data.normalize: standard"
        )  # fmt: skip

    def describe(self):
        kind = "signed" if self.signed else "unsigned"
        return f"{kind} {self.bits} magnitude bits, {self.integer} integer (step 2^{self.integer - self.bits})"

    def to_dict(self):
        return {"bits": self.bits, "integer": self.integer, "signed": self.signed, "step": self.step, "top": self.top}


def fit_input_grid(x_train, bits, integer=None, signed=None):
    """The first layer's grid: signed when the training data has a negative value (unless ``signed`` is
    given); ``integer`` the fewest integer bits whose top holds the largest magnitude (unless given); the
    fraction bits are what is left of ``bits``."""
    x = np.asarray(x_train, np.float64)
    if signed is None:
        signed = bool(x.size) and bool(np.min(x) < 0)
    if integer is None:
        peak = float(np.max(np.abs(x) if signed else np.maximum(x, 0), initial=0.0))
        if peak == 0:
            integer = bits
        else:
            integer = math.ceil(math.log2(peak / (1 - 2.0**-bits)))
            while (2.0**bits - 1) * 2.0 ** (integer - bits) < peak:  # a float log can land one low
                integer += 1
            while (2.0**bits - 1) * 2.0 ** (integer - 1 - bits) >= peak:
                integer -= 1
    return InputGrid(int(bits), int(integer), bool(signed))
