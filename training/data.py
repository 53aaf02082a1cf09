"""Data sets: scikit-learn's digits (embedded default) or a user's ``.npz``."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
        raise FileNotFoundError(f"data file {path} does not exist")
    with np.load(path) as f:
        missing = [k for k in NPZ_KEYS if k not in f]
        if missing:
            raise ValueError(f"{path}: missing arrays {missing}; an .npz needs {', '.join(NPZ_KEYS)}")
        arrays = {k: f[k] for k in NPZ_KEYS}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x) != len(y):
            raise ValueError(f"{path}: x_{split} has {len(x)} rows but y_{split} has {len(y)}")
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise ValueError(f"{path}: y_{split} must be a 1-D array of non-negative integer class labels")
    return Dataset(
        arrays["x_train"].reshape(len(arrays["x_train"]), -1).astype(np.float32),
        arrays["y_train"].astype(np.int64),
        arrays["x_test"].reshape(len(arrays["x_test"]), -1).astype(np.float32),
        arrays["y_test"].astype(np.int64),
        path.stem,
        tuple(arrays["x_train"].shape[1:]),
    )


def load(source, seed=0):
    return load_digits(seed) if source == "digits" else load_npz(source)
