"""Data sources, one module per kind (builtin, files), and splits of a loaded data set.

    dataset.py   Dataset, DataError, the label/feature/group checks every source applies
    builtin.py   the notebook's made-up blobs, scikit-learn's toy sets
    files.py     a user's CSV/TSV/Parquet/NPZ file
    epochs.py    MNE epochs files (one per subject), time windows (mne imported only there)
    splits.py    holdout and cross-validation splits, permutations, standardization

A source is one `registry.SOURCES` entry whose `loader` names `module.function` here; the
function takes the resolved data set entry and the split's group column.
"""

from __future__ import annotations

import importlib

from .. import registry
from .dataset import Dataset, DataError, file_digest
from .files import count_groups, group_values
from .splits import Splits, class_weights, make_splits, one_hot, split_seed

__all__ = [
    "Dataset",
    "DataError",
    "Splits",
    "class_weights",
    "count_groups",
    "file_digest",
    "group_values",
    "load_dataset",
    "make_splits",
    "one_hot",
    "read_features",
    "split_seed",
]


def load_dataset(spec: dict, group: str | None = None) -> Dataset:
    """Load the data set a resolved config entry describes (with its group column, if named)."""
    module, function = registry.SOURCES[spec["source"]].loader.rsplit(".", 1)
    return getattr(importlib.import_module(f".{module}", __name__), function)(spec, group)


def read_features(spec: dict, path: str, feature_names: list[str] | None, n_features: int, ignore: tuple = ()):
    """New feature rows for a model trained on this data set, from a file of its kind (the
    source's `reader`); DataError naming file, column and fix otherwise."""
    module, function = registry.SOURCES[spec["source"]].reader.rsplit(".", 1)
    return getattr(importlib.import_module(f".{module}", __name__), function)(
        spec, path, feature_names, n_features, ignore
    )
