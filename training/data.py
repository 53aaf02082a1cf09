"""Data sets: scikit-learn's digits (embedded default) or a user's ``.npz``."""

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    input_shape: tuple  # one sample's natural shape; x holds one flat row per sample

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


def load(source, seed=0):
    return load_digits(seed) if source == "digits" else load_npz(source)
