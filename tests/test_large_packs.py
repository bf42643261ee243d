"""Packs as large as a GPU can take (issue #26, point 5), on a CPU with a tiny network: a pack of
1,024 runs trains through training.train_runs, is interrupted, resumes from its checkpoint,
records its permutation runs compactly and gives each member the numbers it has in a pack of 8
(within the engine's stated tolerance: tests/test_pack_equality.py); planning packs of 4,096.
"""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_config
from mlpsweep import checkpoint, compact, record, sizing
from mlpsweep.config import validate_config
from mlpsweep.grid import expand_runs, plan_jobs

LARGE = 1024
LOSS_RTOL = 1e-4  # the README's packing tolerance (tests/test_pack_equality.py)


def sweep_of(results: Path, permutations: int, pack_size: int, **execution) -> tuple[dict, list]:
    """One real run and `permutations` label-permutation runs of hidden [4] on 40 x 8 rows, 2 epochs."""
    cfg = tiny_config(
        datasets={"gb": {"source": "synthetic", "n_samples": 40, "n_features": 8, "seed": 5}},
        architectures={"a": {"hidden": [4]}},
        seeds=[0],
        summary={"permutations": permutations},
        results=str(results),
        execution={"pack_size": pack_size, "runs_per_job": pack_size, **execution},
    )
    cfg["training"] = {"epochs": 2, "batch_size": 8}
    sweep = validate_config(cfg)
    return sweep, expand_runs(sweep)


def scores(results: Path, run) -> dict:
    rec = record.read(results / run.path)
    assert rec is not None and rec.done, run.path
    return rec.metrics


def test_a_pack_of_1024_resumes_and_gives_the_numbers_of_a_small_pack(tmp_path, monkeypatch, caplog):
    from mlpsweep.training import DataCache, Interrupted, JobSettings, StopFlag, configure_backend, train_runs

    configure_backend(1)
    caplog.set_level(logging.INFO, logger="mlpsweep")  # as a job logs
    sweep, runs = sweep_of(tmp_path / "large", LARGE - 1, LARGE)
    assert len(runs) == LARGE and [len(p) for job in plan_jobs(runs, LARGE, LARGE) for p in job.packs] == [LARGE]
    cache = DataCache()  # both calls share the splits (made once: permutation runs relabel their real run's)
    keep = sweep["execution"]["keep"]

    # stopped after epoch 1's checkpoint, as by SIGTERM
    stop, real_save, sizes = StopFlag(), checkpoint.save, []

    def save_then_signal(path, members, arrays):
        real_save(path, members, arrays)
        sizes.append(Path(path).stat().st_size)
        stop.signum = signal.SIGTERM

    monkeypatch.setattr(checkpoint, "save", save_then_signal)
    with pytest.raises(Interrupted):
        train_runs(runs, sweep["results"], cache, JobSettings(stop=stop, keep=keep))
    monkeypatch.undo()
    (ckpt,) = (tmp_path / "large" / "checkpoints").iterdir()
    assert len(json.loads(np.load(ckpt)["state.json"].tobytes())["members"]) == LARGE and len(sizes) == 1

    statuses = train_runs(runs, sweep["results"], cache, JobSettings(keep=keep))
    assert statuses == {r.path: "finished" for r in runs}
    assert not list((tmp_path / "large" / "checkpoints").iterdir())  # removed once every run is recorded

    # the permutation runs: one compact file for the cell, rows that read back as done records
    real = next(r for r in runs if r.permutation is None)
    folder = tmp_path / "large" / Path(real.path).parent / compact.FOLDER
    assert len(list(folder.glob(f"*{compact.SUFFIX}"))) == 1
    assert sorted(compact.discover(tmp_path / "large")) == sorted(r.path for r in runs if r.permutation is not None)
    assert not any((tmp_path / "large" / r.path).exists() for r in runs if r.permutation is not None)
    # the real run's record names its pack without listing 1,024 paths; its log says where it trained
    stored = json.loads((tmp_path / "large" / real.path / "metrics.json").read_text())
    assert stored["provenance"]["pack"]["size"] == LARGE and stored["provenance"]["pack"]["members"] is None
    assert stored["provenance"]["resumed_from_epoch"] == 1
    log = (tmp_path / "large" / real.path / "train.log").read_text()
    assert f": {LARGE} runs ({runs[0].path} ... " in log and len(log) < 2000

    # the same runs' numbers in a pack of 8, trained straight
    picked = [runs[i] for i in np.linspace(0, LARGE - 1, 8).astype(int)]
    small, _ = sweep_of(tmp_path / "small", LARGE - 1, 8)
    assert train_runs(picked, small["results"], cache, JobSettings(keep=keep)) == {r.path: "finished" for r in picked}
    for run in picked:
        big, ref = scores(tmp_path / "large", run), scores(tmp_path / "small", run)
        for key in ("test_loss", "val_loss"):
            assert big[key] == pytest.approx(ref[key], rel=LOSS_RTOL), (run.path, key)
        assert big["test_accuracy"] == ref["test_accuracy"] and big["epochs_run"] == ref["epochs_run"] == 2


def test_planning_packs_of_4096(tmp_path):
    sweep, runs = sweep_of(tmp_path, 4095, 4096)
    assert len(runs) == 4096
    plan = sizing.plan(runs, sweep["execution"])
    assert plan.pack_sizes == {} and not plan.notes  # 4,096 tiny networks fit 2,000 MB
    (size,) = plan.sizes.values()
    assert size.splits == 4096 and size.host(4096) < 2000 * sizing.MB
    jobs = plan_jobs(runs, 4096, 4096, plan.pack_sizes)
    assert [len(p) for job in jobs for p in job.packs] == [4096]
    # a GPU of 540 MB (a 500 MB baseline) takes fewer: the pack is planned smaller, and cut at job time
    tight, _ = sweep_of(tmp_path, 4095, 4096, gpu_mem_mb=540)
    cut = sizing.plan(runs, tight["execution"])
    k = cut.pack_sizes[next(iter(cut.sizes))]
    assert 1 < k < 4096 and size.gpu(k) <= 540 * sizing.MB < size.gpu(k + 1)
    fit = sizing.fit_gpu([list(jobs[0].packs[0])], 540)
    assert {len(p) for p in fit.packs[:-1]} == {k} and sum(map(len, fit.packs)) == 4096 and not fit.refused
