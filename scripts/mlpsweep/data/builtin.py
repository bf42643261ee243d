"""Data sets that ship with mlpsweep: the notebook's made-up blobs and scikit-learn's toy sets."""

from __future__ import annotations

import numpy as np

from .. import registry
from .dataset import Dataset, digest_arrays


def make_synthetic(
    n_samples=1000, n_features=20, n_classes=2, separation=1.5, noise=1.0, seed=0, class_names=None
) -> Dataset:
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
    return Dataset(x, y, list(map(str, class_names)), digest_arrays(x, y))


def load_sklearn(name: str) -> Dataset:
    from sklearn import datasets

    loader = {
        "digits": datasets.load_digits,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "iris": datasets.load_iris,
    }[name]
    bunch = loader()
    x = bunch.data.astype(np.float32)
    y = bunch.target.astype(np.int64)
    return Dataset(
        x,
        y,
        [str(n) for n in bunch.target_names],
        digest_arrays(x, y),
        feature_names=[str(n) for n in bunch.feature_names],
    )


def load_synthetic_source(spec: dict, group: str | None = None) -> Dataset:
    """`source: synthetic` (a generated data set has no group column)."""
    params = {k: spec.get(k, v["default"]) for k, v in registry.SOURCES["synthetic"].keys.items()}
    data = make_synthetic(**params)
    data.where = f"dataset '{spec.get('name', 'synthetic')}'"
    return data


def load_sklearn_source(spec: dict, group: str | None = None) -> Dataset:
    """`source: sklearn`."""
    data = load_sklearn(spec["name"])
    data.where = f"dataset '{spec.get('name', 'sklearn')}'"
    return data
