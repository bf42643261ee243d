"""Fit one run with per-epoch checkpoints, resume, early stopping and divergence detection."""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import shutil
import signal
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import provenance
from .data import DataError, Splits, load_dataset, one_hot, split_and_scale
from .grid import config_hash
from .metrics import classification_metrics, split_metrics
from .storage import read_json, replace_dir_atomic, write_json_atomic, write_text_atomic

log = logging.getLogger("mlpsweep")

METRICS_FILE = "metrics.json"
FAILED_FILE = "failed.json"
CHECKPOINT_DIR = "checkpoint"
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")


class Interrupted(RuntimeError):
    """Training stopped on a signal; the last completed epoch is checkpointed."""


@dataclass
class StopFlag:
    """Set by SIGTERM/SIGUSR1 (preemption, or SLURM's warning before the time limit)."""

    signum: int | None = None

    def __call__(self, signum, frame) -> None:
        self.signum = signum

    @property
    def set(self) -> bool:
        return self.signum is not None

    def install(self) -> "StopFlag":
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(sig, self)
        return self


def configure_tensorflow(threads: int) -> None:
    """Deterministic ops, a thread count matched to the job's cores, and a GPU that is shared."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError as exc:  # TensorFlow already started in this process (tests, notebooks)
        log.warning("TensorFlow already initialized; thread and GPU settings unchanged (%s)", exc)
    tf.config.experimental.enable_op_determinism()


@dataclass
class EarlyStopping:
    patience: int
    monitor: str
    min_delta: float
    best: float | None = None
    best_epoch: int | None = None
    wait: int = 0

    def improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.monitor.endswith("loss"):
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, epoch: int, logs: dict) -> tuple[bool, bool]:
        """(improved, should_stop) after an epoch."""
        value = logs[self.monitor]
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return True, False
        self.wait += 1
        return False, self.patience > 0 and self.wait >= self.patience

    def state(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}


def run_is_finished(run_dir: Path, expected_hash: str, data_fingerprint: str | None = None) -> bool:
    """True if `run_dir` holds a complete result for exactly this config (and data)."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return False
    try:
        done = read_json(path)
    except (OSError, ValueError):
        return False
    if done.get("config_hash") != expected_hash or done.get("status") not in ("finished", "diverged"):
        return False
    return data_fingerprint is None or done.get("data", {}).get("fingerprint") == data_fingerprint


def _reseed_layers(model, seed: int, epoch: int) -> None:
    """Dropout streams restart from (seed, epoch) each epoch: resume stays exact."""
    for layer in model._flatten_layers(include_self=False):
        gen = getattr(layer, "seed_generator", None)
        if gen is not None:
            gen.state.assign(np.array([(seed * 1_000_003 + epoch) % (2**31), 0], dtype=gen.state.dtype))


def _save_arrays(path: Path, arrays) -> None:
    np.savez(path, *arrays)


def _load_arrays(path: Path) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return [z[f"arr_{i}"] for i in range(len(z.files))]


def _load_checkpoint(ckpt: Path, expected_hash: str, model) -> dict | None:
    """Restore weights and optimizer state saved after an epoch into `model` (built and compiled
    from the same config); the checkpoint's state, or None to start afresh."""
    state_path = ckpt / "state.json"
    if not (state_path.is_file() and (ckpt / "weights.npz").is_file() and (ckpt / "optimizer.npz").is_file()):
        return None
    try:
        state = read_json(state_path)
        if state.get("config_hash") != expected_hash:
            log.info("checkpoint in %s belongs to another config; starting afresh", ckpt)
            return None
        weights, slots = _load_arrays(ckpt / "weights.npz"), _load_arrays(ckpt / "optimizer.npz")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("checkpoint in %s is unreadable (%s); starting afresh", ckpt, exc)
        return None
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    if len(weights) != len(model.weights) or len(slots) != len(optimizer.variables):
        log.info("checkpoint in %s does not fit this model; starting afresh", ckpt)
        return None
    model.set_weights(weights)
    for variable, value in zip(optimizer.variables, slots):
        variable.assign(value)
    return state


