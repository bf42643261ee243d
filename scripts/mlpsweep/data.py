"""Data sources (synthetic, scikit-learn, user files), splits and their preprocessing."""

from __future__ import annotations

import hashlib
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import registry
from .config import file_format


class DataError(ValueError):
    """A data set that cannot be trained on; the message names file, column and fix."""


@dataclass
class Dataset:
    x: np.ndarray  # float32, (n_samples, n_features)
    y: np.ndarray  # int64 class indices, (n_samples,)
    class_names: list[str]
    fingerprint: str  # sha256 of the source file, or of the generated arrays
    groups: np.ndarray | None = None  # each row's group (e.g. subject), never a feature
    where: str = "data"  # what error messages call it: the file, or the data set


@dataclass
class Splits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    test_index: np.ndarray | None = None  # rows of the data set that form the test part
    test_groups: np.ndarray | None = None  # their groups, where the data has groups

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
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


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


def load_file(spec: dict, group: str | None = None) -> Dataset:
    """A user's CSV, TSV, Parquet (label column named in the config) or NPZ file; `group`
    names the column (NPZ: array) that holds each row's group, which is not a feature."""
    path = spec["path"]
    fmt = spec.get("format") or file_format(path)
    where = f"data file {path}"
    entry = f"datasets.{spec.get('name', '<name>')}"
    feature_names = None
    groups = None
    if not Path(path).is_file():
        raise DataError(f"{where}: not found. Fix: check the path in the config's datasets section")
    try:
        if fmt == "npz":
            x, y_raw, groups = _load_npz(path, spec.get("x", "x"), spec.get("y", "y"), where, entry, group)
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
            if group is not None:
                if group not in frame.columns:
                    raise DataError(f"{where}: group column {group!r} is missing (columns: {', '.join(map(str, frame.columns[:20]))}). Fix: set split.group to an existing column")
                groups = _checked_groups(frame[group].to_numpy(), where, repr(group))
            columns = spec.get("features") or [c for c in frame.columns if c not in (label, group)]
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
    return Dataset(x, y, names, file_digest(path), groups, f"dataset '{spec.get('name', path)}' (file {path})")


