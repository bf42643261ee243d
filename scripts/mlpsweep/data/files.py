"""A user's data file: CSV, TSV, Parquet (label column named in the config) or NPZ."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..config import file_format, separator_mismatch, table_sep
from ..refusal import refusal
from .dataset import Dataset, DataError, checked_features, checked_groups, encode_labels, file_digest


def _features(frame, where: str) -> np.ndarray:
    import pandas as pd

    bad = [
        c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    ]
    if bad:
        col = bad[0]
        sample = frame[col].dropna().astype(str).head(1).tolist()
        raise DataError(
            refusal(
                where,
                f"feature column {col!r} is not numeric (e.g. {sample[0] if sample else 'empty'!r})",
                "encode it as numbers or list only numeric columns under 'features'",
            )
        )
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
        raise DataError(refusal(where, "not found", "check the path in the config's datasets section"))
    try:
        if fmt == "npz":
            x, y_raw, groups = _load_npz(path, spec.get("x", "x"), spec.get("y", "y"), where, entry, group)
        else:
            import pandas as pd

            try:
                frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path, sep=table_sep(spec, fmt))
            except Exception as exc:
                raise DataError(
                    refusal(
                        where,
                        f"cannot be read as {fmt} ({type(exc).__name__}: {str(exc).strip()})",
                        f"check the file's format or set {entry}.format",
                    )
                ) from None
            if frame.empty:
                raise DataError(
                    refusal(
                        where,
                        "has a header but no data rows",
                        f"add samples, or point {entry}.path at the right file",
                    )
                )
            label = spec["label"]
            wrong = separator_mismatch(list(frame.columns), table_sep(spec, fmt), entry) if fmt != "parquet" else None
            if wrong and label not in frame.columns:
                raise DataError(refusal(where, *wrong))
            if label not in frame.columns:
                raise DataError(
                    refusal(
                        where,
                        f"label column {label!r} is missing (columns: {', '.join(map(str, frame.columns[:20]))})",
                        f"set {entry}.label to an existing column",
                    )
                )
            if group is not None:
                if group not in frame.columns:
                    raise DataError(
                        refusal(
                            where,
                            f"group column {group!r} is missing (columns: {', '.join(map(str, frame.columns[:20]))})",
                            "set split.group to an existing column",
                        )
                    )
                groups = checked_groups(frame[group].to_numpy(), where, repr(group))
            left_out = (label, group, *(spec.get("drop") or ()))
            columns = spec.get("features") or [c for c in frame.columns if c not in left_out]
            if not columns:
                raise DataError(
                    refusal(where, f"no feature columns besides the label {label!r}", "add feature columns")
                )
            x = _features(frame[columns], where)
            y_raw = frame[label].to_numpy()
            feature_names = [str(c) for c in columns]
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(refusal(where, f"cannot be read ({type(exc).__name__}: {exc})", "check the file")) from None
    if len(x) == 0:
        raise DataError(refusal(where, "holds no samples", f"add samples, or point {entry}.path at the right file"))
    y, names = encode_labels(np.asarray(y_raw), where, spec.get("class_names"))
    x = checked_features(x, where, feature_names)
    return Dataset(
        x, y, names, file_digest(path), groups, f"dataset '{spec.get('name', path)}' (file {path})", feature_names
    )


def count_groups(spec: dict, column: str) -> int:
    """How many groups a data file's group column holds (read alone: planning needs it for
    leave_one_group_out, which has one fold per group)."""
    return len(set(_group_column(spec, column).tolist()))


def group_values(spec: dict, column: str, source: str = "config") -> list[str]:
    """The groups of a data file's group column, sorted (planning: within-group decoding has
    runs per group, named by it, so each must be letters and digits, after a BIDS `sub-`)."""
    from ..config import ConfigError
    from ..rundir import subject_segment

    values = sorted(set(_group_column(spec, column).tolist()))
    bad = [v for v in values if not subject_segment(v).isalnum() or not v.isascii()]
    if bad:
        problem = f"group {bad[0]!r} of column {column!r} in {spec['path']} cannot name a run directory"
        fix = "recode the groups as letters and digits (e.g. 01, 02, or BIDS sub-01, sub-02)"
        raise ConfigError(refusal(source, f"{problem} (sub-<group>_seed0...)", fix, key="split.within"))
    named: dict = {}
    for value in values:
        if subject_segment(value) in named:
            problem = f"groups {named[subject_segment(value)]!r} and {value!r} of column {column!r} in {spec['path']}"
            problem += f" would share run directories (sub-{subject_segment(value)}_seed0...)"
            fix = "recode the groups so that each is written one way"
            raise ConfigError(refusal(source, problem, fix, key="split.within"))
        named[subject_segment(value)] = value
    return values


def column_values(spec: dict, column: str) -> np.ndarray:
    """One column of a data file as text, read alone (data/run_folds.py: groups within subjects)."""
    return _group_column(spec, column)


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

            values = pd.read_csv(path, sep=table_sep(spec, fmt), usecols=[column])[column].to_numpy()
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(
            refusal(
                where,
                f"cannot read group column {column!r} ({type(exc).__name__}: {exc})",
                "set split.group to an existing column",
            )
        ) from None
    return checked_groups(np.asarray(values), where, repr(column))


def _load_npz(path: str, x_key: str, y_key: str, where: str, entry: str, group_key: str | None = None):
    if not zipfile.is_zipfile(path):
        raise DataError(
            refusal(
                where,
                "not an NPZ archive (no zip structure)",
                f"write it with numpy.savez, or set {entry}.format to the file's real format",
            )
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            for key, role in ((x_key, "x"), (y_key, "y")):
                if key not in names:
                    raise DataError(
                        refusal(
                            where,
                            f"array {key!r} is missing (arrays: {', '.join(names)})",
                            f"set {entry}.{role} to the array's name",
                        )
                    )
            if group_key is not None and group_key not in names:
                raise DataError(
                    refusal(
                        where,
                        f"group array {group_key!r} is missing (arrays: {', '.join(names)})",
                        "set split.group to the array's name",
                    )
                )
            x = archive[x_key]
            y = archive[y_key]
            groups = archive[group_key] if group_key is not None else None
            for key, value in ((x_key, x), (y_key, y)):
                if not isinstance(value, np.ndarray):  # NpzFile hands back raw bytes of a member that is no .npy
                    raise DataError(
                        refusal(where, f"member {key!r} is not a NumPy array", "write the file with numpy.savez")
                    )
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(
                refusal(
                    where,
                    "arrays hold Python objects, which would need pickle (refused for safety)",
                    "save numeric arrays, e.g. np.savez(path, x=x.astype('float32'), y=y.astype('int64'))",
                )
            ) from None
        raise DataError(refusal(where, f"not a valid NPZ file ({exc})", "write it with numpy.savez")) from None
    except Exception as exc:  # zipfile.BadZipFile and friends
        raise DataError(
            refusal(where, f"not a valid NPZ file ({type(exc).__name__}: {exc})", "write it with numpy.savez")
        ) from None
    if x.ndim != 2:
        raise DataError(
            refusal(where, f"array {x_key!r} must be 2-D (samples x features), got shape {x.shape}", "reshape it")
        )
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(
            refusal(
                where,
                f"array {y_key!r} must be 1-D with one label per row of {x_key!r}, got shape {y.shape}",
                "store one label per sample",
            )
        )
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(refusal(where, f"array {x_key!r} is not numeric (dtype {x.dtype})", "store numbers"))
    if groups is not None:
        if groups.shape != y.shape:
            raise DataError(
                refusal(
                    where,
                    f"group array {group_key!r} must hold one group per row of {x_key!r}, got shape {groups.shape}",
                    "store one group per sample",
                )
            )
        groups = checked_groups(groups, where, repr(group_key))
    return x.astype(np.float64), y, groups


def input_kind(spec: dict, feature_names: list[str] | None) -> str:
    """What rows a model of this data set takes: "table" (named columns) or "npz" (an array)."""
    if spec.get("source") == "file":
        return "npz" if (spec.get("format") or file_format(spec["path"])) == "npz" else "table"
    return "table" if feature_names else "npz"


def read_features(
    spec: dict, path: str, feature_names: list[str] | None, n_features: int, ignore: tuple = ()
) -> np.ndarray:
    """New rows for a trained model, read from a file of the data set's kind: a table's
    feature columns by name (columns in `ignore`, e.g. the label and the group, are skipped),
    or an NPZ array of `n_features` columns. Refused with file, column and fix otherwise."""
    where = f"new data file {path}"
    kind = input_kind(spec, feature_names)
    fmt = file_format(path)
    if not Path(path).is_file():
        raise DataError(refusal(where, "not found", "check the path"))
    if fmt is None:
        raise DataError(
            refusal(
                where,
                "unknown kind of file",
                f"give a {'CSV, TSV or Parquet table' if kind == 'table' else 'NPZ file'}",
            )
        )
    if (fmt == "npz") != (kind == "npz"):
        fix = (
            f"give a CSV, TSV or Parquet table with the feature columns {_names(feature_names)}"
            if kind == "table"
            else f"save the rows as an NPZ file with array {spec.get('x', 'x')!r} (rows x {n_features} features)"
        )
        raise DataError(
            refusal(
                where,
                f"is {'an NPZ archive' if fmt == 'npz' else 'a table'}, but the model was trained on"
                f" {'a table with named feature columns' if kind == 'table' else 'an NPZ array'}",
                fix,
            )
        )
    if kind == "npz":
        key = spec.get("x", "x")
        x, _, _ = _load_npz_features(path, key, where)
        if x.shape[1] != n_features:
            raise DataError(
                refusal(
                    where,
                    f"array {key!r} has {x.shape[1]} features per row, the model takes {n_features}",
                    "give the same features as the data set the model was trained on",
                )
            )
        return checked_features(x, where)
    import pandas as pd

    try:
        # the data set's `sep` is for files of its own format
        sep = table_sep(spec if fmt == (spec.get("format") or file_format(spec.get("path", ""))) else {}, fmt)
        frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path, sep=sep)
    except Exception as exc:
        raise DataError(
            refusal(
                where,
                f"cannot be read as {fmt} ({type(exc).__name__}: {str(exc).strip()})",
                "check the file's format",
            )
        ) from None
    columns = [str(c) for c in frame.columns]
    missing = [n for n in feature_names if n not in columns]
    if missing:
        raise DataError(
            refusal(
                where,
                f"feature column{'s' if len(missing) > 1 else ''} {_names(missing)} missing"
                f" ({len(missing)} of the model's {len(feature_names)})",
                "add them (model.json lists the model's features)",
            )
        )
    extra = [c for c in columns if c not in feature_names and c not in ignore]
    if extra:
        raise DataError(
            refusal(
                where,
                f"column{'s' if len(extra) > 1 else ''} {_names(extra)} {'are' if len(extra) > 1 else 'is'} not among"
                " the model's features",
                f"drop {'them' if len(extra) > 1 else 'it'}, or give the file the data set's columns",
            )
        )
    if frame.empty:
        raise DataError(refusal(where, "has a header but no data rows", "add rows"))
    frame.columns = columns
    return checked_features(_features(frame[feature_names], where), where, feature_names)


def _names(names) -> str:
    names = [repr(str(n)) for n in (names or [])]
    return ", ".join(names[:10]) + (f", ... ({len(names)} in all)" if len(names) > 10 else "")


def _load_npz_features(path: str, key: str, where: str):
    if not zipfile.is_zipfile(path):
        raise DataError(refusal(where, "not an NPZ archive (no zip structure)", "write it with numpy.savez"))
    try:
        with np.load(path, allow_pickle=False) as archive:
            if key not in archive.files:
                raise DataError(
                    refusal(
                        where,
                        f"array {key!r} is missing (arrays: {', '.join(archive.files)})",
                        f"store the rows as array {key!r}",
                    )
                )
            x = archive[key]
    except DataError:
        raise
    except Exception as exc:
        raise DataError(
            refusal(
                where,
                f"not a valid NPZ file ({type(exc).__name__}: {exc})",
                "write it with numpy.savez of numeric arrays",
            )
        ) from None
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
        raise DataError(
            refusal(
                where,
                f"array {key!r} must be a 2-D numeric array (rows x features), got shape {x.shape}, dtype {x.dtype}",
                "reshape or convert it",
            )
        )
    return x.astype(np.float64), None, None
