"""One builder of fake run directories, for the tests and the benchmarks.

It writes through the production writers (`rundir.write_result`, `rundir.write_failure`) a
record with the layout training writes (`record.build`), so the layout read by the
summary and the plots cannot drift from the one written by training.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from mlpsweep import identity, rundir
from mlpsweep.config import validate_config
from mlpsweep.grid import leaf_name
from mlpsweep.registry import SOURCES
from mlpsweep.storage import write_bytes_atomic, write_text_atomic

STATUSES = ("finished", "diverged", "failed", "incomplete", "missing")


@functools.lru_cache(maxsize=1)
def _sections() -> dict:
    """The resolved sections (schema defaults filled in) of a one-cell sweep."""
    cfg = validate_config(
        {"datasets": {"d": {"source": "synthetic"}}, "architectures": {"a": {"hidden": [8]}}, "seeds": [0]}
    )
    dataset = {"source": "synthetic", **{k: v["default"] for k, v in SOURCES["synthetic"].keys.items()}}
    return {"training": cfg["training"], "split": cfg["split"], "dataset": dataset}


def run_config(
    dataset: str, architecture: str, seed: int, fold: int | None, permutation: int | None, n_classes: int
) -> dict:
    """A resolved run config as grid.expand_runs makes it."""
    sections = _sections()
    return {
        "dataset": {"name": dataset, **sections["dataset"], "n_classes": n_classes},
        "architecture": {
            "name": architecture,
            "hidden": [8],
            "activation": "relu",
            "dropout": 0.0,
            "l2": 0.0,
            "batch_norm": False,
        },
        "training": sections["training"],
        "split": sections["split"]
        if fold is None
        else {**sections["split"], "method": "kfold", "folds": max(5, fold + 1)},
        "seed": seed,
        "fold": fold,
        "permutation": permutation,
    }


def confusion(class_counts, accuracy: float) -> list[list[int]]:
    """A confusion matrix with these true-class counts and about this share on its diagonal;
    each class's errors go to the next class."""
    k = len(class_counts)
    correct = [min(n, int(accuracy * n)) for n in class_counts]
    missing = round(accuracy * sum(class_counts)) - sum(correct)
    for i in range(k):
        if missing > 0 and correct[i] < class_counts[i]:
            correct[i] += 1
            missing -= 1
    matrix = [[0] * k for _ in range(k)]
    for i, n in enumerate(class_counts):
        matrix[i][i] = correct[i]
        matrix[i][(i + 1) % k] += n - correct[i]
    return matrix


def history(epochs: int, accuracy: float, seed: int) -> list[dict]:
    """Per-epoch rows: loss 1/epoch + seed/10, accuracy rising linearly to `accuracy`."""
    return [
        {
            "epoch": e,
            "loss": 1 / e + seed / 10,
            "accuracy": accuracy * e / epochs,
            "val_loss": 1.1 / e,
            "val_accuracy": accuracy * e / epochs - 0.01,
            "seconds": 0.1,
        }
        for e in range(1, epochs + 1)
    ]


def _predictions(matrix: list[list[int]], class_names: list[str], groups: dict | None) -> str:
    """predictions.csv of the matrix's rows; groups are given to rows in order."""
    pairs = [(i, j) for i, row in enumerate(matrix) for j, count in enumerate(row) for _ in range(count)]
    labels = [g for g, (n, _) in (groups or {}).items() for _ in range(n)]
    group_of = labels if len(labels) == len(pairs) else None
    return rundir.predictions_csv(
        range(len(pairs)), group_of, [i for i, _ in pairs], [j for _, j in pairs], class_names
    )


