"""Progress lines of a pack (progress.py) and the sweep status (status.py, `--config status=1`)
on a sweep stopped half-way: finished, diverged and failed runs, a killed job's checkpoint."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from conftest import run_snakemake, tiny_config, write_config
from mlpsweep import checkpoint, rundir
from mlpsweep.config import validate_config
from mlpsweep.grid import expand_runs, plan_jobs
from mlpsweep.progress import PackProgress, summary_line
from mlpsweep.status import render, status


@dataclass
class FakeMember:
    epoch: int
    epochs: int = 10
    history: list = field(default_factory=list)
    status: str = "training"

    @property
    def active(self) -> bool:
        return self.status == "training"


def test_progress_line_names_epoch_members_scores_speed_and_end():
    members = [
        FakeMember(4, history=[{"val_accuracy": 0.6}]),
        FakeMember(4, history=[{"val_accuracy": 0.8}]),
        FakeMember(3, history=[{"val_accuracy": 0.7}], status="stopped_early"),
    ]
    now = datetime(2026, 1, 2, 12, 0, 0, tzinfo=timezone.utc)
    line = summary_line("pack-x", members, epochs_done=4, elapsed=8.0, now=now)
    assert (
        line
        == "pack pack-x: epoch 4/10, 2 of 3 members training, val. accuracy mean 0.700 best 0.800, 2.00 s per epoch, expected end in 12 s (12:00:12 UTC)"
    )


def test_progress_is_logged_once_per_epoch_at_most_and_at_most_every_n_seconds():
    clock = iter([0.0, 1.0, 2.0, 31.0, 32.0, 70.0]).__next__  # start, then the end of 5 epochs
    lines = []
    progress = PackProgress("pack-x", 30.0, clock=clock, emit=lines.append)
    members = [FakeMember(e) for e in (1,)]
    emitted = [progress.epoch_done(members) is not None for _ in range(5)]
    assert emitted == [False, False, True, False, True] and len(lines) == 2
    every = PackProgress("pack-y", 0.0, clock=iter([0, 10, 11, 12]).__next__, emit=lines.append)
    assert all(every.epoch_done(members) for _ in range(3))  # 0 s: every epoch
    assert "1.00 s per epoch, expected end in 9 s (" in lines[-1]  # the first epoch (it traces the step) not counted


def stopped_half_way(tmp_path):
    """A sweep of 8 runs: 3 finished, 1 diverged, 1 failed, 2 in a killed job's checkpoint, 1 waiting."""
    cfg = validate_config(
        tiny_config(architectures={"small": {"hidden": [8]}}, seeds=[0, 1, 2, 3], results=str(tmp_path / "results"))
    )
    runs = expand_runs(cfg)
    jobs = plan_jobs(runs, 4, 2)
    results = tmp_path / "results"
    by_cell = {}
    for run in runs:
        by_cell.setdefault(run.cell, []).append(run)
    goodbad, iris = by_cell.values()
    for run, state in zip(goodbad + iris[:0], ["finished", "finished", "finished", "diverged"]):
        record = {
            "status": state,
            "config": run.config,
            "config_hash": run.hash,
            "metrics": {"fit_seconds": 0.9, "epochs_run": 2},
            "provenance": {"pack": {"size": 2}, "device": {"type": "CPU"}},
        }
        rundir.write_result(results / run.path, record, [], durable=False)
    rundir.write_failure(results / iris[0].path, iris[0].hash, "DataError: bad", "now")
    members = [
        {"path": r.path, "hash": r.hash, "fingerprint": "f", "epoch": 1, "status": "training"} for r in iris[1:3]
    ]
    checkpoint.save(
        checkpoint.path_of(results, checkpoint.pack_key([r.hash for r in iris[1:3]])),
        members,
        {"w0": np.zeros((2, 3), np.float32)},
    )
    return cfg, jobs, results, goodbad, iris


def test_status_of_a_sweep_stopped_half_way(tmp_path):
    cfg, jobs, results, goodbad, iris = stopped_half_way(tmp_path)
    st = status(cfg, jobs, results)
    assert st["total"].states == {"finished": 3, "diverged": 1, "failed": 1, "training": 2, "waiting": 1}
    assert st["cells"][goodbad[0].cell].states["finished"] == 3 and st["cells"][iris[0].cell].epochs == [(1, 2), (1, 2)]
    assert math.isclose(st["fit_hours_spent"], 4 * 0.9 / 3600)
    assert st["runs_without_cost"] == 4  # the iris kind never finished a run: no measured cost
    text = render(st)
    assert "- Runs: **4 of 8 done** (3 finished, 1 diverged), 2 training, 1 failed, 1 waiting." in text
    assert f"| {iris[0].cell} | 4 | 0 | 2 (epoch 1-1 of 2) | 1 | 0 | 1 |" in text
    # 4 of 8 done, 2 training at epoch 1 of 2 (half each): 62.5 % in all; a bar of 20: 10 done, 2 half-way
    assert "| **all** | 8 | 3 | 2 (epoch 1-1 of 2) | 1 | 1 | 1 | `██████████▒▒░░░░░░░░ 62 %` |" in text


def test_status_command_runs_through_snakemake_without_training(tmp_path):
    cfg, _, results, _, iris = stopped_half_way(tmp_path)
    write_config(
        tmp_path, {k: v for k, v in tiny_config(architectures={"small": {"hidden": [8]}}, seeds=[0, 1, 2, 3]).items()}
    )
    proc = run_snakemake(tmp_path, "--config", "status=1", "--nolock", timeout=120)
    assert "**4 of 8 done**" in proc.stdout and "2 training" in proc.stdout
    (report,) = (results / "status").glob("*.md")
    assert f"| {iris[0].cell} | 4 | 0 | 2 (epoch 1-1 of 2) | 1 | 0 | 1 |" in report.read_text()
    assert not (results / "jobs").exists() and not list((results / "checkpoints").glob("*.tmp*"))  # nothing trained
