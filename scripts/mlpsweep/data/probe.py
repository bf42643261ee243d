"""What planning needs to know of a data set without loading it: its rows, features and
classes (for the memory a pack needs, sizing.py), and whether a table's feature columns are
numeric (from its header and a sample of rows). Cheap: a file is never read whole here but an
NPZ's label array; a CSV/TSV's rows are estimated from its size and the sample's line length.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import file_format, table_sep
from ..refusal import refusal
from .dataset import DataError

SAMPLE_ROWS = 200  # rows read to check a table's feature columns and to estimate its length

# The scikit-learn data sets' (rows, features, classes): fixed by scikit-learn.
SKLEARN_SHAPES = {"digits": (1797, 64, 10), "wine": (178, 13, 3), "breast_cancer": (569, 30, 2), "iris": (150, 4, 3)}


@dataclass(frozen=True)
class DataShape:
    rows: int
    features: int
    classes: int
    exact: bool = True  # False: rows estimated from the file's size (CSV/TSV)


def shape_of(spec: dict, group: str | None = None) -> DataShape | None:
    """Rows, features and classes of a resolved `dataset` entry, read cheaply (see module doc);
    None where the file cannot be read here (the training job then fails its runs with the
    full reason, as it does for every data problem but this one:) a table's feature columns
    are checked to be numeric on the way (DataError otherwise)."""
    kind = spec.get("source")
    if kind == "synthetic":
        return DataShape(spec["n_samples"], spec["n_features"], spec["n_classes"])
    if kind == "sklearn":
        return DataShape(*SKLEARN_SHAPES[spec["name"]])
    path = spec["path"]
    fmt = spec.get("format") or file_format(path)
    try:
        if kind == "epochs":
            from .epochs import shape  # headers only; mne is imported where a sweep has epochs

            return DataShape(*shape(spec))
        if fmt == "npz":
            return _npz_shape(path, spec.get("x", "x"), spec.get("y", "y"))
        return _table_shape(spec, path, fmt, group)
    except DataError:
        raise
    except Exception:  # unreadable, truncated, not what it says: reported per run by the job
        return None


def _npz_shape(path: str, x_key: str, y_key: str) -> DataShape:
    with zipfile.ZipFile(path) as archive, archive.open(f"{x_key}.npy") as fh:
        version = np.lib.format.read_magic(fh)
        shape, _, _ = _header(fh, version)
    with np.load(path, allow_pickle=False) as arrays:
        classes = len(np.unique(arrays[y_key]))
    rows, features = (tuple(shape) + (1, 1))[:2]
    return DataShape(int(rows), int(features), max(2, classes))


def _header(fh, version):
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    return np.lib.format.read_array_header_2_0(fh)


def _numeric_check(frame, where: str, entry: str) -> None:
    import pandas as pd

    bad = [
        c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    ]
    if bad:
        col = bad[0]
        values = frame[col].dropna()
        sample = (
            values[pd.to_numeric(values, errors="coerce").isna()].astype(str).head(1).tolist()
            or values.astype(str).head(1).tolist()
        )
        raise DataError(
            refusal(
                where,
                f"feature column {col!r} is not numeric"
                f" (e.g. {sample[0] if sample else 'empty'!r} in its first {len(frame)} rows)",
                f"encode it as numbers, or list only numeric columns under {entry}.features",
            )
        )


def _table_shape(spec: dict, path: str, fmt: str, group: str | None) -> DataShape:
    import pandas as pd

    where = f"data file {path}"
    entry = f"datasets.{spec.get('name', '<name>')}"
    label = spec["label"]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        rows = parquet.metadata.num_rows
        sample = next(parquet.iter_batches(batch_size=SAMPLE_ROWS)).to_pandas()
        exact = True
    else:
        sample = pd.read_csv(path, sep=table_sep(spec, fmt), nrows=SAMPLE_ROWS)
        with open(path, "rb") as fh:
            head = [fh.readline() for _ in range(len(sample) + 1)]
        per_line = max(1.0, sum(map(len, head[1:])) / max(1, len(head) - 1))
        rows = (
            len(sample) if len(sample) < SAMPLE_ROWS else int((Path(path).stat().st_size - len(head[0])) / per_line) + 1
        )
        exact = len(sample) < SAMPLE_ROWS
    columns = spec.get("features") or [c for c in sample.columns if c not in (label, group, *(spec.get("drop") or ()))]
    present = [c for c in columns if c in sample.columns]
    _numeric_check(sample[present], where, entry)
    classes = sample[label].nunique() if label in sample.columns else 2
    return DataShape(max(1, rows), max(1, len(columns)), max(2, int(classes)), exact)
