"""(c) Planning: `snakemake -n` on a generated grid config of many runs."""

from __future__ import annotations

import sys
from pathlib import Path

import measured
import yaml

sys.path.insert(0, str(measured.REPO / "scripts"))


def grid_config(n_runs: int, runs_per_job: int | None = None) -> dict:
    """A config of exactly `n_runs` runs: data sets x architectures x 4 learning rates x seeds."""
    n_datasets = n_archs = 10 if n_runs >= 4000 else 2
    learning_rates = [0.001, 0.01, 0.03, 0.1]
    n_seeds = n_runs // (n_datasets * n_archs * len(learning_rates))
    if n_seeds * n_datasets * n_archs * len(learning_rates) != n_runs:
        raise ValueError(f"planning benchmark: {n_runs} runs is not a multiple of {n_datasets * n_archs * len(learning_rates)}; choose another size")
    return {
        "datasets": {f"ds{i}": {"source": "synthetic", "n_samples": 1000, "n_features": 20, "seed": i} for i in range(n_datasets)},
        "architectures": {f"mlp{i}": {"hidden": [16 * (i + 1), 16]} for i in range(n_archs)},
        "grid": {"learning_rate": learning_rates},
        "seeds": list(range(n_seeds)),
        **({"execution": {"runs_per_job": runs_per_job}} if runs_per_job else {}),
    }


def _dry_run(cfg: dict, workdir: Path, name: str) -> measured.Finished:
    sweepdir = workdir / name
    (sweepdir / "config").mkdir(parents=True, exist_ok=True)
    (sweepdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = [measured.SNAKEMAKE, "-n", "--snakefile", str(measured.REPO / "workflow" / "Snakefile"), "--directory", str(sweepdir), "--profile", str(measured.REPO / "profiles" / "default"), "--cores", "2"]
    return measured.run(cmd, workdir / f"{name}.log", cwd=sweepdir).check("snakemake -n")


def measure(n_runs: int, workdir: Path) -> dict:
    """Wall time of `snakemake -n` (parse, validate, expand the grid, build the DAG, list the jobs).

    Once with the default runs_per_job, once with 4 times as many runs per job: Snakemake's
    cost grows with the number of jobs.
    """
    from mlpsweep.config import validate_config

    runs_per_job = validate_config(grid_config(n_runs), source="bench")["execution"]["runs_per_job"]
    default = _dry_run(grid_config(n_runs), workdir, "planning")
    bigger = _dry_run(grid_config(n_runs, 4 * runs_per_job), workdir, "planning-bigger-jobs")
    startup = measured.run([measured.SNAKEMAKE, "--version"], workdir / "snakemake-version.log")
    return {
        "runs": n_runs,
        "runs_per_job": runs_per_job,
        "jobs": -(-n_runs // runs_per_job),
        "seconds": default.seconds,
        "cpu_seconds": default.cpu_seconds,
        "bigger_jobs_runs_per_job": 4 * runs_per_job,
        "bigger_jobs_seconds": bigger.seconds,
        "snakemake_startup_s": startup.seconds,
    }