def _save_checkpoint(ckpt: Path, model, state: dict, best_weights) -> None:
    """Weights, optimizer variables (step count, momenta) and training state after an epoch."""
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    _save_arrays(tmp / "weights.npz", model.get_weights())
    _save_arrays(tmp / "optimizer.npz", [v.numpy() for v in model.optimizer.variables])
    if best_weights is not None:
        _save_arrays(tmp / "best_weights.npz", best_weights)
    # No fsync per epoch (costly on cluster file systems): the directory swap is what is atomic,
    # and a checkpoint that a machine crash left unreadable is discarded when loading.
    write_json_atomic(tmp / "state.json", state, durable=False)
    replace_dir_atomic(tmp, ckpt)


def _history_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (format(row[k], ".6g") if isinstance(row[k], float) else row[k]) for k in HISTORY_COLUMNS})
    return buf.getvalue()


def fit_run(config: dict, splits: Splits, run_dir: Path, *, steps_per_execution: int = 64, stop: StopFlag | None = None, models=None) -> dict:
    """Train and evaluate one run; returns its metrics and training record.

    Checkpoints every completed epoch into `run_dir/checkpoint`; a later call with the
    same config resumes there and reaches the same numbers as an uninterrupted run.
    `models` (a steps.CompiledModels shared by a job's runs) saves re-tracing; the
    returned model then belongs to it and is reused by the next run of its kind.
    """
    from .steps import CompiledModels, epoch_order, seed_run

    stop = stop or StopFlag()
    training = config["training"]
    seed = int(config["seed"])
    expected = config_hash(config)
    ckpt = run_dir / CHECKPOINT_DIR
    seed_run(seed)
    model, steps = (models or CompiledModels()).get(config["architecture"], training, splits.n_features, splits.n_classes, steps_per_execution)
    state = _load_checkpoint(ckpt, expected, model)
    best_weights = None
    resumed_from = None if state is None else state["epoch"]
    if state is None:
        state = {"config_hash": expected, "epoch": 0, "history": [], "early_stopping": {}, "fit_seconds": 0.0, "status": "running"}
    else:
        log.info("resuming %s from epoch %d", run_dir, state["epoch"])
        if (ckpt / "best_weights.npz").is_file():
            best_weights = _load_arrays(ckpt / "best_weights.npz")
    es_cfg = training.get("early_stopping", {})
    early = EarlyStopping(es_cfg.get("patience", 0), es_cfg.get("monitor", "val_loss"), es_cfg.get("min_delta", 0.0), **state["early_stopping"])
    keep_best = bool(es_cfg.get("patience", 0)) and es_cfg.get("restore_best_weights", True)
    epochs = training["epochs"]
    holder = {"best": best_weights}

    def end_of_epoch(epoch: int, logs: dict, seconds: float) -> bool:
        """Record, check and checkpoint a completed epoch; True stops training."""
        row = {"epoch": epoch + 1, "seconds": round(seconds, 4), **{k: float(logs.get(k, math.nan)) for k in HISTORY_COLUMNS if k not in ("epoch", "seconds")}}
        state["history"].append(row)
        state["fit_seconds"] += seconds
        state["epoch"] = epoch + 1
        if not all(math.isfinite(row[k]) for k in ("loss", "val_loss")):
            state["status"] = "diverged"
            log.warning("%s: loss became %s in epoch %d; stopping this run as diverged", run_dir, row["loss"], epoch + 1)
            return True
        improved, should_stop = early.update(epoch + 1, row)
        if improved and keep_best:
            holder["best"] = [w.copy() for w in model.get_weights()]
        state["early_stopping"] = early.state()
        if should_stop:
            state["status"] = "stopped_early"
        _save_checkpoint(ckpt, model, state, holder["best"])
        return should_stop

    if state["status"] == "running" and state["epoch"] < epochs:
        x_train, y_train, x_val, y_val = steps.place(splits.x_train, one_hot(splits.y_train, splits.n_classes), splits.x_val, one_hot(splits.y_val, splits.n_classes))
        for epoch in range(state["epoch"], epochs):
            _reseed_layers(model, seed, epoch)
            t0 = time.perf_counter()
            logs = steps.train_epoch(x_train, y_train, epoch_order(len(x_train), seed, epoch), lambda: stop.set)
            if logs is None:  # a partial epoch is never checkpointed
                raise Interrupted(f"signal {stop.signum} during epoch {epoch + 1}; a retry resumes after epoch {state['epoch']}")
            logs.update(steps.validate(x_val, y_val))
            if end_of_epoch(epoch, logs, time.perf_counter() - t0):
                break
    status = state["status"]
    best_weights = holder["best"]
    if status == "stopped_early" and best_weights is not None:
        model.set_weights(best_weights)
    result = {
        "status": "diverged" if status == "diverged" else "finished",
        "stopped_early": status == "stopped_early",
        "best_epoch": early.best_epoch,
        "epochs_run": state["epoch"],
        "fit_seconds": round(state["fit_seconds"], 4),
        "n_params": int(model.count_params()),
        "history": state["history"],
        "model": model,
        "resumed_from_epoch": resumed_from,
    }
    if result["status"] == "finished":
        result["metrics"] = evaluate(model, splits, training["eval_batch_size"], steps)
    return result


