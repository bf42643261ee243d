"""The writer thread (writer.py): run directories written in order off the critical path,
failures reported and counted, no half-written run counted done, drained before the job ends."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from conftest import tiny_config
from mlpsweep import checkpoint, record, rundir, training
from mlpsweep.config import validate_config
from mlpsweep.grid import expand_runs, job_params, plan_jobs
from mlpsweep.jobs import run_job
from mlpsweep.training import DataCache, JobSettings, ModelExporter, configure_backend, train_runs
from mlpsweep.writer import Writer


@pytest.fixture(scope="module", autouse=True)
def backend_ready():
    configure_backend(1)


def test_tasks_run_in_order_and_drain_waits_for_all():
    done = []
    with Writer(max_pending=2) as writer:
        for i in range(20):
            writer.submit(f"run{i}", lambda i=i: done.append(i))
        assert writer.drain() == {}
        assert done == list(range(20)) and writer.written == [f"run{i}" for i in range(20)]


def test_a_full_queue_blocks_the_submitter_until_the_writer_catches_up():
    release = threading.Event()
    writer = Writer(max_pending=1)
    writer.submit("a", release.wait)  # taken by the thread, which waits
    writer.submit("b", lambda: None)  # fills the queue
    third = threading.Thread(target=writer.submit, args=("c", lambda: None))
    third.start()
    third.join(0.3)
    assert third.is_alive()  # bounded: the third waits for room
    release.set()
    third.join(5)
    assert not third.is_alive()
    writer.close()
    assert writer.written == ["a", "b", "c"]


def test_a_failed_task_is_reported_and_the_rest_still_run():
    calls = []
    with Writer() as writer:
        writer.submit("bad", lambda: 1 / 0, calls.append)
        writer.submit("good", lambda: calls.append("good"))
        failures = writer.drain()
    assert failures == {"bad": "ZeroDivisionError: division by zero"}
    assert calls == ["ZeroDivisionError: division by zero", "good"] and writer.written == ["good"]


def sweep(seeds=(0, 1)):
    cfg = tiny_config(
        datasets={"gb": {"source": "synthetic", "n_samples": 200, "n_features": 4, "seed": 5}},
        architectures={"a": {"hidden": [8]}},
        seeds=list(seeds),
    )
    cfg["training"] = {"epochs": 2, "batch_size": 16}
    cfg["execution"] = {"runs_per_job": 4, "pack_size": 2, "threads": 1}
    return validate_config(cfg)


class FailingExporter(ModelExporter):
    """Saves models, but the one of `path` fails half-way: after history and predictions were written."""

    def __init__(self, bad: str):
        super().__init__()
        self.bad = bad

    def writer(self, config, n_features, n_classes, weights, **standardization):
        write = super().writer(config, n_features, n_classes, weights)
        bad = self.bad

        def maybe_fail(path: Path) -> None:
            if bad in str(path):
                raise OSError(28, "No space left on device")
            write(path)

        return maybe_fail


def test_a_failed_write_fails_its_run_which_is_not_done_and_keeps_its_checkpoint(tmp_path):
    runs = expand_runs(sweep())
    bad, good = runs
    statuses = train_runs(runs, tmp_path, DataCache(), JobSettings(exporter=FailingExporter(bad.path)))
    assert statuses == {bad.path: "failed", good.path: "finished"}
    bad_dir = tmp_path / bad.path
    assert (bad_dir / rundir.HISTORY_FILE).exists() and not (bad_dir / rundir.METRICS_FILE).exists()  # half-written
    assert not record.is_done(record.read(bad_dir), bad.config)
    assert "No space left on device" in json.loads((bad_dir / rundir.FAILED_FILE).read_text())["error"]
    assert record.is_done(record.read(tmp_path / good.path), good.config)
    assert list((tmp_path / checkpoint.FOLDER).glob("pack-*.npz"))  # not every member done: kept for the retry
    # the retry trains only the failed run, from the checkpoint, and removes the checkpoint once all are done
    assert train_runs(runs, tmp_path, DataCache()) == {bad.path: "finished", good.path: "skipped"}
    assert not list((tmp_path / checkpoint.FOLDER).glob("pack-*.npz"))


def test_a_job_with_a_failed_write_exits_non_zero_without_its_manifest(tmp_path, monkeypatch, caplog):
    cfg = {**sweep(seeds=(0, 1, 2, 3)), "results": str(tmp_path)}
    runs = expand_runs(cfg)
    (job,) = plan_jobs(runs, 4, 2)
    monkeypatch.setattr(training, "ModelExporter", lambda: FailingExporter(runs[1].path))
    manifest = tmp_path / "jobs" / "chunk0.json"
    with caplog.at_level(logging.INFO, logger="mlpsweep"):
        assert run_job(cfg, job_params(job)["packs"], str(tmp_path), str(manifest)) == 1
    assert not manifest.exists()
    assert f"1 of 4 runs failed: {runs[1].path}" in caplog.text
    done = [r.path for r in runs if record.is_done(record.read(tmp_path / r.path), r.config)]
    assert done == [
        runs[0].path,
        runs[2].path,
        runs[3].path,
    ]  # the second pack was written too: drained before the exit
    # each run's log has its own line, with its pack's time, and no line about the other pack's runs
    first_log = (tmp_path / runs[0].path / rundir.LOG_FILE).read_text()
    assert f"{tmp_path / runs[0].path}: finished in a pack of 2 trained in " in first_log and " s per run)" in first_log
    assert runs[2].path not in first_log and runs[3].path not in first_log
