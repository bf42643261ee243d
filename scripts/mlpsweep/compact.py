"""Compact records: label-permutation runs as rows of one file per pack and cell, not directories.

    runs/<dataset>/<architecture>/<hparams>/permutations/
        <pack key>.jsonl     one pack's runs of this cell, written once, atomically, after the pack:
                             line 1 the pack's shared provenance and data fingerprints, then one row
                             per run (its leaf, status, identity hash, data counts, its test and
                             validation metrics and training counts of record.metrics_of)
        names-<key>.json     class and feature names, once per cell and set of names (rows refer to them by key)

A row is read back as the record.Record a run directory's metrics.json would give (less the
config: `record.is_done` compares identity hashes), so the summary, the time course, status and
estimate read both layouts through record.read. A file is renamed into place whole (storage.py):
a row that does not parse (a damaged file) is not done and its run trains again; a temporary
file left by a killed job is never read. Where one run has rows in several files (a retrained
run), the newest file's row counts. Kept where `execution.keep.permutation_runs` is `scores`
(the default); `all` writes permutation runs as full run directories, as real runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from . import rundir
from .storage import json_safe, write_json_atomic, write_text_atomic

FOLDER = "permutations"
SUFFIX = ".jsonl"
LAYOUT = "compact"  # the `layout` key of a compact record's stored dict
_NAMES = ("class_names", "feature_names")


def keeps_scores_only(run, keep: dict | None) -> bool:
    """Whether a run is recorded compactly: a label-permutation run where `execution.keep`
    asks for its scores alone (the config's default; None, as without a config: never)."""
    return run.permutation is not None and (keep or {}).get("permutation_runs") == "scores"


def folder_of(run_dir: str | Path) -> tuple[str, str]:
    """(the cell's compact folder, the run's leaf) of a run directory path."""
    head, leaf = os.path.split(os.fspath(run_dir).rstrip("/"))
    return f"{head}/{FOLDER}", leaf


# ---------------------------------------------------------------- writing


def _dumps(obj) -> str:
    """One line of JSON; NaN and infinities as null, as in metrics.json (a permutation run whose test
    rows hold one class has no AUC: before, its NaN failed the writing of its whole pack's file)."""
    return json.dumps(json_safe(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def names_key(data: dict) -> str:
    """12 hex digits of the SHA-256 of a record's class and feature names."""
    return hashlib.sha256(_dumps([data.get(n) for n in _NAMES]).encode()).hexdigest()[:12]


def row_of(stored: dict, leaf: str, fingerprints: list[str]) -> dict:
    """A run's row: its record less the config, the names, the training part's metrics (the
    statistics use the test and validation parts), the fingerprint (an index into the file's
    list) and the pack's shared provenance; seed, fold, permutation and window come from `leaf`."""
    data = {k: v for k, v in stored["data"].items() if k not in _NAMES}
    fingerprint = data.pop("fingerprint", None)
    if fingerprint not in fingerprints:
        fingerprints.append(fingerprint)
    metrics = {k: v for k, v in stored["metrics"].items() if not k.startswith("train_")}
    row = {
        "leaf": leaf,
        "status": stored["status"],
        "config_hash": stored["config_hash"],
        "data": {**data, "names": names_key(stored["data"]), "fingerprint": fingerprints.index(fingerprint)},
        "metrics": metrics,
        "index": stored["provenance"]["pack"]["index"],
    }
    if stored["run"].get("subject") is not None:
        row["subject"] = stored["run"]["subject"]
    if stored["provenance"].get("resumed_from_epoch") is not None:
        row["resumed_from_epoch"] = stored["provenance"]["resumed_from_epoch"]
    return row


def header_of(stored: dict, fingerprints: list[str]) -> dict:
    """The file's first line: the pack's shared provenance (a first member's, less its own place
    in the pack) and the data fingerprints its rows refer to."""
    prov = {k: v for k, v in stored["provenance"].items() if k not in ("resumed_from_epoch", "pack")}
    pack = {k: v for k, v in (stored["provenance"].get("pack") or {}).items() if k not in ("index", "members")}
    return {
        "layout": LAYOUT,
        "version": stored.get("record_version"),
        "fingerprints": fingerprints,
        "provenance": {**prov, "pack": pack},
    }


def pack_files(run_dirs: list[str | Path], stored: list[dict]) -> dict[str, tuple[str, dict]]:
    """{compact file: (its text, {names file: names})} of one pack's records (record.stored
    dicts of the runs at `run_dirs`), one file per cell."""
    by_folder: dict[str, list] = {}
    for run_dir, rec in zip(run_dirs, stored):
        folder, leaf = folder_of(run_dir)
        by_folder.setdefault(folder, []).append((leaf, rec))
    out = {}
    for folder, mine in by_folder.items():
        key = mine[0][1]["provenance"]["pack"]["key"]
        lines, names, fingerprints = [], {}, []
        for leaf, rec in mine:
            row = row_of(rec, leaf, fingerprints)
            lines.append(_dumps(row))
            names[f"{folder}/names-{row['data']['names']}.json"] = {n: rec["data"].get(n) for n in _NAMES}
        text = "\n".join([_dumps(header_of(mine[0][1], fingerprints)), *lines]) + "\n"
        out[f"{folder}/{key}{SUFFIX}"] = (text, names)
    return out


def write_pack(run_dirs: list[str | Path], stored: list[dict], *, durable: bool = True) -> list[str]:
    """Write one pack's compact records (names files first, where absent); the files written."""
    written = []
    for path, (text, names) in pack_files(run_dirs, stored).items():
        for names_path, value in names.items():
            if not os.path.exists(names_path):
                write_json_atomic(names_path, value, durable=durable)
        write_text_atomic(path, text, durable=durable)
        _stale(os.path.dirname(path))  # looked at again here, whatever the folder's mtime resolution
        written.append(path)
    return written


# ---------------------------------------------------------------- reading

# folder -> (its mtime_ns or None when written here, its files as _files lists them, {leaf: (header, row)})
_INDEX: dict[str, tuple[int | None, list, dict]] = {}


def _stale(folder: str) -> None:
    """Make the next index() of `folder` look at its files again (it reads only the new ones)."""
    cached = _INDEX.get(folder)
    if cached is not None:
        _INDEX[folder] = (None, cached[1], cached[2])


def _files(folder: str) -> list[tuple[int, str]]:
    """The folder's compact files (never a temporary one), oldest first."""
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith(SUFFIX) and not entry.name.startswith("."):
                found.append((entry.stat().st_mtime_ns, entry.name))
    return sorted(found)


def _read_file(path: str) -> tuple[dict | None, dict]:
    """(header, {leaf: row}) of a compact file: a row that does not parse is left out (its run
    is not done); a damaged header gives no rows."""
    header, lines = _lines(path)
    if header is None:
        return None, {}
    rows = {}
    for line in lines:
        try:
            row = json.loads(line)
            rows[row["leaf"]] = row
        except (ValueError, KeyError, TypeError):
            continue
    return header, rows


def index(folder: str) -> dict[str, tuple[dict, dict]]:
    """{leaf: (header, row)} of a cell's compact folder. When it changed, only files newer than those
    read are read (a job adds one a pack); where an older one changed, all are read again."""
    try:
        mtime = os.stat(folder).st_mtime_ns
    except OSError:
        return {}
    cached = _INDEX.get(folder)
    if cached is not None and cached[0] == mtime:
        return cached[2]
    files = _files(folder)
    if cached is not None and files[: len(cached[1])] == cached[1]:
        found, new = dict(cached[2]), files[len(cached[1]) :]
    else:
        found, new = {}, files
    for _, name in new:
        header, rows = _read_file(f"{folder}/{name}")
        if header is not None:
            found.update((leaf, (header, row)) for leaf, row in rows.items())
    _INDEX[folder] = (mtime, files, found)
    return found


@functools.lru_cache(maxsize=64)
def _names(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            found = json.load(fh)
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def stored_of(folder: str, header: dict, row: dict) -> dict:
    """The metrics.json-like dict of a row (KeyError, TypeError, IndexError or AttributeError
    if it is none)."""
    cell = folder.rsplit("/", 4)[-4:-1]  # .../runs/<dataset>/<architecture>/<hparams>/permutations
    where = rundir.parse(f"runs/{'/'.join(cell)}/{row['leaf']}")
    data = dict(row["data"])
    data.update(_names(f"{folder}/names-{data.pop('names')}.json"))
    data["fingerprint"] = header["fingerprints"][data["fingerprint"]]
    run = {k: where[k] for k in ("dataset", "architecture", "hparams", "seed", "fold", "permutation")}
    run.update(window=(data.get("window") or {}).get("start"), subject=row.get("subject"))
    pack = {**header["provenance"]["pack"], "index": row["index"]}
    provenance = {**header["provenance"], "resumed_from_epoch": row.get("resumed_from_epoch"), "pack": pack}
    return {
        "record_version": header.get("version"),
        "layout": LAYOUT,
        "status": row["status"],
        "run": run,
        "config_hash": row["config_hash"],
        "data": data,
        "metrics": row["metrics"],
        "provenance": provenance,
    }


def read_stored(run_dir: str | Path, rows: dict | None = None) -> dict | None:
    """A run's compact record as a dict, or None where its cell has no (readable) row of it.
    `rows`: an index() of its folder taken before (record.JobReader), else the folder's now."""
    folder, leaf = folder_of(run_dir)
    found = (index(folder) if rows is None else rows).get(leaf)
    if found is None:
        return None
    try:
        return stored_of(folder, *found)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None


def stored_rows(folder: str, leaves) -> Iterator[tuple[str, dict | None]]:
    """(leaf, the metrics.json-like dict read_stored gives, or None) of each of `leaves` once:
    the folder's files read once, newest file and row first (the row that counts), each parsed
    row dropped once used, so a cell of a million runs is read without holding its rows."""
    left = set(leaves)
    try:
        names = [name for _, name in reversed(_files(folder))]
    except OSError:
        names = []
    for name in names:
        if not left:
            break
        header, lines = _lines(f"{folder}/{name}")
        for line in reversed(lines if header is not None else ()):
            try:
                row = json.loads(line)
                leaf = row["leaf"]
                if leaf not in left:
                    continue
            except (ValueError, KeyError, TypeError):
                continue
            left.discard(leaf)
            try:
                yield leaf, stored_of(folder, header, row)
            except (ValueError, KeyError, TypeError, IndexError, AttributeError):
                yield leaf, None
    for leaf in left:
        yield leaf, None


def _lines(path: str) -> tuple[dict | None, list[str]]:
    """(header, row lines) of a compact file; (None, []) where its header does not parse."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        header = json.loads(lines[0])
    except (OSError, UnicodeDecodeError, ValueError):
        return None, []
    if not isinstance(header, dict) or header.get("layout") != LAYOUT:
        return None, []
    return header, lines[1:]


def discover(results: str | Path) -> list[str]:
    """Runs (relative to `results`) with a compact record, whatever its state."""
    found = []
    for folder in sorted(Path(results).glob(f"runs/*/*/*/{FOLDER}")):
        cell = folder.parent.relative_to(results).as_posix()
        found += [f"{cell}/{leaf}" for leaf in index(folder.as_posix()) if rundir.RUN_DIR_RE.match(f"{cell}/{leaf}")]
    return found
