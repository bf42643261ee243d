"""`--config estimate=1`: runs, jobs and device time of what is left to train, without training
(`estimate=calibrate`: unmeasured kinds trained for two epochs here); the figures kept for planning.

The estimate's arithmetic is checked exactly against the records it reads (fit_seconds of
finished runs, wall time of finished jobs); how close it comes to a later sweep's real time
depends on the machine's load, so that is measured in bench/ (estimate_accuracy), not here.
"""

import csv
import json
import math
import re
import statistics
from pathlib import Path

import pytest

from conftest import run_snakemake, tiny_config, write_config
from mlpsweep import estimate as est_mod

EPOCHS = 5


def sweep(learning_rates):
    """One kind of run: 4 seeds per learning rate, packs of 4."""
    return tiny_config(
        datasets={"blobs": {"source": "synthetic", "n_samples": 2000, "n_features": 16, "n_classes": 4, "seed": 2}},
        architectures={"wide": {"hidden": [64, 64]}},
        grid={"learning_rate": learning_rates},
        training={"epochs": EPOCHS, "batch_size": 32},
        seeds=[0, 1, 2, 3],
        execution={"runs_per_job": 8, "pack_size": 4, "threads": 1},
    )


def estimate(workdir: Path, how: str = "1") -> dict:
    proc = run_snakemake(workdir, "--config", f"estimate={how}")
    out = proc.stdout + proc.stderr
    assert "rule train" not in out  # no training job
    startup = re.search(r"start-up (\d+) x ([\d.]+) s \(([^)]*)\)", out)
    numbers = {
        "to_train": int(re.search(r"\*\*(\d+) to train\*\*", out)[1]),
        "jobs": int(re.search(r"Jobs to submit: \*\*(\d+)\*\*", out)[1]),
        "device_s": float(re.search(r"device-hours\*\* \((\d+) s\)", out)[1]),
        "training_s": float(re.search(r": training ([\d.]+) s", out)[1]),
        "startup_s": float(startup[2]),
        "startup_source": startup[3],
        "per_run_epoch": float(re.search(r"\| blobs / wide \(sgd, batch 32\) \| \d+ \| \d+ \| ([\d.]+) \|", out)[1]),
        "text": out,
    }
    assert list((workdir / "results" / "estimates").glob("*.md"))  # kept for later reference
    return numbers


def finished_records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results.glob("runs/*/*/*/*/metrics.json"))]


@pytest.mark.workflow
def test_estimate_before_and_after_a_sweep_uses_what_was_recorded(tmp_path):
    write_config(tmp_path, sweep([0.01]))
    proc = run_snakemake(tmp_path, "--config", "estimate=1")  # nothing finished, nothing trains: unknown
    assert "Expected device time: **unknown**: 1 kind(s) of run (4 runs)" in proc.stdout
    assert "| no finished run of this kind |" in proc.stdout
    assert "# Estimate (nothing was trained)" in proc.stdout
    first = estimate(tmp_path, "calibrate")  # asked for: calibrated on this machine
    assert first["to_train"] == 4 and first["jobs"] == 1 and "calibrated on" in first["text"]
    figures = json.loads((tmp_path / "results" / "estimates" / "figures.json").read_text())
    stored = [kind["seconds_per_run_epoch"] for kind in figures["kinds"].values()]
    assert stored == [pytest.approx(first["per_run_epoch"], abs=5e-5)]
    planning = run_snakemake(tmp_path, "-n")  # planning now prints hours from them
    size = r"mlpsweep: sweep size, total: 1 cell, 4 runs, no windows, 1 pack, 1 job, 24 files, [\d.e-]+ device-hours"
    assert re.search(size, planning.stdout + planning.stderr)
    assert first["per_run_epoch"] > 0 and first["startup_source"].startswith("default")
    assert first["startup_s"] == est_mod.STARTUP_DEFAULT_S
    assert not (tmp_path / "results" / "runs").exists()

    run_snakemake(tmp_path, "--omit-from", "plots")
    results = tmp_path / "results"
    records = finished_records(results)
    assert len(records) == 4

    write_config(tmp_path, sweep([0.01, 0.05]))
    est = estimate(tmp_path)
    assert est["to_train"] == 4 and est["jobs"] == 1 and "measured: 4 finished runs in packs of 4" in est["text"]
    # seconds per run-epoch: the median over the finished runs of the same kind, in packs of 4
    per_run_epoch = statistics.median(r["metrics"]["fit_seconds"] / r["metrics"]["epochs_run"] for r in records)
    assert est["per_run_epoch"] == pytest.approx(per_run_epoch, abs=5e-5)  # printed with 4 decimals
    assert est["training_s"] == pytest.approx(4 * EPOCHS * per_run_epoch, abs=0.05)  # printed with 1 decimal
    # start-up: the finished job's wall time (its benchmark file) less its runs' fit_seconds
    (bench,) = (results / "benchmarks" / "train").glob("*.tsv")
    with open(bench) as fh:
        wall = float(next(csv.DictReader(fh, delimiter="\t"))["s"])
    startup = wall - sum(r["metrics"]["fit_seconds"] for r in records)
    assert est["startup_source"] == "median of 1 finished training jobs"
    assert est["startup_s"] == pytest.approx(startup, abs=0.05)
    assert est["device_s"] == pytest.approx(4 * EPOCHS * per_run_epoch + startup, abs=1.0)  # printed in whole seconds


