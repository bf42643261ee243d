"""A loaded data set, its errors, and the checks every source applies to labels, features and groups."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from ..refusal import refusal


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
    feature_names: list[str] | None = None  # each column's name (epochs: <channel>@<time>), where known
    epochs: object = None  # epochs.EpochsArrays: the trials and times, for time windows (source: epochs)
    group_fingerprints: dict | None = None  # per group (subject), the fingerprint of its own data, where known
    split_groups: np.ndarray | None = None  # split.group within split.within (e.g. each trial's run): data/run_folds.py


def digest_arrays(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def digest_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file_digest(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def encode_labels(raw: np.ndarray, where: str, class_names=None) -> tuple[np.ndarray, list[str]]:
    if raw.size and np.issubdtype(raw.dtype, np.floating) and np.isnan(raw.astype(np.float64)).any():
        raise DataError(refusal(where, "labels contain missing values (NaN)", "drop or label those rows"))
    if raw.dtype == object and any(v is None or (isinstance(v, float) and np.isnan(v)) for v in raw):
        raise DataError(refusal(where, "labels contain missing values", "drop or label those rows"))
    values, y = np.unique(raw, return_inverse=True)
    names = [str(v) for v in values]
    if class_names is not None:
        if (
            np.issubdtype(raw.dtype, np.integer)
            and int(values.min(initial=0)) >= 0
            and len(class_names) > int(values.max(initial=0))
        ):
            return raw.astype(np.int64), list(map(str, class_names))
        raise DataError(
            refusal(
                where,
                f"class_names given, but labels are not integers 0..{len(class_names) - 1}",
                "remove class_names or recode the labels",
            )
        )
    return y.astype(np.int64), names


def checked_groups(values: np.ndarray, where: str, column: str) -> np.ndarray:
    """Group labels as text (subject 7 and "7" are one group); missing ones refused."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values.tolist()):
        raise DataError(refusal(where, f"group column {column} has missing values", "give every row its group"))
    return np.array([str(v) for v in values.tolist()], dtype=object)


def checked_features(x: np.ndarray, where: str, names: list[str] | None = None) -> np.ndarray:
    finite = np.isfinite(x)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        kind = "NaN" if np.isnan(x[row, col]) else "inf"
        column = f"column {names[col]!r}" if names else f"feature {col}"
        raise DataError(
            refusal(
                where,
                f"features contain {kind} (first in {column}, data row {row + 1};"
                f" {int((~finite).sum())} values in all)",
                "impute or drop those rows",
            )
        )
    return x.astype(np.float32)
