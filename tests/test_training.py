"""Training runs in packs: run directories, resume, skipping, early stopping, divergence, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

import mlpsweep.storage as storage
from conftest import REPO, tiny_config
from mlpsweep import checkpoint, rundir
from mlpsweep.config import validate_config
from mlpsweep.engine.pack import Pack
from mlpsweep.grid import expand_runs
from mlpsweep.training import DataCache, Interrupted, JobSettings, StopFlag, configure_backend, train_runs


@pytest.fixture(scope="module", autouse=True)
def backend_ready():
    configure_backend(1)


def sweep(n_samples=400, epochs=4, seeds=(3,), grid=None, training=None, **overrides):
    cfg = tiny_config(
        datasets={"gb": {"source": "synthetic", "n_samples": n_samples, "n_features": 6, "seed": 5}},
        architectures={"a": {"hidden": [16, 8], "dropout": 0.25}},
        seeds=list(seeds),
        grid=grid or {},
        **overrides,
    )
    cfg["training"] = {"epochs": epochs, "batch_size": 16, **(training or {})}
    return expand_runs(validate_config(cfg))


def record(results: Path, run) -> dict:
    return json.loads((results / run.path / "metrics.json").read_text())


def numbers(results: Path, run) -> tuple:
    """A run's numbers without wall times: metrics and history."""
    metrics = {k: v for k, v in record(results, run)["metrics"].items() if k != "fit_seconds"}
    history = pd.read_csv(results / run.path / "history.csv").drop(columns="seconds")
    return metrics, history.to_dict("list")


