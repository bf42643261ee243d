"""A user's data file: CSV, TSV, Parquet (label column named in the config) or NPZ."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..config import file_format
from .dataset import Dataset, DataError, checked_features, checked_groups, encode_labels, file_digest


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
                groups = checked_groups(frame[group].to_numpy(), where, repr(group))
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
    y, names = encode_labels(np.asarray(y_raw), where, spec.get("class_names"))
    x = checked_features(x, where, feature_names)
    return Dataset(x, y, names, file_digest(path), groups, f"dataset '{spec.get('name', path)}' (file {path})")


def count_groups(spec: dict, column: str) -> int:
    """How many groups a data file's group column holds (read alone: planning needs it for
    leave_one_group_out, which has one fold per group)."""
    return len(set(_group_column(spec, column).tolist()))


def group_values(spec: dict, column: str, source: str = "config") -> list[str]:
    """The groups of a data file's group column, sorted (planning: within-group decoding has
    runs per group, named by it, so each must be letters and digits)."""
    from ..config import ConfigError

    values = sorted(set(_group_column(spec, column).tolist()))
    bad = [v for v in values if not v.isalnum() or not v.isascii()]
    if bad:
        raise ConfigError(f"{source}: key 'split.within': group {bad[0]!r} of column {column!r} in {spec['path']} cannot name a run directory (sub-<group>_seed0...). Fix: recode the groups as letters and digits (e.g. 01, 02)")
    return values


def _group_column(spec: dict, column: str) -> np.ndarray:
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
    return checked_groups(np.asarray(values), where, repr(column))


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
        groups = checked_groups(groups, where, repr(group_key))
    return x.astype(np.float64), y, groups
