"""Data sources (synthetic, scikit-learn, user files) and their preprocessing."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import DATASET_KEYS, file_format


class DataError(ValueError):
    """A data set that cannot be trained on; the message names file, column and fix."""


@dataclass
class Dataset:
    x: np.ndarray  # float32, (n_samples, n_features)
    y: np.ndarray  # int64 class indices, (n_samples,)
    class_names: list[str]
    fingerprint: str  # sha256 of the source file, or of the generated arrays


@dataclass
class Splits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def _digest_arrays(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_synthetic(n_samples=1000, n_features=20, n_classes=2, separation=1.5, noise=1.0, seed=0, class_names=None) -> Dataset:
    """The notebook's made-up "good vs bad" data: Gaussian blobs around random class centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, n_features))
    centres *= separation / np.linalg.norm(centres, axis=1, keepdims=True).clip(min=1e-12)
    y = np.arange(n_samples) % n_classes
    rng.shuffle(y)
    x = centres[y] + noise * rng.normal(size=(n_samples, n_features))
    if class_names is None:
        class_names = ["good", "bad"] if n_classes == 2 else [f"class{i}" for i in range(n_classes)]
    x = x.astype(np.float32)
    y = y.astype(np.int64)
    return Dataset(x, y, list(map(str, class_names)), _digest_arrays(x, y))


def load_sklearn(name: str) -> Dataset:
    from sklearn import datasets

    loader = {"digits": datasets.load_digits, "wine": datasets.load_wine, "breast_cancer": datasets.load_breast_cancer, "iris": datasets.load_iris}[name]
    bunch = loader()
    x = bunch.data.astype(np.float32)
    y = bunch.target.astype(np.int64)
    return Dataset(x, y, [str(n) for n in bunch.target_names], _digest_arrays(x, y))


def _encode_labels(raw: np.ndarray, where: str, class_names=None) -> tuple[np.ndarray, list[str]]:
    if raw.size and np.issubdtype(raw.dtype, np.floating) and np.isnan(raw.astype(np.float64)).any():
        raise DataError(f"{where}: labels contain missing values (NaN). Fix: drop or label those rows")
    if raw.dtype == object and any(v is None or (isinstance(v, float) and np.isnan(v)) for v in raw):
        raise DataError(f"{where}: labels contain missing values. Fix: drop or label those rows")
    values, y = np.unique(raw, return_inverse=True)
    names = [str(v) for v in values]
    if class_names is not None:
        if np.issubdtype(raw.dtype, np.integer) and int(values.min(initial=0)) >= 0 and len(class_names) > int(values.max(initial=0)):
            return raw.astype(np.int64), list(map(str, class_names))
        raise DataError(f"{where}: class_names given, but labels are not integers 0..{len(class_names) - 1}. Fix: remove class_names or recode the labels")
    return y.astype(np.int64), names


def _features(frame, where: str) -> np.ndarray:
    import pandas as pd

    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])]
    if bad:
        col = bad[0]
        sample = frame[col].dropna().astype(str).head(1).tolist()
        raise DataError(f"{where}: feature column {col!r} is not numeric (e.g. {sample[0] if sample else 'empty'!r}). Fix: encode it as numbers or list only numeric columns under 'features'")
    return frame.to_numpy(dtype=np.float64)


def load_file(spec: dict) -> Dataset:
    """A user's CSV, TSV, Parquet (label column named in the config) or NPZ file."""
    path = spec["path"]
    fmt = spec.get("format") or file_format(path)
    where = f"data file {path}"
    entry = f"datasets.{spec.get('name', '<name>')}"
    feature_names = None
    if not Path(path).is_file():
        raise DataError(f"{where}: not found. Fix: check the path in the config's datasets section")
    try:
        if fmt == "npz":
            x, y_raw = _load_npz(path, spec.get("x", "x"), spec.get("y", "y"), where, entry)
        else:
            import pandas as pd

            try:
                frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path, sep="," if fmt == "csv" else "\t")
            except Exception as exc:
                raise DataError(f"{where}: cannot be read as {fmt} ({type(exc).__name__}: {str(exc).strip()}). Fix: check the file's format or set {entry}.format") from None
            if frame.empty:
                raise DataError(f"{where}: has a header but no data rows. Fix: add samples, or point {entry}.path at the right file")
            label = spec["label"]
            if label not in frame.columns:
                raise DataError(f"{where}: label column {label!r} is missing (columns: {', '.join(map(str, frame.columns[:20]))}). Fix: set {entry}.label to an existing column")
            columns = spec.get("features") or [c for c in frame.columns if c != label]
            if not columns:
                raise DataError(f"{where}: no feature columns besides the label {label!r}. Fix: add feature columns")
            x = _features(frame[columns], where)
            y_raw = frame[label].to_numpy()
            feature_names = [str(c) for c in columns]
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"{where}: cannot be read ({type(exc).__name__}: {exc}). Fix: check the file") from None
    if len(x) == 0:
        raise DataError(f"{where}: holds no samples. Fix: add samples, or point {entry}.path at the right file")
    y, names = _encode_labels(np.asarray(y_raw), where, spec.get("class_names"))
    x = _checked_features(x, where, feature_names)
    return Dataset(x, y, names, file_digest(path))