def write_run(
    results: str | Path,
    dataset: str = "ds",
    architecture: str = "mlp",
    hparams: str = "default",
    seed: int = 0,
    *,
    fold: int | None = None,
    permutation: int | None = None,
    status: str = "finished",
    accuracy: float = 0.8,
    class_counts=(20, 20),
    class_names=None,
    groups: dict | None = None,
    metrics: dict | None = None,
    without: tuple[str, ...] = (),
    device: str = "CPU",
    seconds: float = 2.0,
    epochs: int = 3,
    threads: int = 1,
    slurm_job_id: str | None = None,
    n_params: int = 100,
    subject: str | None = None,
    window: float | None = None,
    window_length: float = 0.1,
    protocol: str | None = None,
    generalization: dict | None = None,
) -> str:
    """Write one run directory under `results` as training leaves it; its path relative to `results`.

    status: finished | diverged | failed | incomplete (started, no result) | missing (nothing).
    groups: {group: (test rows, correct)}, recorded as `test_by_group`.
    metrics: values that replace generated metrics; without: names of metrics to leave out.
    subject, window (start, s), window_length, protocol: a run of a windowed (epochs) data set,
    as the eeg contract records it; generalization: {test window start: accuracy}, written as
    generalization.csv.
    """
    if status not in STATUSES:
        raise ValueError(f"status {status!r}: not one of {STATUSES}")
    rel = (
        f"runs/{dataset}/{architecture}/{hparams}/{leaf_name(seed, fold, permutation, subject=subject, window=window)}"
    )
    run_dir = Path(results) / rel
    config = run_config(dataset, architecture, seed, fold, permutation, len(class_counts))
    run_hash = identity.run_hash(config)
    if status == "missing":
        return rel
    run_dir.mkdir(parents=True, exist_ok=True)
    if status == "incomplete":
        (run_dir / rundir.LOG_FILE).write_text("training started\n")
        return rel
    if status == "failed":
        rundir.write_failure(run_dir, run_hash, "DataError: fake failure", "2026-01-01T00:00:00+00:00")
        return rel
    names = list(class_names or (f"c{i}" for i in range(len(class_counts))))
    matrix = confusion(class_counts, accuracy)
    values = _metrics(status, accuracy, matrix, groups, seconds, epochs, n_params)
    values = {k: v for k, v in {**values, **(metrics or {})}.items() if k not in without}
    record = {
        "status": status,
        "run": {
            "dataset": dataset,
            "architecture": architecture,
            "hparams": hparams,
            "seed": seed,
            "fold": fold,
            "permutation": permutation,
        },
        "config_hash": run_hash,
        "identity": identity.canonical(config),
        "config": config,
        "data": {
            "fingerprint": hashlib.sha256(dataset.encode()).hexdigest(),
            "class_names": names,
            "n_features": 20,
            "n_train": 4 * sum(class_counts),
            "n_val": sum(class_counts) // 2,
            "n_test": sum(class_counts),
            "test_class_counts": list(class_counts),
        },
        "metrics": values,
        "provenance": _provenance(device, threads, slurm_job_id, rel),
    }
    if window is not None or subject is not None:
        record["run"].update(window=window, subject=subject)
        record["data"]["protocol"] = protocol or (
            "within-subject" if subject is not None else "cross-subject" if groups else "pooled"
        )
    if window is not None:
        record["data"]["window"] = {
            "start": window,
            "stop": window + window_length,
            "centre": window + window_length / 2,
            "length": window_length,
        }
    if generalization is not None and status == "finished":
        rows = [(t, a, sum(class_counts)) for t, a in sorted(generalization.items())]
        write_text_atomic(run_dir / rundir.GENERALIZATION_FILE, rundir.generalization_csv(rows), durable=False)
    finished = status == "finished"
    model = (lambda path: write_bytes_atomic(path, b"fake model", durable=False)) if finished else None
    predictions = _predictions(matrix, names, groups) if finished else None
    rundir.write_result(
        run_dir, record, history(epochs, accuracy, seed), model, predictions, durable=False
    )  # test data: no fsync
    return rel


def _metrics(
    status: str, accuracy: float, matrix, groups: dict | None, seconds: float, epochs: int, n_params: int
) -> dict:
    values = {
        "stopped_early": False,
        "best_epoch": epochs,
        "epochs_run": epochs,
        "fit_seconds": seconds,
        "n_params": n_params,
    }
    if status == "diverged":
        return {**values, "best_epoch": None}
    for part, shift in (("train", 0.05), ("val", 0.02), ("test", 0.0)):
        score = min(1.0, accuracy + shift)
        values.update(
            {
                f"{part}_accuracy": score,
                f"{part}_balanced_accuracy": score,
                f"{part}_macro_f1": score,
                f"{part}_loss": 1.0 - score,
            }
        )
    values["test_confusion_matrix"] = matrix
    if groups:
        values["test_by_group"] = {str(g): {"n": n, "correct": correct} for g, (n, correct) in groups.items()}
    return values


def _provenance(device: str, threads: int, slurm_job_id: str | None, rel: str) -> dict:
    return {
        "host": "fake",
        "platform": "Linux",
        "versions": {"python": "3.11"},
        "git": None,
        "slurm": {"job_id": slurm_job_id} if slurm_job_id else None,
        "device": {
            "type": device,
            "gpus": ["NVIDIA H100 80GB HBM3"] if device == "GPU" else [],
            "cuda_visible_devices": "0" if device == "GPU" else None,
        },
        "started": "2026-01-01T00:00:00+00:00",
        "finished": "2026-01-01T00:00:02+00:00",
        "threads": threads,
        "resumed_from_epoch": None,
        "keras_backend": "tensorflow",
        "pack": {"key": "pack-fake", "size": 1, "index": 0, "members": [rel]},
    }


def summarize_fakes(results: Path, options: dict | None = None):
    """summary/ of the fake runs under `results` (runs.csv: what the time course reads); the runs."""
    from mlpsweep.tables.runs import collect_runs
    from mlpsweep.tables.summary import write_summary

    runs = collect_runs(results, rundir.discover(results))
    write_summary(runs, options, Path(results) / "summary")
    return runs