def _checked_groups(values: np.ndarray, where: str, column: str) -> np.ndarray:
    """Group labels as text (subject 7 and "7" are one group); missing ones refused."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values.tolist()):
        raise DataError(f"{where}: group column {column} has missing values. Fix: give every row its group")
    return np.array([str(v) for v in values.tolist()], dtype=object)


def count_groups(spec: dict, column: str) -> int:
    """How many groups a data file's group column holds (read alone: planning needs it for
    leave_one_group_out, which has one fold per group)."""
    path, fmt = spec["path"], spec.get("format") or file_format(spec["path"])
    where = f"data file {path}"
    try:
        if fmt == "npz":
            with np.load(path, allow_pickle=False) as archive:
                values = archive[column]
        elif fmt == "parquet":
            import pyarrow.parquet as pq

            values = pq.read_table(path, columns=[column]).column(column).to_numpy()
        else:
            import pandas as pd

            values = pd.read_csv(path, sep="," if fmt == "csv" else "\t", usecols=[column])[column].to_numpy()
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{where}: cannot read group column {column!r} ({type(exc).__name__}: {exc}). Fix: set split.group to an existing column") from None
    return len(set(_checked_groups(np.asarray(values), where, repr(column)).tolist()))


def _load_npz(path: str, x_key: str, y_key: str, where: str, entry: str, group_key: str | None = None):
    if not zipfile.is_zipfile(path):
        raise DataError(f"{where}: not an NPZ archive (no zip structure). Fix: write it with numpy.savez, or set {entry}.format to the file's real format")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            for key, role in ((x_key, "x"), (y_key, "y")):
                if key not in names:
                    raise DataError(f"{where}: array {key!r} is missing (arrays: {', '.join(names)}). Fix: set {entry}.{role} to the array's name")
            if group_key is not None and group_key not in names:
                raise DataError(f"{where}: group array {group_key!r} is missing (arrays: {', '.join(names)}). Fix: set split.group to the array's name")
            x = archive[x_key]
            y = archive[y_key]
            groups = archive[group_key] if group_key is not None else None
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
    if groups is not None:
        if groups.shape != y.shape:
            raise DataError(f"{where}: group array {group_key!r} must hold one group per row of {x_key!r}, got shape {groups.shape}. Fix: store one group per sample")
        groups = _checked_groups(groups, where, repr(group_key))
    return x.astype(np.float64), y, groups


def _checked_features(x: np.ndarray, where: str, names: list[str] | None = None) -> np.ndarray:
    finite = np.isfinite(x)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        kind = "NaN" if np.isnan(x[row, col]) else "inf"
        column = f"column {names[col]!r}" if names else f"feature {col}"
        raise DataError(f"{where}: features contain {kind} (first in {column}, data row {row + 1}; {int((~finite).sum())} values in all). Fix: impute or drop those rows")
    return x.astype(np.float32)


def load_dataset(spec: dict, group: str | None = None) -> Dataset:
    """Load the data set a resolved config entry describes (with its group column, if named)."""
    source = spec["source"]
    if source == "synthetic":
        params = {k: spec.get(k, v["default"]) for k, v in registry.SOURCES["synthetic"].keys.items()}
        data = make_synthetic(**params)
    elif source == "sklearn":
        data = load_sklearn(spec["name"])
    else:
        return load_file(spec, group)
    data.where = f"dataset '{spec.get('name', source)}'"
    return data


# ---------------------------------------------------------------- splits


def _classes_present(data: Dataset) -> np.ndarray:
    if len(data.y) == 0:
        raise DataError(f"{data.where}: holds no samples. Fix: add samples")
    counts = np.bincount(data.y, minlength=len(data.class_names))
    if (counts > 0).sum() < 2:
        raise DataError(f"{data.where}: only one class ({data.class_names[int(np.argmax(counts))]!r}) in the labels. Fix: a classifier needs at least two classes")
    return counts[counts > 0]


def _holdout(data: Dataset, validation: float, test: float, seed: int):
    """Stratified train/validation/test rows (as release 0.1 split them)."""
    from sklearn.model_selection import train_test_split

    present = _classes_present(data)
    n, n_classes = len(data.y), len(present)
    n_test = int(np.ceil(test * n))
    n_val = int(np.ceil(validation * (n - n_test)))
    smallest = int(present.min())
    if n_test < n_classes or n_val < n_classes or n - n_test - n_val < n_classes or smallest < 3:
        raise DataError(
            f"{data.where}: {n} samples in {n_classes} classes (smallest class {smallest}) are too few for a stratified split with "
            f"validation={validation} and test={test}. Fix: use more samples (each class needs >= 3, and each split >= one per class)"
        )
    rest, test_idx = train_test_split(np.arange(n), test_size=n_test, stratify=data.y, random_state=seed)
    train_idx, val_idx = train_test_split(rest, test_size=n_val, stratify=data.y[rest], random_state=seed)
    return train_idx, val_idx, test_idx


def _cross_validation_fold(data: Dataset, split: dict, seed: int, fold: int):
    """Training and test rows of one fold: stratified where the method allows, by group where given."""
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold, StratifiedKFold

    present = _classes_present(data)
    method, groups = split["method"], data.groups
    column = f"group column {split['group']!r}"
    if method == "kfold":
        if int(present.min()) < split["folds"]:
            raise DataError(f"{data.where}: the smallest class has {int(present.min())} rows, too few for {split['folds']} stratified folds. Fix: lower split.folds or add samples")
        splitter, args = StratifiedKFold(split["folds"], shuffle=True, random_state=seed), (data.x, data.y)
    else:
        n_groups = len(set(groups.tolist()))
        needed = split["folds"] if method == "group_kfold" else 2
        if n_groups < needed:
            raise DataError(f"{data.where}: {column} holds {n_groups} groups, fewer than the {needed} {'folds' if method == 'group_kfold' else 'a leave-one-group-out split needs'}. Fix: lower split.folds or use data with more groups")
        if method == "group_kfold":
            splitter, args = StratifiedGroupKFold(split["folds"], shuffle=True, random_state=seed), (data.x, data.y, groups)
        else:
            splitter, args = LeaveOneGroupOut(), (data.x, data.y, groups)
    for i, (train_idx, test_idx) in enumerate(splitter.split(*args)):
        if i == fold:
            return train_idx, test_idx
    raise DataError(f"{data.where}: has no fold {fold} (the data gives fewer folds than planned). Fix: run the sweep again so it plans the folds anew")


def _validation_rows(data: Dataset, train_idx: np.ndarray, validation: float, seed: int):
    """Cut the validation part from a fold's training rows: stratified, or whole groups."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    if data.groups is None:
        n_val = max(int(np.ceil(validation * len(train_idx))), len(np.unique(data.y[train_idx])))
        try:
            return train_test_split(train_idx, test_size=n_val, stratify=data.y[train_idx], random_state=seed)
        except ValueError as exc:
            raise DataError(f"{data.where}: a fold's training part is too small to cut a stratified validation part ({exc}). Fix: use fewer folds or more samples") from None
    groups = data.groups[train_idx]
    if len(set(groups.tolist())) < 2:
        raise DataError(f"{data.where}: a fold's training part holds one group, so no group is left for validation. Fix: use data with more groups or fewer folds")
    keep, val = next(GroupShuffleSplit(n_splits=1, test_size=validation, random_state=seed).split(train_idx, groups=groups))
    return train_idx[keep], train_idx[val]


