"""Where a running (or stopped) sweep stands, from its files alone: `--config status=1`.

Per cell and overall: runs finished, diverged, failed, training (in a pack checkpoint: the
epoch reached) and waiting; the device time spent (the finished runs' training time, and the
wall time of the training jobs that ended); and the expected device time left, from the
estimate's figures (estimate.py: measured seconds per run-epoch of each kind, start-up per
job), without training anything. Reads metrics.json, failed.json and the checkpoints' state
only, so it runs on a login node while the sweep's jobs run.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from . import checkpoint, record, rundir
from .estimate import estimate, read_records
from .grid import Job
from .progress import BAR_WIDTH, text_bar
from .storage import read_json

STATES = ("finished", "diverged", "failed", "training", "waiting")


@dataclass
class Counts:
    runs: int = 0
    states: dict = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    epochs: list = field(default_factory=list)  # (epoch reached, epochs) of the runs training
    fit_seconds: float = 0.0

    def add(self, state: str, epoch: tuple[int, int] | None = None, seconds: float = 0.0) -> None:
        self.runs += 1
        self.states[state] += 1
        if epoch is not None:
            self.epochs.append(epoch)
        self.fit_seconds += seconds


def _failed(run_dir: Path, run_hash: str) -> bool:
    try:
        return read_json(run_dir / rundir.FAILED_FILE).get("config_hash") == run_hash
    except (OSError, ValueError, AttributeError):
        return False


def _jobs_wall_seconds(results: Path) -> tuple[float, int]:
    total, n = 0.0, 0
    for tsv in sorted((results / "benchmarks" / "train").glob("*.tsv")):
        try:
            with open(tsv, encoding="utf-8") as fh:
                total += float(next(csv.DictReader(fh, delimiter="\t"))["s"])
                n += 1
        except (OSError, ValueError, KeyError, StopIteration):
            continue
    return total, n


def status(sweep: dict, jobs: list[Job], results: Path) -> dict:
    """Counts per cell and overall, device time spent and the expected time left."""
    results = Path(results)
    records = read_records(results)
    in_checkpoints = checkpoint.epochs_reached(results)
    cells: dict[str, Counts] = {}
    total = Counts()
    for job in jobs:
        for run in job.runs:
            rec = records.get(run.path)
            epochs = run.config["training"]["epochs"]
            if record.is_done(rec, run.config):
                state, epoch, seconds = rec.status, None, rec.metrics.get("fit_seconds") or 0.0
            elif _failed(results / run.path, run.hash):
                state, epoch, seconds = "failed", None, 0.0
            elif in_checkpoints.get(run.path, ("", 0))[0] == run.hash:
                state, epoch, seconds = "training", (in_checkpoints[run.path][1], epochs), 0.0
            else:
                state, epoch, seconds = "waiting", None, 0.0
            for counts in (cells.setdefault(run.cell, Counts()), total):
                counts.add(state, epoch, seconds)
    left = estimate(sweep, jobs, results, calibrate_missing=False)
    known = [row for row in left["by_kind"] if math.isfinite(row["seconds"])]
    unknown_runs = sum(row["runs"] for row in left["by_kind"] if not math.isfinite(row["seconds"]))
    wall, n_jobs = _jobs_wall_seconds(results)
    seconds_left = sum(row["seconds"] for row in known) + left["startup_seconds_per_job"] * left["jobs_to_submit"]
    return {
        "cells": cells,
        "total": total,
        "fit_hours_spent": total.fit_seconds / 3600,
        "job_hours_spent": wall / 3600,
        "jobs_ended": n_jobs,
        "hours_left": seconds_left / 3600,
        "runs_without_cost": unknown_runs,
        "startup_source": left["startup_source"],
    }


def progress_bar(c: Counts, width: int = BAR_WIDTH) -> str:
    """A text progress bar: runs done (█), the epochs of runs in training (▒), the rest (░),
    and the share done counting training runs by their epochs, e.g. `████▒░░░ 55 %`."""
    if not c.runs:
        return ""
    done = (c.states["finished"] + c.states["diverged"]) / c.runs
    return text_bar(done, sum(e / n for e, n in c.epochs if n) / c.runs, width)


def _row(name: str, c: Counts) -> str:
    s = c.states
    training = f"{s['training']}" + (
        f" (epoch {min(e for e, _ in c.epochs)}-{max(e for e, _ in c.epochs)} of {max(n for _, n in c.epochs)})"
        if c.epochs
        else ""
    )
    return (
        f"| {name} | {c.runs} | {s['finished']} | {training} | {s['failed']} | {s['diverged']} "
        f"| {s['waiting']} | `{progress_bar(c)}` |"
    )


def render(st: dict, stamp: str = "") -> str:
    """The status as Markdown (printed, and kept in results/status/<stamp>.md)."""
    t = st["total"]
    s = t.states
    lines = [
        f"# Sweep status{f' at {stamp}' if stamp else ''}",
        "",
        f"`{progress_bar(t, 40)}`",
        "",
        (
            f"- Runs: **{s['finished'] + s['diverged']} of {t.runs} done** "
            f"({s['finished']} finished, {s['diverged']} diverged), {s['training']} training, "
            f"{s['failed']} failed, {s['waiting']} waiting."
        ),
        (
            f"- Device time spent: {st['fit_hours_spent']:.3f} h training the done runs; "
            f"{st['job_hours_spent']:.3f} h of wall time in {st['jobs_ended']} training jobs that ended."
        ),
        f"- Expected device time left: **{st['hours_left']:.3f} device-hours** "
        f"(the estimate's figures: measured seconds per run-epoch, start-up {st['startup_source']};"
        " runs in training counted in full)"
        + (
            f"; {st['runs_without_cost']} runs of kinds never trained yet are not counted"
            if st["runs_without_cost"]
            else ""
        )
        + ".",
        "",
        "| Cell | Runs | Finished | Training | Failed | Diverged | Waiting | Progress |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [_row(cell, counts) for cell, counts in st["cells"].items()]
    lines.append(_row("**all**", t))
    return "\n".join(lines) + "\n"
