"""runs.csv: one row per run directory (its place in the grid, status, metrics, provenance),
collected from the runs' records (record.py); its columns and their types are declared here
once, for its writer (collect_runs) and its readers (read_runs_csv)."""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import os
from pathlib import Path

import pandas as pd

from .. import compact, record, registry, rundir
from ..progress import Progress
from ..storage import read_json

log = logging.getLogger("mlpsweep")

KEYS = ["dataset", "architecture", "hparams"]
STATUSES = ("diverged", "failed", "missing", "incomplete", "damaged")


def run_dtypes() -> dict:
    """The columns of runs.csv, in order, with their types (a metric of the registry is a column)."""
    return {
        **dict.fromkeys(KEYS, "str"), "seed": "int64", "fold": "Int64", "permutation": "Int64", "status": "str",
        "subject": "str", "window": "float64",
        **dict.fromkeys([*registry.METRICS, "n_test"], "float64"), "device": "str", "gpu": "str", "threads": "float64",
        **dict.fromkeys(["slurm_job_id", "config_hash", "path", "problem", "confusion_matrix", "class_names"], "str"),
        **dict.fromkeys(["test_class_counts", "test_by_group"], "str"),
    }  # fmt: skip


def read_run(results: str | Path, rel: str) -> dict:
    """One row of runs.csv: the run's place in the grid, its status, metrics and provenance."""
    row = _place(rel)
    # Joined as text: per run, pathlib would cost a third of a json.load, os.path.join a sixth.
    run_dir = f"{os.fspath(results)}/{rel}"
    try:
        rec = record.from_text(record.read_text(run_dir))
    except (FileNotFoundError, NotADirectoryError):
        rec = record.read_compact(run_dir) if row["permutation"] is not None else None
        row.update(_unfinished(run_dir) if rec is None else _result_fields(run_dir, rec))
    except OSError as exc:
        row.update(_damaged(run_dir, type(exc).__name__))
    except record.Damaged as exc:
        row.update(_damaged(run_dir, exc.cause))
    else:
        row.update(_result_fields(run_dir, rec))
    return row


def _place(rel: str) -> dict:
    """A row's place in the grid from the run's path, its status missing until its record is read."""
    where = rundir.parse(rel)
    if where is None:
        raise ValueError(
            f"{rel}: not a run directory (runs/<dataset>/<architecture>/<hparams>/seed<N>[_fold<F>][_perm<P>])"
        )
    where.pop("held_out")  # named by the path; the record's data.held_out has it
    return {**where, "path": rel, "status": "missing", "problem": ""}


def _unfinished(run_dir: str) -> dict:
    """Status of a run without metrics.json: failed (and why), incomplete or missing."""
    if os.path.exists(f"{run_dir}/{rundir.FAILED_FILE}"):
        try:
            return {"status": "failed", "problem": read_json(f"{run_dir}/{rundir.FAILED_FILE}").get("error", "")}
        except (OSError, ValueError, AttributeError):
            return {"status": "failed", "problem": "failed.json unreadable"}
    if os.path.exists(f"{run_dir}/{rundir.LOG_FILE}"):
        return {"status": "incomplete"}  # its job started training it and stopped before the end
    return {}


def _damaged(run_dir: str, cause: str) -> dict:
    problem = f"metrics.json unreadable ({cause})"
    log.warning("%s: %s", run_dir, problem)
    return {"status": "damaged", "problem": problem}


_NUMBERS = (int, float)


