import json

import numpy as np
import pytest

import mlpsweep.training as training
from mlpsweep.config import validate_config
from mlpsweep.grid import expand_runs
from mlpsweep.training import DataCache, Interrupted, StopFlag, configure_tensorflow, fit_run, train_and_record

from conftest import tiny_config


@pytest.fixture(scope="module", autouse=True)
def tf_ready():
    configure_tensorflow(1)


def run_config(**overrides):
    cfg = tiny_config(datasets={"gb": {"source": "synthetic", "n_samples": 400, "n_features": 6, "seed": 5}}, architectures={"a": {"hidden": [16, 8], "dropout": 0.25}}, seeds=[3])
    cfg["training"] = {"epochs": 4, "batch_size": 16, **overrides}
    return expand_runs(validate_config(cfg))[0].config


def read_metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


def test_run_directory_contents_and_provenance(tmp_path):
    cfg = run_config()
    status = train_and_record(cfg, tmp_path / "r", DataCache(), extra_provenance={"threads": 1})
    assert status == "finished"
    files = {p.name for p in (tmp_path / "r").iterdir()}
    assert {"metrics.json", "history.csv", "model.keras"} <= files and "checkpoint" not in files
    rec = read_metrics(tmp_path / "r")
    m = rec["metrics"]
    for key in ("test_loss", "test_accuracy", "test_balanced_accuracy", "test_macro_f1", "val_loss", "val_accuracy", "train_loss", "train_accuracy", "epochs_run", "n_params", "fit_seconds"):
        assert key in m
    assert np.array(m["test_confusion_matrix"]).sum() == rec["data"]["n_test"]
    assert m["epochs_run"] == 4
    assert rec["config"] == cfg and rec["config"]["seed"] == 3
    prov = rec["provenance"]
    assert {"python", "tensorflow-cpu", "keras", "numpy"} <= set(prov["versions"]) or {"python", "tensorflow", "keras", "numpy"} <= set(prov["versions"])
    assert prov["host"] and prov["device"]["type"] in ("CPU", "GPU") and prov["started"] <= prov["finished"]
    assert prov["threads"] == 1
    history = (tmp_path / "r" / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,loss,accuracy,val_loss,val_accuracy,seconds" and len(history) == 5


def test_same_config_and_seed_give_identical_metrics(tmp_path):
    cfg = run_config()
    train_and_record(cfg, tmp_path / "a", DataCache())
    train_and_record(cfg, tmp_path / "b", DataCache())
    a, b = read_metrics(tmp_path / "a")["metrics"], read_metrics(tmp_path / "b")["metrics"]
    for key in ("test_loss", "test_accuracy", "val_loss", "train_loss", "test_confusion_matrix"):
        assert a[key] == b[key]
    assert (tmp_path / "a" / "history.csv").read_text().split("seconds")[0] == (tmp_path / "b" / "history.csv").read_text().split("seconds")[0]


def _without_seconds(path):
    return [line.rsplit(",", 1)[0] for line in path.read_text().splitlines()]


def test_interrupted_run_resumes_to_the_same_numbers(tmp_path, monkeypatch):
    cfg = run_config()
    cache = DataCache()
    train_and_record(cfg, tmp_path / "straight", cache)
    stop = StopFlag()
    saves = []
    real_save = training._save_checkpoint

    def save_then_signal(*args, **kwargs):
        real_save(*args, **kwargs)
        saves.append(1)
        if len(saves) == 2:
            stop.signum = 15  # as if SIGTERM arrived during epoch 3

    monkeypatch.setattr(training, "_save_checkpoint", save_then_signal)
    with pytest.raises(Interrupted):
        train_and_record(cfg, tmp_path / "resumed", cache, stop=stop)
    assert not (tmp_path / "resumed" / "metrics.json").exists()
    state = json.loads((tmp_path / "resumed" / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 2
    monkeypatch.setattr(training, "_save_checkpoint", real_save)
    assert train_and_record(cfg, tmp_path / "resumed", cache) == "finished"
    a, b = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "resumed")
    assert b["provenance"]["resumed_from_epoch"] == 2
    assert a["metrics"]["test_loss"] == b["metrics"]["test_loss"]
    assert a["metrics"]["test_confusion_matrix"] == b["metrics"]["test_confusion_matrix"]
    assert _without_seconds(tmp_path / "straight" / "history.csv") == _without_seconds(tmp_path / "resumed" / "history.csv")
    assert not (tmp_path / "resumed" / "checkpoint").exists()


def test_finished_run_is_skipped_and_changed_config_retrains(tmp_path):
    cfg = run_config()
    cache = DataCache()
    train_and_record(cfg, tmp_path / "r", cache)
    before = (tmp_path / "r" / "metrics.json").stat().st_mtime_ns
    assert train_and_record(cfg, tmp_path / "r", cache) == "skipped"
    assert (tmp_path / "r" / "metrics.json").stat().st_mtime_ns == before
    changed = run_config(epochs=2)
    assert train_and_record(changed, tmp_path / "r", cache) == "finished"
    assert read_metrics(tmp_path / "r")["metrics"]["epochs_run"] == 2


def test_checkpoint_of_another_config_is_not_resumed(tmp_path):
    cache = DataCache()
    stop = StopFlag(signum=15)
    with pytest.raises(Interrupted):
        train_and_record(run_config(), tmp_path / "r", cache, stop=stop)
    assert train_and_record(run_config(learning_rate=0.05), tmp_path / "r", cache) == "finished"
    assert read_metrics(tmp_path / "r")["provenance"]["resumed_from_epoch"] is None


def test_early_stopping_stops_and_restores_best(tmp_path):
    cfg = run_config(epochs=40, learning_rate=0.5, early_stopping={"patience": 2, "monitor": "val_loss", "min_delta": 0.0, "restore_best_weights": True})
    splits, _ = DataCache().splits(cfg)
    result = fit_run(cfg, splits, tmp_path)
    assert result["stopped_early"] and result["epochs_run"] < 40
    assert result["best_epoch"] == result["epochs_run"] - 2
    val_losses = [row["val_loss"] for row in result["history"]]
    assert min(val_losses) == val_losses[result["best_epoch"] - 1]
    assert result["metrics"]["val_loss"] == pytest.approx(min(val_losses), rel=1e-3)


def test_diverging_run_is_recorded_as_diverged(tmp_path):
    cfg = run_config(learning_rate=1e12, optimizer="sgd", epochs=3)
    assert train_and_record(cfg, tmp_path / "r", DataCache()) == "diverged"
    rec = read_metrics(tmp_path / "r")
    assert rec["status"] == "diverged" and "test_accuracy" not in rec["metrics"]
    assert not (tmp_path / "r" / "model.keras").exists()


def test_a_runs_numbers_do_not_depend_on_what_its_job_trained_before(tmp_path):
    from mlpsweep.steps import CompiledModels

    target, other = run_config(), run_config(learning_rate=0.05)
    train_and_record(target, tmp_path / "alone", DataCache(), models=CompiledModels())
    shared = CompiledModels()
    train_and_record(other, tmp_path / "first", DataCache(), models=shared)
    train_and_record(run_config(), tmp_path / "second", DataCache(), models=shared)
    a, b = read_metrics(tmp_path / "alone")["metrics"], read_metrics(tmp_path / "second")["metrics"]
    assert a["test_loss"] == b["test_loss"] and a["train_loss"] == b["train_loss"]
    assert _without_seconds(tmp_path / "alone" / "history.csv") == _without_seconds(tmp_path / "second" / "history.csv")


@pytest.mark.parametrize("optimizer", [{"optimizer": "sgd", "momentum": 0.9}, {"optimizer": "adam", "learning_rate": 0.003}])
def test_resume_restores_optimizer_state(tmp_path, monkeypatch, optimizer):
    cfg = run_config(**optimizer)
    cache = DataCache()
    train_and_record(cfg, tmp_path / "straight", cache)
    stop = StopFlag()
    real_save = training._save_checkpoint

    def save_then_signal(*args, **kwargs):
        real_save(*args, **kwargs)
        stop.signum = 15

    monkeypatch.setattr(training, "_save_checkpoint", save_then_signal)
    with pytest.raises(Interrupted):
        train_and_record(cfg, tmp_path / "resumed", cache, stop=stop)
    monkeypatch.setattr(training, "_save_checkpoint", real_save)
    train_and_record(cfg, tmp_path / "resumed", cache)
    a, b = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "resumed")
    assert b["provenance"]["resumed_from_epoch"] == 1
    assert a["metrics"]["test_loss"] == b["metrics"]["test_loss"]
    assert _without_seconds(tmp_path / "straight" / "history.csv") == _without_seconds(tmp_path / "resumed" / "history.csv")