def _load_npz(path: str, x_key: str, y_key: str, where: str, entry: str):
    if not zipfile.is_zipfile(path):
        raise DataError(f"{where}: not an NPZ archive (no zip structure). Fix: write it with numpy.savez, or set {entry}.format to the file's real format")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            for key, role in ((x_key, "x"), (y_key, "y")):
                if key not in names:
                    raise DataError(f"{where}: array {key!r} is missing (arrays: {', '.join(names)}). Fix: set {entry}.{role} to the array's name")
            x = archive[x_key]
            y = archive[y_key]
            for key, value in ((x_key, x), (y_key, y)):
                if not isinstance(value, np.ndarray):  # NpzFile hands back raw bytes of a member that is no .npy
                    raise DataError(f"{where}: member {key!r} is not a NumPy array. Fix: write the file with numpy.savez")
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(f"{where}: arrays hold Python objects, which would need pickle (refused for safety). Fix: save numeric arrays, e.g. np.savez(path, x=x.astype('float32'), y=y.astype('int64'))") from None
        raise DataError(f"{where}: not a valid NPZ file ({exc}). Fix: write it with numpy.savez") from None
    except Exception as exc:  # zipfile.BadZipFile and friends
        raise DataError(f"{where}: not a valid NPZ file ({type(exc).__name__}: {exc}). Fix: write it with numpy.savez") from None
    if x.ndim != 2:
        raise DataError(f"{where}: array {x_key!r} must be 2-D (samples x features), got shape {x.shape}. Fix: reshape it")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{where}: array {y_key!r} must be 1-D with one label per row of {x_key!r}, got shape {y.shape}. Fix: store one label per sample")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{where}: array {x_key!r} is not numeric (dtype {x.dtype}). Fix: store numbers")
    return x.astype(np.float64), y


def _checked_features(x: np.ndarray, where: str, names: list[str] | None = None) -> np.ndarray:
    finite = np.isfinite(x)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        kind = "NaN" if np.isnan(x[row, col]) else "inf"
        column = f"column {names[col]!r}" if names else f"feature {col}"
        raise DataError(f"{where}: features contain {kind} (first in {column}, data row {row + 1}; {int((~finite).sum())} values in all). Fix: impute or drop those rows")
    return x.astype(np.float32)


def load_dataset(spec: dict) -> Dataset:
    """Load the data set a resolved config entry describes."""
    source = spec["source"]
    if source == "synthetic":
        params = {k: spec.get(k, default) for k, default in DATASET_KEYS["synthetic"].items() if k != "source"}
        return make_synthetic(**params)
    if source == "sklearn":
        return load_sklearn(spec["name"])
    return load_file(spec)


def split_and_scale(data: Dataset, validation: float, test: float, seed: int, where: str = "data") -> Splits:
    """Stratified train/validation/test split; standardization fitted on training rows only."""
    from sklearn.model_selection import train_test_split

    if len(data.y) == 0:
        raise DataError(f"{where}: holds no samples. Fix: add samples")
    counts = np.bincount(data.y, minlength=len(data.class_names))
    present = counts[counts > 0]
    if len(present) < 2:
        raise DataError(f"{where}: only one class ({data.class_names[int(np.argmax(counts))]!r}) in the labels. Fix: a classifier needs at least two classes")
    n = len(data.y)
    n_classes = len(present)
    n_test = int(np.ceil(test * n))
    n_val = int(np.ceil(validation * (n - n_test)))
    smallest = int(present.min())
    if n_test < n_classes or n_val < n_classes or n - n_test - n_val < n_classes or smallest < 3:
        raise DataError(
            f"{where}: {n} samples in {n_classes} classes (smallest class {smallest}) are too few for a stratified split with "
            f"validation={validation} and test={test}. Fix: use more samples (each class needs >= 3, and each split >= one per class)"
        )
    idx = np.arange(n)
    rest, test_idx = train_test_split(idx, test_size=n_test, stratify=data.y, random_state=seed)
    train_idx, val_idx = train_test_split(rest, test_size=n_val, stratify=data.y[rest], random_state=seed)
    x_train = data.x[train_idx]
    mean = x_train.mean(axis=0, dtype=np.float64)
    std = x_train.std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0  # constant features stay zero instead of dividing by zero

    def scale(a):
        return ((a - mean) / std).astype(np.float32)

    return Splits(scale(x_train), data.y[train_idx], scale(data.x[val_idx]), data.y[val_idx], scale(data.x[test_idx]), data.y[test_idx], data.class_names)


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype=np.float32)[y]