def _result_fields(run_dir: str, rec: record.Record) -> dict:
    """Status, metrics and provenance of a run's record."""
    metrics, data, prov = rec.metrics, rec.data, rec.provenance
    matrix, counts, device = metrics.get("test_confusion_matrix"), rec.test_class_counts, rec.device
    names = registry.METRICS
    row = {key: value if type(value) in _NUMBERS else math.nan for key, value in zip(names, map(metrics.get, names))}
    status = rec.status
    row.update(
        status=status,
        n_test=data.get("n_test", math.nan),
        device=device.get("type", ""),
        gpu="; ".join(device.get("gpus") or []),
        threads=prov.get("threads", 1),
        slurm_job_id=(prov.get("slurm") or {}).get("job_id", ""),
        config_hash=rec.config_hash,
        # str() of a list of numbers is its JSON text, at a fifth of json.dumps's cost.
        confusion_matrix=str(matrix) if matrix else "",
        class_names=_json_names(tuple(data.get("class_names", []))),
        test_class_counts=str(counts) if counts else "",
        test_by_group=json.dumps(metrics["test_by_group"], sort_keys=True) if metrics.get("test_by_group") else "",
    )
    needed = (rundir.HISTORY_FILE, rundir.MODEL_FILE) if status == "finished" else (rundir.HISTORY_FILE,)
    if rec.stored.get("layout") == compact.LAYOUT:
        needed = ()  # a compact record keeps no other file
    missing = [name for name in needed if not os.path.exists(f"{run_dir}/{name}")]
    if missing:
        row["problem"] = "missing " + ", ".join(missing)
        log.warning("%s: %s run lacks %s", run_dir, status, ", ".join(missing))
    return row


@functools.lru_cache(maxsize=256)
def _json_names(names: tuple) -> str:
    return json.dumps(list(names))


def collect_runs(
    results: str | Path, expected: list[str] | None = None, progress: Progress | None = None
) -> pd.DataFrame:
    """runs.csv as a frame: the expected runs (missing ones included), or all found on disk;
    `progress` counts the run directories read."""
    paths = list(expected) if expected is not None else rundir.discover(results)
    dtypes = run_dtypes()
    names, root = list(dtypes), os.fspath(results)
    # A label-permutation run without a directory is read from its cell's compact files, each
    # read once for all of them (record.read_compact_many): read_run's row, without a million
    # failed opens and per-run lookups. Rows are kept as tuples: a million dicts would not fit.
    absent = record.without_directory(f"{root}/{rel}" for rel in paths)
    rows: list = [None] * len(paths)
    later = []
    for position, rel in enumerate(paths if progress is None else progress.track(paths)):
        if absent[position] and "_perm" in rel:  # a permutation run's path has it; the others' too, rarely
            later.append((position, f"{root}/{rel}"))
        else:
            rows[position] = tuple(map(read_run(results, rel).get, names))
    del absent
    for position, rec in record.read_compact_many(later):
        rel = paths[position]
        row = _place(rel)
        run_dir = f"{root}/{rel}"
        if row["permutation"] is None:  # read_run reads no compact record of any other run
            rec = None
        row.update(_unfinished(run_dir) if rec is None else _result_fields(run_dir, rec))
        rows[position] = tuple(map(row.get, names))
    del later
    columns = {c: list(values) for c, values in zip(names, zip(*rows))} if rows else {c: [] for c in names}
    del rows
    return pd.DataFrame(columns, columns=names).astype(dtypes)  # faster than from_records


def read_runs_csv(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """runs.csv read back with its declared types; text columns hold "" where empty. A runs.csv
    of release 0.1 (no fold and permutation columns) gets them, empty. `columns`: parse only
    these of the file's (a million runs' runs.csv in a fraction of the time and memory)."""
    dtypes = run_dtypes()
    text = Path(path).read_text(encoding="utf-8")
    if not text.strip():
        return pd.DataFrame({c: pd.Series(dtype=kind) for c, kind in dtypes.items()})
    wanted = None if columns is None else set(columns).__contains__
    frame = pd.read_csv(io.StringIO(text), dtype=dtypes, keep_default_na=False, na_values=[""], usecols=wanted)
    del text
    for column, kind in dtypes.items():
        if kind == "str" and column in frame:
            frame[column] = frame[column].fillna("")
    for column in ("fold", "permutation"):
        if column not in frame:
            frame[column] = pd.array([pd.NA] * len(frame), dtype="Int64")
    return frame
