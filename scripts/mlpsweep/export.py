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
stored weights and its split recomputed from the stored config, and a run made before ROC AUC
was recorded its class probabilities and AUC from its saved model; nothing is trained.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from . import record as records
from . import rundir
from .record import Record, feature_names_of
from .refusal import refusal

log = logging.getLogger("mlpsweep")

MODEL_FORMAT = 2  # 1: release 0.1's model.keras (standardized inputs, compiled); 2: complete model + model.json
EXACT_SCALES = (1e-6, 1e6)  # training scales the Normalization layer holds itself; others fold into the first kernel


def standardization(
    mean: np.ndarray, scale: np.ndarray, weights: list[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(Normalization layer weights [mean, variance, count], the MLP's weights with the first
    kernel's rows of folded features divided by their scale)."""
    mean = np.asarray(mean, np.float64)
    scale = np.asarray(scale, np.float64)
    held = (scale >= EXACT_SCALES[0]) & (scale <= EXACT_SCALES[1])
    variance = np.where(held, scale, 1.0) ** 2
    kernel = np.asarray(weights[0], np.float64) / np.where(held, 1.0, scale)[:, None]
    norm = [mean.astype(np.float32), variance.astype(np.float32), np.array(0, dtype="int64")]
    return norm, [kernel.astype(np.float32), *weights[1:]]


def model_info(record: Record, feature_names: list[str] | None) -> dict:
    """model.json: what the model's inputs and outputs are, and where it comes from."""
    data = record.data
    return {
        "model_format": MODEL_FORMAT,
        "inputs": "raw feature rows (float32), in the order of feature_names; standardized inside the model",
        "outputs": "class probabilities (softmax), one unit per class in the order of class_names",
        "class_names": list(data["class_names"]),
        "feature_names": feature_names,
        "n_features": int(data["n_features"]),
        "dataset": record.config["dataset"],
        "group_column": (record.config.get("split") or {}).get("group"),
        "run": record.run,
        "config_hash": record.config_hash,
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


# ---------------------------------------------------------------- upgrading earlier runs

NEAR_TIE = 1e-5  # of probability: a test row whose two top classes are this close may flip with float rounding


class UpgradeError(ValueError):
    """A run whose complete model cannot be made; the message names the run and the fix."""


def resolved_config(stored: dict) -> dict:
    """A stored run config (of any release) with today's defaults filled in where it lacks keys:
    what `data.load_dataset` and `data.make_splits` need. Identity leaves defaults out, so
    filling them changes no run's meaning."""
    from . import identity

    d = identity.defaults()
    dataset = {**d["sources"][stored["dataset"]["source"]], **stored["dataset"]}
    return {
        **stored,
        "dataset": dataset,
        "architecture": {**d["architecture"], **stored["architecture"]},
        "split": {**d["split"], **(stored.get("split") or {})},
    }


AUC_METRICS = ("test_roc_auc", "val_roc_auc")


def upgrade_run(run_dir: Path, data_cache) -> str:
    """Give one finished run a complete model from its stored weights, and its class
    probabilities (predictions.csv's p_<class>) and ROC AUC from its saved model, on its
    recomputed split; 'complete' if it has them, 'upgraded' once done. Trains nothing. The
    recomputed split must reproduce the stored test confusion matrix (up to near-tie rows).
    `data_cache`: a training.DataCache (data, subject, window and split as training made them)."""

    import keras

    from .auc import roc_auc
    from .storage import write_json_atomic, write_text_atomic

    run_dir = Path(run_dir)
    record = records.read(run_dir)
    if record is None or record.status != "finished":
        return "not finished"
    info = rundir.read_model_info(run_dir)
    needs_model = not (info and info.get("model_format", 1) >= MODEL_FORMAT)
    if not needs_model and all(m in record.metrics for m in AUC_METRICS):
        return "complete"
    config = resolved_config(record.config)
    s, fingerprint = data_cache.splits(config)
    if record.data.get("fingerprint") != fingerprint:
        raise UpgradeError(
            refusal(
                run_dir,
                f"its data set ({data_cache.dataset(config).where})"
                " is not the data it was trained on (SHA-256 differs)",
                "run the export where the run's data file is, unchanged"
                " (paths are relative to the directory snakemake ran in)",
            )
        )
    saved = keras.models.load_model(run_dir / rundir.MODEL_FILE, safe_mode=True, compile=False)
    # release 0.1's model takes standardized rows; a complete model the raw rows
    rows = (lambda x: x) if needs_model else (lambda x: (x * s.scale + s.mean).astype(np.float32))
    p = np.asarray(saved.predict(rows(s.x_test), verbose=0), dtype=np.float32)
    p_val = np.asarray(saved.predict(rows(s.x_val), verbose=0), dtype=np.float32)
    predicted = p.argmax(axis=1)
    _check_reproduced(run_dir, record, s, p, predicted)
    names = feature_names_of(s.feature_names, s.n_features)
    if needs_model:
        from .model import build_classifier

        model = build_classifier(config["architecture"], s.n_features, s.n_classes)
        set_complete_weights(model, saved.get_weights(), s.mean, s.scale)
        save_model(model, run_dir / rundir.MODEL_FILE)
        record = records.with_complete_model(record, MODEL_FORMAT, names)
    record = records.with_metrics(
        record, {"test_roc_auc": roc_auc(s.y_test, p), "val_roc_auc": roc_auc(s.y_val, p_val)}
    )
    write_text_atomic(
        run_dir / rundir.PREDICTIONS_FILE,
        rundir.predictions_csv(s.test_index, s.test_groups, s.y_test, predicted, s.class_names, p),
    )
    if needs_model:
        write_json_atomic(run_dir / rundir.MODEL_INFO_FILE, model_info(record, names))
    records.rewrite(run_dir, record)  # last, as training writes it
    return "upgraded"


def _check_reproduced(run_dir: Path, record: Record, s, p: np.ndarray, predicted: np.ndarray) -> None:
    """Refuse a run whose recomputed split and saved model do not give its stored test results."""
    matrix = np.zeros((s.n_classes, s.n_classes), int)
    np.add.at(matrix, (s.y_test, predicted), 1)
    top2 = np.sort(p, axis=1)[:, -2:]
    moved = int(np.abs(matrix - np.array(record.metrics["test_confusion_matrix"])).sum()) // 2
    if moved > int(((top2[:, 1] - top2[:, 0]) < NEAR_TIE).sum()):
        raise UpgradeError(
            refusal(
                run_dir,
                "the split recomputed from its config does not reproduce its stored test results"
                f" ({moved} test rows differ)",
                "none here; this run keeps its old model (it expects standardized rows)",
            )
        )


def upgrade_results(results: str | Path) -> dict[str, str]:
    """upgrade_run for every run directory under `results`; {run path: outcome or error}."""
    results = Path(results)
    from .training import DataCache

    outcomes, cache = {}, DataCache()
    for rel in rundir.discover(results):
        if not (results / rel).is_dir():
            continue  # a compact record (compact.py): no model to upgrade
        try:
            outcomes[rel] = upgrade_run(results / rel, cache)
        except (UpgradeError, ValueError, OSError, KeyError) as exc:
            outcomes[rel] = f"failed: {exc}"
        log.info("%s: %s", rel, outcomes[rel])
    return outcomes
