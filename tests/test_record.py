"""The run record (record.py): built, written and read back; records of earlier releases
upgraded when read; damaged ones read as damaged; a metric registered once reaching
metrics.json, runs.csv and the summary tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_config
from mlpsweep import metrics, record, registry, rundir
from mlpsweep.config import validate_config
from mlpsweep.data import Splits
from mlpsweep.grid import expand_runs
from mlpsweep.storage import write_bytes_atomic
from mlpsweep.tables.summary import write_summary
from mlpsweep.tables.runs import collect_runs, read_runs_csv

RELEASE_01 = Path(__file__).parent / "data" / "release-0.1" / "results"
TODAY_KEYS = ["status", "run", "config_hash", "identity", "config", "data", "metrics", "provenance", "model_format"]


def _run():
    return expand_runs(validate_config(tiny_config(seeds=[0])))[0]


def _splits(rng) -> Splits:
    x = rng.normal(size=(12, 3))
    y = np.array([0, 1, 2] * 4)
    return Splits(
        x, y, x[:6], y[:6], x[:9], y[:9], ["a", "b", "c"], test_index=np.arange(9), feature_names=["f0", "f1", "f2"]
    )


def _built(**kwargs) -> record.Record:
    """A record as training builds it, of made-up predictions."""
    rng = np.random.default_rng(0)
    s = _splits(rng)
    parts = {}
    for part in record.PARTS:
        y = getattr(s, f"y_{part}")
        logits = rng.normal(size=(len(y), 3))
        parts[part] = record.Evaluated(y, logits.argmax(axis=1), logits, 0.5, 3)
    outcome = record.Outcome("stopped_early", 1, 3, 0.123456, 99)
    pack = record.PackFacts("pack-x", [_run().path], 0, 0.25, None, "tensorflow")
    return record.build(
        _run(),
        s,
        "fp",
        outcome,
        parts,
        started="2026-01-01T00:00:00+00:00",
        pack=pack,
        extra={"threads": 1},
        model_format=2,
        **kwargs,
    )


def _write(results: Path, rec: record.Record) -> str:
    rel = _run().path
    model = lambda path: write_bytes_atomic(path, b"model", durable=False)
    record.write(
        results / rel,
        rec,
        [{"epoch": 1, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5, "seconds": 0.1}],
        model,
        durable=False,
    )
    return rel


def test_a_built_record_keeps_todays_layout_with_its_version(tmp_path):
    rec = _built()
    assert (
        list(rec.stored) == [record.VERSION_KEY, *TODAY_KEYS]
        and rec.stored[record.VERSION_KEY] == record.RECORD_VERSION
    )
    m = rec.metrics
    assert list(m)[:5] == ["stopped_early", "best_epoch", "epochs_run", "fit_seconds", "n_params"]
    assert m["stopped_early"] is True and m["best_epoch"] == 2 and m["fit_seconds"] == 0.1235
    assert list(m)[5:10] == ["train_loss", "train_accuracy", "train_balanced_accuracy", "train_macro_f1", "val_loss"]
    assert rec.data["test_class_counts"] == [3, 3, 3] and rec.data["protocol"] == "pooled" and rec.pack_size == 1
    assert rec.provenance["pack"] == {
        "key": "pack-x",
        "size": 1,
        "index": 0,
        "members": [_run().path],
        "trace_seconds": 0.25,
    }


def test_round_trip_write_and_read(tmp_path):
    rec = _built()
    rel = _write(tmp_path, rec)
    text = (tmp_path / rel / rundir.METRICS_FILE).read_text()
    back = record.read(tmp_path / rel)
    assert back == rec and back.version == record.RECORD_VERSION and back.stored == json.loads(text)
    assert record.from_text(text) == rec
    assert record.is_done(back, _run().config, "fp") and not record.is_done(back, _run().config, "other data")


def test_release_01_records_are_upgraded_when_read_and_never_rewritten():
    paths = sorted(RELEASE_01.glob("runs/*/*/*/*/metrics.json"))
    assert len(paths) == 8
    before = {p: p.read_bytes() for p in paths}
    runs = collect_runs(RELEASE_01).set_index("path")
    for path in paths:
        rec = record.read(path.parent)
        stored = json.loads(before[path])
        matrix = stored["metrics"]["test_confusion_matrix"]
        assert rec.version == 0 and "test_class_counts" not in stored["data"]
        assert rec.test_class_counts == [
            sum(row) for row in matrix
        ]  # what runs.csv derived before the record had an owner
        assert rec.pack_size == 1 and rec.device["type"] == "CPU" and rec.stored == stored
        assert record.is_done(rec, stored["config"], stored["data"]["fingerprint"])
        row = runs.loc[path.parent.relative_to(RELEASE_01).as_posix()]
        assert (
            json.loads(row["test_class_counts"]) == rec.test_class_counts
            and row["status"] == "finished"
            and row["n_test"] == sum(rec.test_class_counts)
        )
    assert {p: p.read_bytes() for p in paths} == before  # reading rewrote nothing


def test_todays_records_without_the_version_key_read_as_version_1():
    stored = {k: v for k, v in _built().stored.items() if k != record.VERSION_KEY}
    rec = record.upgrade(stored)
    assert rec.version == 1 and rec.data == stored["data"] and rec.metrics == stored["metrics"]


def test_windowed_records_of_before_centre_and_protocol_get_them():
    stored = {
        "status": "finished",
        "metrics": {"test_by_group": {"s1": {"n": 2, "correct": 1}}},
        "data": {"window": {"start": 0.1, "stop": 0.3}},
    }
    rec = record.upgrade(stored)
    assert (
        rec.window == {"start": 0.1, "stop": 0.3, "centre": 0.2, "length": pytest.approx(0.2)}
        and rec.data["protocol"] == "cross-subject"
    )
    assert stored["data"]["window"] == {"start": 0.1, "stop": 0.3}  # the stored dict is left as it was


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        (None, "JSONDecodeError"),
        ("[]", "TypeError"),
        ('{"status": "finished"}', "KeyError"),
        ('{"status": "finished", "metrics": []}', "AttributeError"),
    ],
)
def test_damaged_records_are_read_as_damaged_not_done(tmp_path, text, cause):
    rec = _built()
    rel = _write(tmp_path, rec)
    path = tmp_path / rel / rundir.METRICS_FILE
    whole = path.read_text()
    path.write_text(whole[: len(whole) // 2] if text is None else text)  # None: half-written
    with pytest.raises(record.Damaged) as caught:
        record.from_text(path.read_text())
    assert caught.value.cause == cause
    assert record.read(tmp_path / rel) is None and not record.is_done(record.read(tmp_path / rel), _run().config)
    row = collect_runs(tmp_path).iloc[0]
    assert (row["status"], row["problem"]) == ("damaged", f"metrics.json unreadable ({cause})")


def test_a_metric_registered_once_reaches_metrics_json_runs_csv_and_the_summary(tmp_path, monkeypatch):
    """The issue's proof: a new per-run field is added in one place (the registry entry and its function)."""
    monkeypatch.setitem(
        registry.METRICS,
        "test_error_rate",
        registry.Metric("Test error", "fraction", False, percent=True, compute="metrics.error_rate"),
    )
    monkeypatch.setattr(metrics, "error_rate", lambda e: float(np.mean(e.y_true != e.y_pred)), raising=False)
    rec = _built()
    expected = 1 - rec.metrics["test_accuracy"]
    assert rec.metrics["test_error_rate"] == pytest.approx(expected)
    rel = _write(tmp_path, rec)
    assert json.loads((tmp_path / rel / rundir.METRICS_FILE).read_text())["metrics"][
        "test_error_rate"
    ] == pytest.approx(expected)
    runs = collect_runs(tmp_path)
    assert runs["test_error_rate"].dtype == "float64" and runs.loc[0, "test_error_rate"] == pytest.approx(expected)
    # summary.md and .tex show the metrics of `summary.metrics`, whose schema lists the registry's
    # names when a process starts; summary.csv has every registered metric
    write_summary(runs, None, tmp_path / "summary")
    assert read_runs_csv(tmp_path / "summary" / "runs.csv").loc[0, "test_error_rate"] == pytest.approx(expected)
    cells = pd.read_csv(tmp_path / "summary" / "summary.csv")
    assert cells.loc[0, "test_error_rate_mean"] == pytest.approx(expected)


