"""Pack checkpoints: after every epoch, one file holds the state of every member of a pack.

One file per pack, replaced by a single rename (write to a temporary file, fsync it, rename
it over the old one, fsync the folder), so a reader finds the previous complete checkpoint
or the new one, never a mix. Each member's state is keyed by its run's identity and data
fingerprint, so a retry restores every member whose state it finds, also when the members
are packed differently (another pack size, a finished sibling left out): members are
independent, each only needs its own epoch counter, weights and optimizer state.

    results/checkpoints/<pack key>.npz
        state.json      members: run path, identity hash, data fingerprint, epoch, status,
                        history, fit seconds, early-stopping state, whether best weights exist
        w<i>, s<i>_<j>  stacked weights and optimizer slots (members on axis 0)
        b<i>            stacked best weights (EarlyStopping's restore_best_weights)
        steps, shared   per-member optimizer step counts and shared optimizer state
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .storage import write_bytes_atomic

log = logging.getLogger("mlpsweep")

FOLDER = "checkpoints"
STATE = "state.json"


def pack_key(run_hashes: list[str]) -> str:
    return "pack-" + hashlib.sha256(",".join(run_hashes).encode()).hexdigest()[:16]


def path_of(results: Path, key: str) -> Path:
    return Path(results) / FOLDER / f"{key}.npz"


def save(path: Path, members: list[dict], arrays: dict[str, np.ndarray]) -> None:
    """Write one pack's checkpoint atomically (one rename) and durably (fsync of file and folder)."""
    buffer = io.BytesIO()
    payload = {
        **arrays,
        STATE: np.frombuffer(json.dumps({"members": members}, allow_nan=True).encode(), dtype=np.uint8),
    }
    np.savez(buffer, **payload)
    write_bytes_atomic(path, buffer.getvalue())


@dataclass
class Found:
    """One member's state in a checkpoint file: its state dict and its slice of the arrays."""

    path: Path
    index: int
    state: dict
    arrays: dict


def _read_state(path: Path) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return json.loads(archive[STATE].tobytes().decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        log.warning("checkpoint %s is unreadable (%s); ignored", path, exc)
        return None


def find(results: Path, wanted: dict[str, tuple[str, str]]) -> dict[str, Found]:
    """The newest state of each wanted run (run path -> (identity hash, data fingerprint)) in any
    checkpoint file of `results`; states of another identity or other data are not used."""
    found: dict[str, Found] = {}
    folder = Path(results) / FOLDER
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("pack-*.npz")):
        state = _read_state(path)
        if state is None:
            continue
        hits = [
            (i, m) for i, m in enumerate(state["members"]) if wanted.get(m["path"]) == (m["hash"], m["fingerprint"])
        ]
        if not hits:
            continue
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files if name != STATE}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            log.warning("checkpoint %s is unreadable (%s); ignored", path, exc)
            continue
        for i, member in hits:
            best = found.get(member["path"])
            if best is None or member["epoch"] > best.state["epoch"]:
                found[member["path"]] = Found(path, i, member, arrays)
    return found


def remove_if_done(path: Path, results: Path) -> None:
    """Delete a checkpoint file once every member it holds has its result (of that identity)."""
    from . import record

    def done(member: dict) -> bool:
        rec = record.read(Path(results) / member["path"])
        return rec is not None and rec.done and record.identity_hash(rec) == member["hash"]

    state = _read_state(path) if path.is_file() else None
    if state is not None and all(done(m) for m in state["members"]):
        path.unlink(missing_ok=True)


def epochs_reached(results: Path) -> dict[str, tuple[str, int]]:
    """Every run in a checkpoint file of `results`: run path -> (identity hash, newest epoch).
    Reads only each file's state (the status command, while a sweep runs)."""
    out: dict[str, tuple[str, int]] = {}
    folder = Path(results) / FOLDER
    for path in sorted(folder.glob("pack-*.npz")) if folder.is_dir() else []:
        state = _read_state(path)
        for member in (state or {}).get("members", []):
            if member["path"] not in out or member["epoch"] > out[member["path"]][1]:
                out[member["path"]] = (member["hash"], member["epoch"])
    return out
