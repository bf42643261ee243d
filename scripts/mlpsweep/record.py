"""A run's record (its metrics.json): what it holds, how training builds it, how it is written
and read, and how records of earlier releases are upgraded when read.

Versions (`record_version`): 0 is release 0.1's record (no `identity`, no test class counts,
no pack provenance), 1 today's record before the key existed, 2 this one. Reading upgrades in
memory only: a stored file is never rewritten by reading it. The metric fields come from the
registry (registry.METRICS): a metric with a `compute` function is recorded, listed in runs.csv
and summarized without touching another module.

Importing this module stays cheap (Snakemake's planning reads records): NumPy and the metric
functions are imported where a record is built.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import compact, identity, registry, rundir
from .storage import write_json_atomic

RECORD_VERSION = 2
VERSION_KEY = "record_version"
# A record lists the run paths of its pack up to this pack size (provenance.pack.members; null
# above: 4,096 paths in each of 4,096 records would be 1 GB; the pack key names the pack).
MEMBERS_LISTED = 256
PARTS = ("train", "val", "test")


class Damaged(ValueError):
    """A metrics.json that is not a record (half-written, edited, not JSON): not done."""

    def __init__(self, cause: str):
        super().__init__(f"metrics.json unreadable ({cause})")
        self.cause = cause  # the parse error's type name, as runs.csv's `problem` shows it


@dataclass(slots=True)
class Record:
    """A run's record, upgraded to this version; `stored` is its metrics.json as written or read.
    Read-only by convention: frozen, it would take twice as long to make (runs.csv makes 100,000)."""

    status: str
    run: dict
    config_hash: str
    identity: dict | None
    config: dict | None
    data: dict
    metrics: dict
    provenance: dict
    model_format: int | None = None
    version: int = RECORD_VERSION  # the version it was stored with
    stored: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def done(self) -> bool:
        return self.status in rundir.DONE

    @property
    def test_class_counts(self) -> list | None:
        return self.data.get("test_class_counts")

    @property
    def device(self) -> dict:
        return self.provenance.get("device") or {}

    @property
    def pack_size(self) -> int:
        """The size of the pack it was trained in (release 0.1 trained every run alone)."""
        return (self.provenance.get("pack") or {}).get("size", 1)

    @property
    def window(self) -> dict | None:
        """data.window of a windowed run (start, stop, centre, length in seconds), else None."""
        return self.data.get("window")


# ---------------------------------------------------------------- reading


def version_of(stored: dict) -> int:
    version = stored.get(VERSION_KEY)
    if isinstance(version, int):
        return version
    return 1 if "identity" in stored else 0  # release 0.1 wrote no identity


def upgrade(stored: dict) -> Record:
    """The record of a metrics.json's dict, of any release, with today's fields derived where
    an earlier release lacks them. Raises KeyError, TypeError or AttributeError for a dict that
    is no record."""
    status, metrics = stored["status"], stored["metrics"]
    data = stored.get("data") or {}
    provenance = stored.get("provenance") or {}
    if not isinstance(status, str) or not isinstance(provenance, dict):
        raise TypeError("status or provenance of the wrong type")
    matrix = metrics.get("test_confusion_matrix")
    if not data.get("test_class_counts") and matrix:  # release 0.1: the matrix's row sums are the counts
        data = {**data, "test_class_counts": [sum(row) for row in matrix]}
    window = data.get("window")
    if window and not ("centre" in window and "length" in window and data.get("protocol")):
        data = _windowed(data, window, metrics)
    return Record(
        status=status,
        run=stored.get("run") or {},
        config_hash=stored.get("config_hash", ""),
        identity=stored.get("identity"),
        config=stored.get("config"),
        data=data,
        metrics=metrics,
        provenance=provenance,
        model_format=stored.get("model_format"),
        version=version_of(stored),
        stored=stored,
    )


def _windowed(data: dict, window: dict, metrics: dict) -> dict:
    """A windowed run recorded before its window's centre, length and protocol were."""
    start, stop = window["start"], window["stop"]
    full = {**window, "centre": window.get("centre", (start + stop) / 2), "length": window.get("length", stop - start)}
    protocol = data.get("protocol") or ("cross-subject" if metrics.get("test_by_group") else "pooled")
    return {**data, "window": full, "protocol": protocol}


