"""Complete models: a run's trained weights with its training rows' standardization in front.

A run trains on features standardized with the mean and scale of its training rows
(`data.make_splits`); its exported `model.keras` starts with a Keras `Normalization` layer
holding them, so it maps raw feature rows to class probabilities, and `model.json` beside it
names the classes (the output units, in order) and the features (the input columns).

Keras's Normalization divides by max(sqrt(variance), 1e-7). A feature whose training scale is
outside [1e-6, 1e6] (e.g. EEG band power in V^2, ~1e-12) would be clamped or lose float32
range, so for those features the layer divides by 1 and the first Dense layer's kernel rows
are divided by the scale instead: the same function, exactly representable in float32.

`upgrade_run` gives a run made before complete models existed its complete model, from its
stored weights and its split recomputed from the stored config; nothing is trained.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from . import rundir

log = logging.getLogger("mlpsweep")

MODEL_FORMAT = 2  # 1: release 0.1's model.keras (standardized inputs, compiled); 2: complete model + model.json
EXACT_SCALES = (1e-6, 1e6)  # training scales the Normalization layer holds itself; others fold into the first kernel


def standardization(mean: np.ndarray, scale: np.ndarray, weights: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(Normalization layer weights [mean, variance, count], the MLP's weights with the first
    kernel's rows of folded features divided by their scale)."""
    mean = np.asarray(mean, np.float64)
    scale = np.asarray(scale, np.float64)
    held = (scale >= EXACT_SCALES[0]) & (scale <= EXACT_SCALES[1])
    variance = np.where(held, scale, 1.0) ** 2
    kernel = np.asarray(weights[0], np.float64) / np.where(held, 1.0, scale)[:, None]
    norm = [mean.astype(np.float32), variance.astype(np.float32), np.array(0, dtype="int64")]
    return norm, [kernel.astype(np.float32), *weights[1:]]


def feature_names_of(feature_names: list[str] | None, n_features: int) -> list[str] | None:
    return None if feature_names is None else [str(n) for n in feature_names][:n_features]


def model_info(record: dict, feature_names: list[str] | None) -> dict:
    """model.json: what the model's inputs and outputs are, and where it comes from."""
    data = record["data"]
    return {
        "model_format": MODEL_FORMAT,
        "inputs": "raw feature rows (float32), in the order of feature_names; standardized inside the model",
        "outputs": "class probabilities (softmax), one unit per class in the order of class_names",
        "class_names": list(data["class_names"]),
        "feature_names": feature_names,
        "n_features": int(data["n_features"]),
        "dataset": record["config"]["dataset"],
        "group_column": (record["config"].get("split") or {}).get("group"),
        "run": record["run"],
        "config_hash": record["config_hash"],
        "data_fingerprint": data.get("fingerprint"),
    }


def save_model(model, path: Path) -> None:
    """Keras saves through a temporary file here: the model appears whole or not at all."""
    from .storage import fsync_dir

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.keras")
    model.save(tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def set_complete_weights(model, weights: list[np.ndarray], mean: np.ndarray, scale: np.ndarray) -> None:
    """Load a run's MLP weights and standardization into a `model.build_classifier` model."""
    norm, mlp = standardization(mean, scale, weights)
    model.set_weights([*norm, *mlp])
    model.get_layer("standardization").finalize_state()  # its mean and variance tensors follow the new weights