def _permuted(y: np.ndarray, rows: np.ndarray, groups: np.ndarray | None, seed: int, permutation: int) -> np.ndarray:
    """Labels with those of `rows` shuffled among themselves (within each group, where given)."""
    rng = np.random.default_rng([int(seed), int(permutation), 0x7065726D])  # 'perm'
    y = y.copy()
    blocks = [rows] if groups is None else [rows[groups[rows] == g] for g in sorted(set(groups[rows].tolist()))]
    for block in blocks:
        y[block] = y[rng.permutation(block)]
    return y


def split_seed(split: dict, seed: int) -> int:
    """The seed a run's split is drawn with: `split.seed` if set (one split for every run
    seed), else the run's seed."""
    return seed if split.get("seed") is None else split["seed"]


def make_splits(data: Dataset, split: dict, seed: int, fold: int | None = None, permutation: int | None = None) -> Splits:
    """The training, validation and test parts of one run; standardization fitted on its
    training rows alone. A permutation run trains on labels shuffled within its training
    rows (and within groups), and is tested on the true labels."""
    from sklearn.preprocessing import StandardScaler

    seed = split_seed(split, seed)
    method = split.get("method", "holdout")
    if method == "holdout":
        train_idx, val_idx, test_idx = _holdout(data, split["validation"], split["test"], seed)
    else:
        fit_idx, test_idx = _cross_validation_fold(data, split, seed, fold)
        train_idx, val_idx = _validation_rows(data, fit_idx, split["validation"], seed)
    y = data.y
    if permutation is not None:
        y = _permuted(y, np.concatenate([train_idx, val_idx]), data.groups, seed, permutation)
    missing = sorted(set(range(len(data.class_names))) - set(y[train_idx].tolist()) - set(np.flatnonzero(np.bincount(data.y, minlength=len(data.class_names)) == 0).tolist()))
    if missing:
        names = ", ".join(repr(data.class_names[c]) for c in missing)
        raise DataError(f"{data.where}: the training part of fold {fold} has no row of class {names} (its groups hold other classes only). Fix: use fewer folds, or data where each group holds every class")
    scaler = StandardScaler().fit(data.x[train_idx])

    def scale(rows):
        return scaler.transform(data.x[rows]).astype(np.float32)

    test_groups = None if data.groups is None else data.groups[test_idx]
    return Splits(scale(train_idx), y[train_idx], scale(val_idx), y[val_idx], scale(test_idx), data.y[test_idx], data.class_names, test_idx, test_groups)


def class_weights(y_train: np.ndarray, n_classes: int, mode: str) -> np.ndarray | None:
    """Per-class loss weights from the training rows (scikit-learn's 'balanced'), or None."""
    if mode == "none":
        return None
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(y_train)
    weights = np.ones(n_classes, np.float32)
    weights[present] = compute_class_weight(mode, classes=present, y=y_train)
    return weights


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype=np.float32)[y]
