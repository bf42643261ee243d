"""`--config estimate=1`: runs, jobs and device time of what is left to train, without training."""

import json
import re
from pathlib import Path

import pytest

from conftest import run_snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow


def sweep(learning_rates):
    """One kind of run (packs of 4 seeds), long enough per epoch that timing noise stays small."""
    return tiny_config(
        datasets={"blobs": {"source": "synthetic", "n_samples": 20000, "n_features": 16, "n_classes": 4, "seed": 2}},
        architectures={"wide": {"hidden": [128, 128]}},
        grid={"learning_rate": learning_rates},
        training={"epochs": 5, "batch_size": 32},
        seeds=[0, 1, 2, 3],
        execution={"runs_per_job": 8, "pack_size": 4, "threads": 1},
    )


def estimate(workdir: Path) -> dict:
    proc = run_snakemake(workdir, "--config", "estimate=1")
    out = proc.stdout + proc.stderr
    assert "rule train" not in out  # nothing trains
    numbers = {
        "to_train": int(re.search(r"\*\*(\d+) to train\*\*", out)[1]),
        "jobs": int(re.search(r"Jobs to submit: \*\*(\d+)\*\*", out)[1]),
        "hours": float(re.search(r"\*\*([\d.]+) device-hours\*\*", out)[1]),
        "training_s": float(re.search(r": training ([\d.]+) s", out)[1]),
        "text": out,
    }
    assert list((workdir / "results" / "estimates").glob("*.md"))  # kept for later reference
    return numbers


def recorded_fit_seconds(results: Path, exclude: set) -> float:
    return sum(json.loads(p.read_text())["metrics"]["fit_seconds"] for p in results.glob("runs/*/*/*/*/metrics.json") if p.parent.relative_to(results).as_posix() not in exclude)


def test_estimate_from_a_small_sweep_predicts_a_larger_one(tmp_path):
    write_config(tmp_path, sweep([0.01]))
    first = estimate(tmp_path)  # nothing finished yet: calibrated on this machine
    assert first["to_train"] == 4 and first["jobs"] == 1 and "calibrated on" in first["text"]
    assert not (tmp_path / "results" / "runs").exists()

    run_snakemake(tmp_path, "--omit-from", "plots")
    small = {p.parent.relative_to(tmp_path / "results").as_posix() for p in (tmp_path / "results").glob("runs/*/*/*/*/metrics.json")}
    assert len(small) == 4

    write_config(tmp_path, sweep([0.01, 0.05]))
    est = estimate(tmp_path)
    assert est["to_train"] == 4 and est["jobs"] == 1 and "measured: 4 finished runs in packs of 4" in est["text"]
    assert est["hours"] > est["training_s"] / 3600  # start-up of each job counts too
    run_snakemake(tmp_path, "--omit-from", "plots")
    recorded = recorded_fit_seconds(tmp_path / "results", small)
    assert abs(est["training_s"] - recorded) <= 0.25 * recorded, (est["training_s"], recorded)