def test_runs_csv_reads_back_with_its_declared_types(tmp_path):
    rel = _write(tmp_path, _built())
    write_summary(collect_runs(tmp_path), None, tmp_path / "summary")
    runs = read_runs_csv(tmp_path / "summary" / "runs.csv")
    assert (
        runs.loc[0, "path"] == rel
        and str(runs["fold"].dtype) == "Int64"
        and runs["seed"].dtype == "int64"
        and runs.loc[0, "subject"] == ""
    )
    (tmp_path / "empty.csv").write_text("")
    assert list(read_runs_csv(tmp_path / "empty.csv").columns) == list(runs.columns)


def test_a_packs_metrics_computed_together_equal_each_members_alone():
    """metrics_of_members: members of unlike row counts and classes, a diverged member, a member
    without a training part (scores only), test rows of one and of several groups: each member's
    metrics are those metrics_of gives it alone, bit for bit and in the same order."""
    rng = np.random.default_rng(5)

    def evaluated(n, n_classes, groups=None):
        y = rng.integers(0, n_classes, n)
        logits = rng.normal(size=(n, n_classes)).astype(np.float32)
        return record.Evaluated(y, logits.argmax(axis=1), logits, float(rng.random()), n_classes, groups)

    outcomes, parts = [], []
    for k in range(40):
        n_classes, n_test = (2, 80) if k % 4 else (3, 79)
        groups = None
        if k % 5 == 1:
            groups = np.array(["01"] * n_test, dtype=object)
        elif k % 5 == 2:
            groups = np.array(["01", "02", "03"] * n_test, dtype=object)[:n_test]
        found = {"val": evaluated(48, n_classes), "test": evaluated(n_test, n_classes, groups)}
        if k % 3:
            found = {"train": evaluated(272, n_classes), **found}
        outcomes.append(record.Outcome("finished", None, 5, 0.01 * k, 18722))
        parts.append(None if k == 7 else found)
    together = record.metrics_of_members(outcomes, parts)
    for k in range(40):
        alone = record.metrics_of(outcomes[k], parts[k])
        assert json.dumps(together[k]) == json.dumps(alone)
    assert "test_roc_auc" not in together[7] and "train_loss" not in together[3]
    assert set(together[2]["test_by_group"]) == {"01", "02", "03"} and "roc_auc" in together[1]["test_by_group"]["01"]