def test_cost_at_a_measured_pack_size_is_its_median():
    found = [(4, 0.10, "cpu"), (4, 0.30, "cpu"), (4, 0.20, "cpu"), (8, 0.05, "cpu")]
    cost = est_mod.cost_from(found, 4)
    assert cost.seconds_per_run_epoch == pytest.approx(0.20)
    assert cost.source == "measured: 3 finished runs in packs of 4 (cpu)"


def test_cost_at_an_unmeasured_size_follows_the_line_through_the_pack_times():
    # pack-epoch seconds 1 + 0.5 * size: 3.0 at size 4, 5.0 at size 8 -> 9.0 at size 16
    found = [(4, 3.0 / 4, "gpu"), (8, 5.0 / 8, "gpu"), (8, 5.0 / 8, "gpu")]
    cost = est_mod.cost_from(found, 16)
    assert cost.seconds_per_run_epoch == pytest.approx(9.0 / 16)
    assert cost.source == "measured: 3 finished runs in packs of 4, 8, fitted to size 16 (gpu)"


@pytest.mark.parametrize(
    ("found", "size", "expected", "source"),
    [
        ([(4, 0.25, "cpu")], 16, 0.25, "measured: 1 finished runs in packs of 4, not 16 (cpu)"),
        # a line that falls with size (noise) is not extrapolated: the nearest size's cost is used
        ([(4, 0.5, "cpu"), (8, 0.2, "cpu")], 6, 0.2, "measured: 2 finished runs in packs of 8, not 6 (cpu)"),
    ],
)
def test_cost_without_a_usable_line_is_the_nearest_measured_size(found, size, expected, source):
    cost = est_mod.cost_from(found, size)
    assert cost.seconds_per_run_epoch == pytest.approx(expected) and cost.source == source


def test_startup_is_the_median_wall_time_outside_training(tmp_path):
    def job(name, wall, fits):
        (tmp_path / "benchmarks" / "train").mkdir(parents=True, exist_ok=True)
        (tmp_path / "jobs").mkdir(exist_ok=True)
        (tmp_path / "benchmarks" / "train" / f"{name}.tsv").write_text(f"s\th:m:s\n{wall}\t0:00:{wall}\n")
        runs = {}
        for i, fit in enumerate(fits):
            path = f"runs/d/a/default/seed{name}{i}"
            (tmp_path / path).mkdir(parents=True)
            (tmp_path / path / "metrics.json").write_text(
                json.dumps({"status": "finished", "metrics": {"fit_seconds": fit}})
            )
            runs[path] = "finished"
        (tmp_path / "jobs" / f"{name}.json").write_text(json.dumps({"runs": runs}))

    assert est_mod.startup_seconds(tmp_path, est_mod.read_records(tmp_path))[0] == est_mod.STARTUP_DEFAULT_S
    job("1", 20, [5, 5])  # 10 s outside training
    job("2", 9, [3])  # 6 s
    job("3", 30, [1, 1, 2])  # 26 s
    assert est_mod.startup_seconds(tmp_path, est_mod.read_records(tmp_path)) == (
        10.0,
        "median of 3 finished training jobs",
    )


def test_a_kind_without_records_or_calibration_says_so(tmp_path):
    from mlpsweep.config import validate_config
    from mlpsweep.grid import expand_runs, plan_jobs

    config = validate_config(sweep([0.01]))
    jobs = plan_jobs(expand_runs(config), 8, 4)
    est = est_mod.estimate(config, jobs, tmp_path, calibrate_missing=False)
    assert est["runs_to_train"] == 4 and est["jobs_to_submit"] == 1 and math.isnan(est["training_seconds"])
    assert est["by_kind"][0]["source"] == "no finished run of this kind"