def evaluate(model, splits: Splits, batch_size: int, steps=None) -> dict:
    from .steps import CompiledSteps

    steps = steps or CompiledSteps(model, batch_size, batch_size, 1)
    out = {}
    for name, x, y in (("train", splits.x_train, splits.y_train), ("val", splits.x_val, splits.y_val), ("test", splits.x_test, splits.y_test)):
        proba, _ = steps.predict(x, one_hot(y, splits.n_classes))
        values = classification_metrics(y, proba, splits.n_classes)
        if name != "test":
            values.pop("confusion_matrix")
        out.update(split_metrics(name, values))
    return out


class DataCache:
    """Data sets loaded once per process and shared by the runs of a job."""

    def __init__(self):
        self._data = {}

    def splits(self, config: dict) -> tuple[Splits, str]:
        import json

        ds = config["dataset"]
        key = json.dumps(ds, sort_keys=True)
        if key not in self._data:
            self._data[key] = load_dataset(ds)
        data = self._data[key]
        split = config["split"]
        split_seed = config["seed"] if split.get("seed") is None else split["seed"]
        where = f"dataset '{ds['name']}'" + (f" (file {ds['path']})" if ds.get("path") else "")
        return split_and_scale(data, split["validation"], split["test"], split_seed, where), data.fingerprint


def train_and_record(config: dict, run_dir: Path, cache: DataCache, *, steps_per_execution: int = 64, stop: StopFlag | None = None, extra_provenance: dict | None = None, models=None) -> str:
    """Train one run unless it already finished; write its results atomically. Returns its status."""
    import keras

    expected = config_hash(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = provenance.utc_now()
    try:
        splits, fingerprint = cache.splits(config)
    except DataError as exc:
        _record_failure(run_dir, expected, exc)
        raise
    if run_is_finished(run_dir, expected, fingerprint):
        log.info("%s: already finished with this config and data; not training again", run_dir)
        return "skipped"
    (run_dir / METRICS_FILE).unlink(missing_ok=True)  # stale result of another config
    try:
        result = fit_run(config, splits, run_dir, steps_per_execution=steps_per_execution, stop=stop, models=models)
    except Interrupted:
        raise
    except Exception as exc:
        _record_failure(run_dir, expected, exc)
        raise
    model = result.pop("model")
    resumed_from = result.pop("resumed_from_epoch")  # the checkpoint fit_run actually restored
    write_text_atomic(run_dir / "history.csv", _history_csv(result.pop("history")))
    if result["status"] == "finished":
        tmp = run_dir / ".model.keras.tmp.keras"
        model.save(tmp)
        os.replace(tmp, run_dir / "model.keras")
    metrics = result.pop("metrics", {})
    record = {
        "status": result.pop("status"),
        "run": {"dataset": config["dataset"]["name"], "architecture": config["architecture"]["name"], "seed": config["seed"]},
        "config_hash": expected,
        "config": config,
        "data": {
            "fingerprint": fingerprint,
            "class_names": splits.class_names,
            "n_features": splits.n_features,
            "n_train": len(splits.y_train),
            "n_val": len(splits.y_val),
            "n_test": len(splits.y_test),
        },
        "metrics": {**metrics, **result},
        "provenance": provenance.collect(started, {"resumed_from_epoch": resumed_from, "keras_backend": keras.backend.backend(), **(extra_provenance or {})}),
    }
    write_json_atomic(run_dir / METRICS_FILE, record)  # last: its presence means the run finished
    (run_dir / FAILED_FILE).unlink(missing_ok=True)
    shutil.rmtree(run_dir / CHECKPOINT_DIR, ignore_errors=True)
    return record["status"]


def _record_failure(run_dir: Path, expected: str, exc: Exception) -> None:
    write_json_atomic(run_dir / FAILED_FILE, {"status": "failed", "config_hash": expected, "error": f"{type(exc).__name__}: {exc}", "time": provenance.utc_now()})
