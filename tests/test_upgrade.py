"""Nothing finished is retrained by an upgrade: results made by release 0.1 (tests/data/release-0.1)
are run again with today's code and the same sweep file, and none of their runs trains."""

import re
import shutil

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from conftest import run_snakemake

from pathlib import Path

pytestmark = pytest.mark.workflow
RELEASE_01 = Path(__file__).parent / "data" / "release-0.1"


def snapshot(results: Path) -> dict:
    return {
        p.relative_to(results).as_posix(): p.read_bytes() for p in sorted((results / "runs").rglob("*")) if p.is_file()
    }


def test_results_of_release_01_are_not_trained_again(tmp_path):
    workdir = tmp_path / "sweep"
    shutil.copytree(RELEASE_01, workdir)
    before = snapshot(workdir / "results")
    assert len([p for p in before if p.endswith("metrics.json")]) == 8
    run_snakemake(workdir, "--configfile", "sweep.yaml", "--omit-from", "plots")
    assert snapshot(workdir / "results") == before  # no run directory changed, none was added
    logs = "".join(p.read_text() for p in (workdir / "results" / "logs" / "train").glob("*.log"))
    assert logs.count("already finished with this config and data; not training again") == 8
    assert "pack pack-" not in logs  # no pack was formed: nothing trained
    summary = (workdir / "results" / "summary" / "summary.md").read_text()
    assert "| table | small | optadam | 1/1 |" in summary

    # A key added with its backward-compatible default changes no identity and re-runs no job.
    sweep = (workdir / "sweep.yaml").read_text()
    (workdir / "sweep.yaml").write_text(
        sweep.replace("  batch_size: 16\n", "  batch_size: 16\n  class_weight: none\n") + "split: {method: holdout}\n"
    )
    proc = run_snakemake(workdir, "--configfile", "sweep.yaml", "--omit-from", "plots")
    out = proc.stdout + proc.stderr
    assert "rule train:" not in out and not re.search(r"^train\s+\d+$", out, re.M), out[
        -3000:
    ]  # no training job was even started
    assert snapshot(workdir / "results") == before


def test_release_01_runs_get_complete_models_without_training(tmp_path, monkeypatch):
    """scripts/export_models.py's upgrade: stored weights + the split recomputed from the
    stored config; the models then reproduce the stored test results from raw rows, and
    nothing that decides whether a run is done changes."""
    import json

    import agreement
    from mlpsweep import export, record, rundir, training

    monkeypatch.setattr(training, "train_runs", lambda *a, **k: pytest.fail("the upgrade trained"))
    workdir = tmp_path / "sweep"
    shutil.copytree(RELEASE_01, workdir)
    monkeypatch.chdir(workdir)  # data paths are relative to the sweep's directory
    results = workdir / "results"
    before = {rel: record.read(results / rel) for rel in rundir.discover(results)}
    histories = {rel: (results / rel / "history.csv").read_bytes() for rel in before}
    outcomes = export.upgrade_results("results")
    assert outcomes == {rel: "upgraded" for rel in before} and len(outcomes) == 8
    for rel, old in before.items():
        new = record.read(results / rel)
        assert new.model_format == 2 and new.config == old.config and new.config_hash == old.config_hash
        assert new.metrics == {
            **old.metrics,
            "test_roc_auc": new.metrics["test_roc_auc"],
            "val_roc_auc": new.metrics["val_roc_auc"],
        }
        assert {k: v for k, v in new.stored.items() if k not in ("model_format", "data", "metrics")} == {
            k: v for k, v in old.stored.items() if k not in ("data", "metrics")
        }  # nothing else rewritten
        stored = pd.read_csv(results / rel / "predictions.csv")  # its AUC, from the saved model's probabilities
        names = new.data["class_names"]
        assert new.metrics["test_roc_auc"] == pytest.approx(
            roc_auc_score(stored["true"].astype(str).map(names.index), stored[f"p_{names[1]}"]), abs=1e-12
        )
        assert (
            record.is_done(new, old.config, old.data["fingerprint"])
            and (results / rel / "history.csv").read_bytes() == histories[rel]
        )
        info = json.loads((results / rel / "model.json").read_text())
        assert info["class_names"] == old.data["class_names"] and info["feature_names"] == (
            ["a", "b", "c"] if "/table/" in rel else None
        )
    out = agreement.check(results)  # the new model.keras files on the data's raw rows
    assert out["runs"] == 8 and out["problems"] == [] and out["warnings"] == [] and out["disagree"] <= out["near_ties"]
    assert export.upgrade_results("results") == {rel: "complete" for rel in before}  # a second export changes nothing

    (workdir / "table.csv").write_text((workdir / "table.csv").read_text().replace("0.0012", "0.0013"))
    for rel in before:
        (results / rel / "model.json").unlink()
    changed = export.upgrade_results("results")
    assert all(
        changed[rel].startswith("failed: ") and "is not the data it was trained on" in changed[rel]
        for rel in before
        if "/table/" in rel
    )