def from_text(text: str) -> Record:
    """The record of a metrics.json's text; Damaged if it is not one."""
    try:
        return upgrade(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Damaged(type(exc).__name__) from exc


def read_text(run_dir: str) -> str:
    """The text of a run's metrics.json (OSError without one; Damaged if it is not text).
    `run_dir` is joined as text: per run, pathlib would cost a third of a json.load."""
    try:
        with open(f"{run_dir}/{rundir.METRICS_FILE}", encoding="utf-8") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise Damaged(type(exc).__name__) from exc


def read(run_dir: str | Path) -> Record | None:
    """The run's record, or None where it has none or a damaged one (neither is done): its
    metrics.json, else its compact record (compact.py, label-permutation runs)."""
    try:
        return from_text(read_text(str(run_dir)))
    except (FileNotFoundError, NotADirectoryError):
        return read_compact(run_dir)
    except (OSError, Damaged):
        return None


def read_compact(run_dir: str | Path, rows: dict | None = None) -> Record | None:
    """The run's compact record (a row of its cell's permutations/ files), or None. `rows`: see
    compact.read_stored."""
    stored = compact.read_stored(run_dir, rows)
    try:
        return None if stored is None else upgrade(stored)
    except (KeyError, TypeError, AttributeError):
        return None


class JobReader:
    """read() for a training job, which asks about each of its runs once, before training it: each
    run folder is listed, and each cell's compact files read, once (when first asked about), not
    again after each pack this job or another beside it writes there (a job of 8,000 permutation
    runs read a cell's new files some 130 times, and tried to open a metrics.json for each run).
    What it found first stays true for the job's questions: no other job trains its runs, and it
    does not ask again about a run it trained."""

    def __init__(self):
        self._listed: dict[str, set] = {}
        self._rows: dict[str, dict] = {}

    def __call__(self, run_dir: str | Path) -> Record | None:
        run_dir = str(run_dir).rstrip("/")
        if _has_directory(run_dir, self._listed):  # its metrics.json, else its compact row
            return read(run_dir)
        folder = compact.folder_of(run_dir)[0]
        if folder not in self._rows:
            self._rows[folder] = compact.index(folder)
        return read_compact(run_dir, self._rows[folder])


def without_directory(run_dirs: Iterable[str]) -> list[bool]:
    """Whether each run has no directory (so no metrics.json): each parent listed once, not an
    open that fails per run (a million compact runs of one cell)."""
    listed: dict[str, set] = {}
    return [not _has_directory(run_dir, listed) for run_dir in run_dirs]


def _has_directory(run_dir: str, listed: dict[str, set]) -> bool:
    """Whether a run has a directory, from its parent's listing (made once, kept in `listed`)."""
    parent, _, leaf = run_dir.rstrip("/").rpartition("/")
    names = listed.get(parent)
    if names is None:
        try:
            names = listed[parent] = set(os.listdir(parent))
        except OSError:
            names = listed[parent] = set()
    return leaf in names


def read_compact_many(run_dirs: Iterable[tuple[int, str]]) -> Iterator[tuple[int, Record | None]]:
    """(position, read_compact's record) of each (position, run directory), in no set order:
    each cell's compact files read once for all of its runs, not once per run and kept."""
    by_folder: dict[str, dict[str, list[int]]] = {}
    for position, run_dir in run_dirs:
        folder, leaf = compact.folder_of(run_dir)
        by_folder.setdefault(folder, {}).setdefault(leaf, []).append(position)
    for folder, wanted in by_folder.items():
        for leaf, stored in compact.stored_rows(folder, wanted):
            try:
                rec = None if stored is None else upgrade(stored)
            except (KeyError, TypeError, AttributeError):
                rec = None
            for position in wanted[leaf]:
                yield position, rec


def read_many(run_dirs: list[str]) -> Iterator[tuple[int, Record | None]]:
    """(position, read's record) of each run, in no set order: those without a directory from
    their cells' compact files, each read once (read_compact_many)."""
    absent = without_directory(run_dirs)
    for position, run_dir in enumerate(run_dirs):
        if not absent[position]:
            yield position, read(run_dir)
    yield from read_compact_many((k, run_dirs[k]) for k, no in enumerate(absent) if no)


def identity_hash(record: Record) -> str | None:
    """The identity hash of the run a record is of: from its stored config, or a compact
    record's stored hash (it keeps no config)."""
    if record.config is not None:
        return identity.run_hash(record.config)
    return record.config_hash if record.stored.get("layout") == compact.LAYOUT else None


def is_done(record: Record | None, run_config: dict, fingerprint: str | None = None) -> bool:
    """Whether a record is the finished result of this run: same identity (computed from the
    stored config, so records of earlier releases count) and, if given, same data."""
    if record is None or not record.done:
        return False
    try:
        stored = identity_hash(record)  # a compact record keeps its hash, the others their config
        same = stored is not None and stored == identity.run_hash(run_config)
    except (KeyError, TypeError, ValueError, AssertionError):
        return False
    return same and (fingerprint is None or record.data.get("fingerprint") == fingerprint)


# ---------------------------------------------------------------- building


@dataclass(frozen=True)
class Outcome:
    """How a member's training ended: the engine's status and counts."""

    status: str  # finished | stopped_early | diverged
    best_epoch: int | None  # 0-based, as the engine's early stopping counts
    epochs_run: int
    fit_seconds: float
    n_params: int


@dataclass(frozen=True)
class Evaluated:
    """A member's predictions on one part of its data (train, val or test)."""

    y_true: object  # np.ndarray of class indices
    y_pred: object
    logits: object
    loss: float
    n_classes: int
    groups: object = None  # the test rows' groups, where the data has them: test_by_group


@dataclass(frozen=True)
class PackFacts:
    """Where a run was trained: its pack, for the record's provenance."""

    key: str
    members: list[str]
    index: int
    trace_seconds: float
    resumed_from_epoch: int | None
    keras_backend: str


def metrics_of(outcome: Outcome, parts: dict[str, Evaluated] | None) -> dict:
    """The record's metrics: training counts, then per part (of a finished run) its loss and
    classification metrics, then every registered metric with a `compute` function."""
    return metrics_of_members([outcome], [parts])[0]


def metrics_of_members(outcomes: list[Outcome], parts: list[dict[str, Evaluated] | None]) -> list[dict]:
    """metrics_of of each member of a pack, computed part by part for the members together (those
    with as many rows of the part at once): each member's numbers are those it has alone
    (tests/test_record.py), in a fraction of the time member by member."""
    from .metrics import split_metrics

    results = [
        {
            "stopped_early": outcome.status == "stopped_early",
            "best_epoch": None if outcome.best_epoch is None else outcome.best_epoch + 1,
            "epochs_run": outcome.epochs_run,
            "fit_seconds": round(outcome.fit_seconds, 4),
            "n_params": outcome.n_params,
        }
        for outcome in outcomes
    ]
    for part in PARTS:  # the training part of a run recorded as scores only is absent (compact.py keeps none)
        ks = [k for k, found in enumerate(parts) if found is not None and part in found]
        for k, values in zip(ks, _part_metrics(part, [parts[k][part] for k in ks])):
            results[k].update(split_metrics(part, values))
    for name, metric in registry.METRICS.items():
        part = name.split("_", 1)[0]
        ks = [k for k, found in enumerate(parts) if found is not None and part in found and name not in results[k]]
        if not (metric.compute and ks):
            continue
        if metric.compute_many:
            values = _function(metric.compute_many)([parts[k][part] for k in ks])
        else:
            values = [_function(metric.compute)(parts[k][part]) for k in ks]
        for k, value in zip(ks, values):
            results[k][name] = value
    return results


def _part_metrics(part: str, evaluated: list[Evaluated]) -> list[dict]:
    """Per member, its loss and classification metrics of one part (with the test part's
    confusion matrix, and its figures by group where the part has groups)."""
    import numpy as np

    from .auc import probabilities, roc_auc_many
    from .metrics import by_group_many, classification_metrics_many

    out: list[dict] = [{} for _ in evaluated]
    same: dict[tuple[int, int], list[int]] = {}
    for k, e in enumerate(evaluated):
        same.setdefault((len(e.y_true), e.n_classes), []).append(k)
    for (_, n_classes), ks in same.items():
        y_true = np.stack([evaluated[k].y_true for k in ks])
        y_pred = np.stack([evaluated[k].y_pred for k in ks])
        for k, values in zip(ks, classification_metrics_many(y_true, y_pred, n_classes)):
            out[k] = {"loss": evaluated[k].loss, **values}
            if part != "test":
                out[k].pop("confusion_matrix")
        grouped = [i for i, k in enumerate(ks) if part == "test" and evaluated[k].groups is not None]
        if grouped:
            p = probabilities(np.stack([evaluated[ks[i]].logits for i in grouped]))
            groups = [evaluated[ks[i]].groups for i in grouped]
            auc = roc_auc_many(y_true[grouped], p)
            for i, values in zip(grouped, by_group_many(groups, y_true[grouped], y_pred[grouped], p, auc)):
                out[ks[i]]["by_group"] = values
    return out


def _function(name: str):
    module, function = name.rsplit(".", 1)
    return getattr(importlib.import_module(f"{__package__}.{module}"), function)


def protocol(split: dict) -> str:
    """within-subject (split.within), cross-subject (a grouped split method) or pooled."""
    if split.get("within"):
        return "within-subject"
    return "cross-subject" if registry.SPLIT_METHODS[split["method"]].grouped else "pooled"


def window_of(config: dict) -> dict | None:
    """data.window of a windowed run: start, stop, centre, length (seconds)."""
    if config.get("window") is None:
        return None
    start, length = float(config["window"]), float(config["dataset"]["windows"]["length"])
    return {"start": start, "stop": round(start + length, 6), "centre": round(start + length / 2, 6), "length": length}


def feature_names_of(feature_names: list[str] | None, n_features: int) -> list[str] | None:
    return None if feature_names is None else [str(n) for n in feature_names][:n_features]


def data_of(run, splits, fingerprint: str) -> dict:
    """The record's data section: what the run trained and was tested on."""
    import numpy as np

    s = splits
    return {
        "fingerprint": fingerprint,
        "class_names": s.class_names,
        "n_features": s.n_features,
        "feature_names": feature_names_of(s.feature_names, s.n_features),
        "n_train": len(s.y_train),
        "n_val": len(s.y_val),
        "n_test": len(s.y_test),
        "test_class_counts": np.bincount(s.y_test, minlength=s.n_classes).tolist(),
        "protocol": protocol(run.config["split"]),
        **({"held_out": s.held_out} if getattr(s, "held_out", None) else {}),
        **({"window": window_of(run.config)} if run.window is not None else {}),
    }


def build(
    run,
    splits,
    fingerprint: str,
    outcome: Outcome,
    parts: dict[str, Evaluated] | None,
    *,
    started: str,
    pack: PackFacts,
    extra: dict,
    model_format: int | None = None,
    metrics: dict | None = None,
) -> Record:
    """The record of a trained run (grid.Run, data.Splits); `parts` None for a diverged run,
    `extra`: provenance the job adds (threads, the GPU check); `metrics`: metrics_of(outcome,
    parts) where it was computed already (metrics_of_members, a pack at once)."""
    from . import provenance

    stored = {
        VERSION_KEY: RECORD_VERSION,
        "status": "diverged" if outcome.status == "diverged" else "finished",
        "run": {
            "dataset": run.dataset,
            "architecture": run.architecture,
            "hparams": run.hparams,
            "seed": run.seed,
            "fold": run.fold,
            "permutation": run.permutation,
            "window": run.window,
            "subject": run.subject,
        },
        "config_hash": run.hash,
        "identity": identity.canonical(run.config),
        "config": run.config,
        "data": data_of(run, splits, fingerprint),
        "metrics": metrics_of(outcome, parts) if metrics is None else metrics,
        "provenance": provenance.collect(
            started,
            {
                "resumed_from_epoch": pack.resumed_from_epoch,
                "keras_backend": pack.keras_backend,
                "pack": {
                    "key": pack.key,
                    "size": len(pack.members),
                    "index": pack.index,
                    "members": pack.members if len(pack.members) <= MEMBERS_LISTED else None,
                    "trace_seconds": round(pack.trace_seconds, 4),
                },
                **extra,
            },
        ),
    }
    if model_format is not None:
        stored["model_format"] = model_format
    return upgrade(stored)


def with_complete_model(record: Record, model_format: int, feature_names: list[str] | None) -> Record:
    """A read record given its complete model (export.upgrade_run): the stored record with
    model_format and data.feature_names set, nothing else changed."""
    stored = record.stored
    return upgrade(
        {**stored, "model_format": model_format, "data": {**(stored.get("data") or {}), "feature_names": feature_names}}
    )


def with_metrics(record: Record, metrics: dict) -> Record:
    """A read record given metrics computed after training (export.upgrade_run's ROC AUC from
    the saved model): the stored record with these metric fields added, nothing else changed."""
    stored = record.stored
    return upgrade({**stored, "metrics": {**stored["metrics"], **metrics}})


# ---------------------------------------------------------------- writing


def write(
    run_dir: Path, record: Record, history: list[dict], model=None, predictions: str | None = None, **files
) -> None:
    """A run's files through rundir.write_result, metrics.json (the record) last.
    `files`: write_result's durable, extra_files and model_info."""
    rundir.write_result(run_dir, record.stored, history, model, predictions, **files)


def rewrite(run_dir: Path, record: Record) -> None:
    """Replace a run's metrics.json by this record (an explicit upgrade, never a read)."""
    write_json_atomic(Path(run_dir) / rundir.METRICS_FILE, record.stored)