def test_run_directory_contents_and_provenance(tmp_path):
    runs = sweep(seeds=(3, 4))
    assert train_runs(runs, tmp_path, DataCache(), JobSettings(extra_provenance={"threads": 1})) == {
        r.path: "finished" for r in runs
    }
    run_dir = tmp_path / runs[0].path
    assert {p.name for p in run_dir.iterdir()} == {
        "metrics.json",
        "history.csv",
        "model.keras",
        "model.json",
        "predictions.csv",
        "train.log",
    }
    rec = record(tmp_path, runs[0])
    m = rec["metrics"]
    for key in (
        "test_loss",
        "test_accuracy",
        "test_balanced_accuracy",
        "test_macro_f1",
        "val_loss",
        "val_accuracy",
        "train_loss",
        "train_accuracy",
        "epochs_run",
        "n_params",
        "fit_seconds",
    ):
        assert key in m
    assert np.array(m["test_confusion_matrix"]).sum() == rec["data"]["n_test"] == sum(rec["data"]["test_class_counts"])
    assert m["epochs_run"] == 4 and rec["config"] == runs[0].config and rec["config_hash"] == runs[0].hash
    assert rec["run"] == {
        "dataset": "gb",
        "architecture": "a",
        "hparams": "default",
        "seed": 3,
        "fold": None,
        "permutation": None,
        "window": None,
        "subject": None,
    }
    prov = rec["provenance"]
    assert prov["pack"].pop("trace_seconds") > 0
    assert prov["pack"] == {
        "key": checkpoint.pack_key([r.hash for r in runs]),
        "size": 2,
        "index": 0,
        "members": [r.path for r in runs],
    }
    assert (
        prov["keras_backend"] == keras.backend.backend() and prov["threads"] == 1 and prov["resumed_from_epoch"] is None
    )
    assert prov["device"]["type"] in ("CPU", "GPU") and prov["started"] <= prov["finished"]
    history = (run_dir / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,loss,accuracy,val_loss,val_accuracy,seconds" and len(history) == 5
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert len(predictions) == rec["data"]["n_test"] and set(predictions["true"]) <= {"good", "bad"}
    assert (predictions["true"] == predictions["predicted"]).mean() == pytest.approx(m["test_accuracy"])
    model = keras.models.load_model(run_dir / "model.keras", safe_mode=True)
    assert (
        model.count_params() == m["n_params"] + 2 * rec["data"]["n_features"] + 1
    )  # the standardization's mean, variance and count
    assert (
        json.loads((run_dir / "model.json").read_text())["class_names"] == rec["data"]["class_names"]
        and rec["model_format"] == 2
    )
    assert not (tmp_path / "checkpoints").exists() or not list((tmp_path / "checkpoints").iterdir())


def test_saved_model_reproduces_the_recorded_test_metrics_from_raw_rows(tmp_path):
    run = sweep()[0]
    train_runs([run], tmp_path, DataCache())
    cache = DataCache()
    splits, _ = cache.splits(run.config)
    raw = cache.dataset(run.config).x[splits.test_index]  # not standardized: the model does it
    model = keras.models.load_model(tmp_path / run.path / "model.keras", safe_mode=True)
    probabilities = model.predict(raw, verbose=0)
    m = record(tmp_path, run)["metrics"]
    loss = -np.mean(
        np.log(np.clip(probabilities[np.arange(len(raw)), splits.y_test], 1e-7, 1))
    )  # Keras's clipped cross-entropy
    assert (probabilities.argmax(axis=1) == splits.y_test).mean() == pytest.approx(
        m["test_accuracy"], abs=1e-6
    ) and loss == pytest.approx(m["test_loss"], rel=1e-4)


def test_same_runs_give_bit_identical_numbers(tmp_path):
    runs = sweep(seeds=(1, 2))
    train_runs(runs, tmp_path / "a", DataCache())
    train_runs(runs, tmp_path / "b", DataCache())
    for run in runs:
        assert numbers(tmp_path / "a", run) == numbers(tmp_path / "b", run)


def stop_after_checkpoints(monkeypatch, n: int, stop: StopFlag):
    """Raise the stop flag once `n` checkpoints were written (as if SIGTERM came mid-epoch)."""
    real = checkpoint.save
    saved = []

    def save_then_signal(*args, **kwargs):
        real(*args, **kwargs)
        saved.append(1)
        if len(saved) == n:
            stop.signum = signal.SIGTERM

    monkeypatch.setattr(checkpoint, "save", save_then_signal)


@pytest.mark.parametrize(
    "training",
    [
        {},
        {"optimizer": "sgd", "momentum": 0.9},
        {"optimizer": "adam", "learning_rate": 0.003},
        {"optimizer": "nadam", "learning_rate": 0.003},
    ],
)
def test_interrupted_pack_resumes_to_the_same_numbers(tmp_path, monkeypatch, training):
    runs = sweep(seeds=(3, 4), training=training)
    train_runs(runs, tmp_path / "straight", DataCache())
    stop = StopFlag()
    stop_after_checkpoints(monkeypatch, 2, stop)
    with pytest.raises(Interrupted):
        train_runs(runs, tmp_path / "resumed", DataCache(), JobSettings(stop=stop))
    assert not any((tmp_path / "resumed" / r.path / "metrics.json").exists() for r in runs)
    monkeypatch.undo()
    assert train_runs(runs, tmp_path / "resumed", DataCache()) == {r.path: "finished" for r in runs}
    for run in runs:
        assert record(tmp_path / "resumed", run)["provenance"]["resumed_from_epoch"] == 2
        assert numbers(tmp_path / "straight", run) == numbers(tmp_path / "resumed", run)
    assert not list((tmp_path / "resumed" / "checkpoints").iterdir())


def test_checkpoints_at_most_every_checkpoint_seconds_and_always_on_a_stop_signal(tmp_path, monkeypatch):
    """execution.checkpoint_seconds: no checkpoint while the pack trains quicker than that, yet a stop
    signal saves the last completed epoch, so the retry resumes there to the same numbers."""
    runs = sweep(seeds=(3, 4))
    train_runs(runs, tmp_path / "straight", DataCache())
    saves, real_save = [], checkpoint.save
    monkeypatch.setattr(checkpoint, "save", lambda *a, **k: (saves.append(1), real_save(*a, **k)))
    train_runs(runs, tmp_path / "quiet", DataCache(), JobSettings(checkpoint_seconds=3600))
    assert saves == []  # four short epochs: none was saved

    stop, epochs_done = StopFlag(), []
    real_epoch = Pack.train_epoch

    def epoch_then_signal(self, should_stop):
        done = real_epoch(self, should_stop)
        epochs_done.append(1)
        if len(epochs_done) == 3:
            stop.signum = signal.SIGTERM  # after epoch 3 completed, before its checkpoint would be due
        return done

    monkeypatch.setattr(Pack, "train_epoch", epoch_then_signal)
    with pytest.raises(Interrupted):
        train_runs(runs, tmp_path / "stopped", DataCache(), JobSettings(stop=stop, checkpoint_seconds=3600))
    assert len(saves) == 1  # the one save, on the signal
    monkeypatch.undo()
    assert train_runs(runs, tmp_path / "stopped", DataCache()) == {r.path: "finished" for r in runs}
    for run in runs:
        assert record(tmp_path / "stopped", run)["provenance"]["resumed_from_epoch"] == 3
        assert numbers(tmp_path / "straight", run) == numbers(tmp_path / "stopped", run)


def test_resume_works_in_another_pack(tmp_path, monkeypatch):
    """A checkpointed member is restored also when the retry packs it with other runs."""
    runs = sweep(seeds=(3, 4, 5))
    train_runs(runs[:1], tmp_path / "alone", DataCache())
    stop = StopFlag()
    stop_after_checkpoints(monkeypatch, 1, stop)
    with pytest.raises(Interrupted):
        train_runs(runs[:2], tmp_path / "r", DataCache(), JobSettings(stop=stop))
    monkeypatch.undo()
    train_runs([runs[0], runs[2]], tmp_path / "r", DataCache())
    rec = record(tmp_path / "r", runs[0])
    assert rec["provenance"]["resumed_from_epoch"] == 1 and rec["provenance"]["pack"]["size"] == 2
    ours, alone = numbers(tmp_path / "r", runs[0]), numbers(tmp_path / "alone", runs[0])
    np.testing.assert_allclose(ours[1]["loss"], alone[1]["loss"], rtol=1e-4)
    assert list((tmp_path / "r" / "checkpoints").iterdir())  # runs[1]'s state is kept for its retry
    train_runs([runs[1]], tmp_path / "r", DataCache())
    assert record(tmp_path / "r", runs[1])["provenance"]["resumed_from_epoch"] == 1
    assert not list((tmp_path / "r" / "checkpoints").iterdir())


KILL_DURING_CHECKPOINT = """
import os, signal, sys
sys.path.insert(0, {scripts!r}); sys.path.insert(0, {tests!r})
import mlpsweep.storage as storage
real = os.replace
seen = []
def replace(src, dst):
    if "checkpoints" in str(dst):
        seen.append(dst)
        if len(seen) == 3:  # the temporary file of epoch 3 is written and fsynced; die before the rename
            os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst)
storage.os.replace = replace
from test_training import sweep
from mlpsweep.training import DataCache, configure_backend, train_runs
configure_backend(1)
train_runs(sweep(seeds=(3, 4)), {results!r}, DataCache())
"""


@pytest.mark.slow  # a killed child process with TensorFlow's start-up, and two trainings of a pack
def test_a_kill_inside_a_checkpoint_replacement_resumes_from_the_last_complete_one(tmp_path):
    runs = sweep(seeds=(3, 4))
    train_runs(runs, tmp_path / "straight", DataCache())
    code = KILL_DURING_CHECKPOINT.format(
        scripts=str(REPO / "scripts"), tests=str(REPO / "tests"), results=str(tmp_path / "killed")
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    folder = tmp_path / "killed" / "checkpoints"
    assert [p.name for p in folder.iterdir() if p.suffix == ".npz"] and any(
        p.name.endswith(".tmp") for p in folder.iterdir()
    )  # the new one never replaced the old
    train_runs(runs, tmp_path / "killed", DataCache())
    for run in runs:
        assert record(tmp_path / "killed", run)["provenance"]["resumed_from_epoch"] == 2
        assert numbers(tmp_path / "killed", run) == numbers(tmp_path / "straight", run)


def test_finished_run_is_skipped_and_changed_config_retrains(tmp_path):
    run = sweep()[0]
    train_runs([run], tmp_path, DataCache())
    before = (tmp_path / run.path / "metrics.json").stat().st_mtime_ns
    assert train_runs([run], tmp_path, DataCache()) == {run.path: "skipped"}
    assert (tmp_path / run.path / "metrics.json").stat().st_mtime_ns == before
    changed = sweep(epochs=2)[0]
    assert changed.path == run.path and train_runs([changed], tmp_path, DataCache()) == {run.path: "finished"}
    assert record(tmp_path, run)["metrics"]["epochs_run"] == 2


def test_checkpoint_of_another_config_or_other_data_is_not_resumed(tmp_path, monkeypatch):
    run = sweep()[0]
    stop = StopFlag()
    stop_after_checkpoints(monkeypatch, 1, stop)
    with pytest.raises(Interrupted):
        train_runs([run], tmp_path, DataCache(), JobSettings(stop=stop))
    monkeypatch.undo()
    other = sweep(training={"learning_rate": 0.05})[0]
    train_runs([other], tmp_path, DataCache())
    assert record(tmp_path, other)["provenance"]["resumed_from_epoch"] is None
    wanted = {run.path: (run.hash, "another fingerprint")}
    assert checkpoint.find(tmp_path, wanted) == {}


def test_early_stopping_stops_and_restores_best(tmp_path):
    run = sweep(epochs=40, training={"learning_rate": 0.5, "early_stopping": {"patience": 2, "monitor": "val_loss"}})[0]
    train_runs([run], tmp_path, DataCache())
    m = record(tmp_path, run)["metrics"]
    assert m["stopped_early"] and m["epochs_run"] < 40 and m["best_epoch"] == m["epochs_run"] - 2
    val_losses = pd.read_csv(tmp_path / run.path / "history.csv")["val_loss"].tolist()
    assert min(val_losses) == pytest.approx(val_losses[m["best_epoch"] - 1], rel=1e-5)
    assert m["val_loss"] == pytest.approx(min(val_losses), rel=1e-4)  # the restored weights are the best epoch's


def test_a_diverging_member_is_frozen_while_its_siblings_finish(tmp_path):
    runs = sweep(grid={"learning_rate": [0.01, 1e12]}, training={"optimizer": "sgd", "epochs": 3})
    statuses = train_runs(runs, tmp_path, DataCache())
    ok, bad = (next(r for r in runs if r.config["training"]["learning_rate"] == lr) for lr in (0.01, 1e12))
    assert statuses == {ok.path: "finished", bad.path: "diverged"}
    assert record(tmp_path, bad)["status"] == "diverged" and "test_accuracy" not in record(tmp_path, bad)["metrics"]
    assert not (tmp_path / bad.path / "model.keras").exists() and (tmp_path / ok.path / "model.keras").exists()
    alone = tmp_path / "alone"
    train_runs([ok], alone, DataCache())
    assert numbers(alone, ok)[1]["loss"] == pytest.approx(numbers(tmp_path, ok)[1]["loss"], rel=1e-4)


def test_a_member_with_bad_data_fails_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "few.csv").write_text("a,b,label\n1,2,0\n2,3,1\n3,4,0\n4,5,1\n")
    cfg = tiny_config(
        datasets={
            "few": {"source": "file", "path": "few.csv", "label": "label"},
            "gb": {"source": "synthetic", "n_samples": 300, "n_features": 4},
        },
        architectures={"a": {"hidden": [4]}},
        seeds=[0],
        training={"epochs": 1},
    )
    runs = expand_runs(validate_config(cfg))
    statuses = train_runs(runs, tmp_path / "results", DataCache())
    assert statuses == {"runs/few/a/default/seed0": "failed", "runs/gb/a/default/seed0": "finished"}
    failed = json.loads((tmp_path / "results/runs/few/a/default/seed0/failed.json").read_text())
    assert "dataset 'few' (file few.csv): 4 samples in 2 classes" in failed["error"]


def test_cross_validated_runs_record_their_test_rows_and_groups(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = "".join(f"s{i % 6},{np.sin(i)},{np.cos(i) + (i % 2)},{i % 2}\n" for i in range(180))
    (tmp_path / "eeg.csv").write_text("subject,f1,f2,condition\n" + rows)
    cfg = tiny_config(
        datasets={"eeg": {"source": "file", "path": "eeg.csv", "label": "condition"}},
        architectures={"a": {"hidden": [8]}},
        seeds=[0],
        training={"epochs": 2},
        split={"method": "group_kfold", "folds": 3, "group": "subject"},
    )
    runs = expand_runs(validate_config(cfg))
    assert [r.path for r in runs] == [f"runs/eeg/a/default/seed0_fold{f}" for f in range(3)]
    train_runs(runs, tmp_path / "results", DataCache())
    tested = []
    for run in runs:
        rec = record(tmp_path / "results", run)
        by_group = rec["metrics"]["test_by_group"]
        predictions = pd.read_csv(tmp_path / "results" / run.path / "predictions.csv")
        assert sorted(by_group) == sorted(set(predictions["group"])) and sum(g["n"] for g in by_group.values()) == len(
            predictions
        )
        tested += predictions["row"].tolist()
    assert sorted(tested) == list(range(180))  # every row tested once


def test_members_that_share_a_split_share_its_rows(tmp_path):
    """With split.seed fixed every member trains on the same rows: the pack keeps one copy."""
    from mlpsweep.engine.pack import Pack
    from mlpsweep.training import _member, _shape, prepare

    runs = sweep(seeds=(1, 2, 3), split={"seed": 0})
    todo, _ = prepare(runs, tmp_path, DataCache())
    one_hots: dict = {}
    pack = Pack(_shape(todo[0]), "sgd", 16, [_member(p, one_hots) for p in todo])
    assert pack.data.x.shape[0] == len(todo[0].splits.y_train) and pack.offsets.tolist() == [0, 0, 0]
    assert train_runs(runs, tmp_path / "shared", DataCache()) == {r.path: "finished" for r in runs}
    alone = tmp_path / "alone"
    train_runs(runs[1:2], alone, DataCache())
    np.testing.assert_allclose(
        numbers(alone, runs[1])[1]["loss"], numbers(tmp_path / "shared", runs[1])[1]["loss"], rtol=1e-4
    )


def test_a_stop_signal_during_start_up_ends_the_job_before_any_run(tmp_path):
    """SIGTERM while Python and the backend start (the flag is already installed): the job
    trains nothing, writes no manifest and exits as interrupted, so it is retried or requeued."""
    from mlpsweep.grid import job_params, plan_jobs
    from mlpsweep.jobs import EXIT_INTERRUPTED, run_job

    stop = StopFlag()
    stop(signal.SIGTERM, None)
    results, manifest = tmp_path / "results", tmp_path / "results" / "jobs" / "chunk0.json"
    cfg = validate_config(
        tiny_config(
            datasets={"gb": {"source": "synthetic", "n_samples": 400, "n_features": 6, "seed": 5}},
            architectures={"a": {"hidden": [16, 8]}},
        )
    )
    (job,) = plan_jobs(expand_runs(cfg), 8, 4)
    assert run_job(cfg, job_params(job)["packs"], str(results), str(manifest), stop=stop) == EXIT_INTERRUPTED
    assert not (results / "runs").exists() and not manifest.exists()


def test_the_train_script_installs_its_stop_flag_before_importing_the_backend():
    """scripts/train.py: the first statements after `import os, sys` install the flag; nothing
    heavy (config, jobs, keras) is imported before it."""
    import ast

    tree = ast.parse((REPO / "scripts" / "train.py").read_text())
    body = [node for node in tree.body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    install = next(i for i, node in enumerate(body) if "StopFlag().install()" in ast.unparse(node))
    before = [ast.unparse(node) for node in body[:install]]
    assert before == ["import os", "import sys", "from mlpsweep.preemption import StopFlag"]
