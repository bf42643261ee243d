"""Expand a validated config into runs (one per grid point) and training jobs."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass

from .config import ConfigError

# Short, stable directory labels for swept training keys.
HPARAM_LABELS = {"optimizer": "opt", "learning_rate": "lr", "momentum": "mom", "batch_size": "bs", "epochs": "ep"}


def format_value(value) -> str:
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def hparams_label(point: dict) -> str:
    """Directory label of one grid point's swept training values, e.g. 'lr0.01_bs32'."""
    if not point:
        return "default"
    return "_".join(f"{HPARAM_LABELS[k]}{format_value(v)}" for k, v in point.items())


def config_hash(run_config: dict) -> str:
    """Digest of everything that determines a run's numbers."""
    blob = json.dumps(run_config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Run:
    dataset: str
    architecture: str
    hparams: str
    seed: int
    config: dict  # resolved: dataset, architecture, training, split, seed

    @property
    def cell(self) -> str:
        return f"{self.dataset}/{self.architecture}/{self.hparams}"

    @property
    def path(self) -> str:
        """Run directory relative to the results directory."""
        return f"runs/{self.cell}/seed{self.seed}"

    @property
    def hash(self) -> str:
        return config_hash(self.config)


def _excluded(rule: dict, values: dict) -> bool:
    return all(values.get(k) == v for k, v in rule.items())


def expand_runs(cfg: dict) -> list[Run]:
    """All runs of the sweep, in a stable order (dataset, architecture, hparams, seed)."""
    grid_keys = list(cfg["grid"])
    combos = list(itertools.product(*(cfg["grid"][k] for k in grid_keys)))
    runs = []
    for ds_name, ds_spec in cfg["datasets"].items():
        for arch_name, arch_spec in cfg["architectures"].items():
            for combo in combos:
                point = dict(zip(grid_keys, combo))
                training = {**cfg["training"], **point}
                for seed in sorted(cfg["seeds"]):
                    values = {"dataset": ds_name, "architecture": arch_name, "seed": seed, **training}
                    if any(_excluded(rule, values) for rule in cfg["exclude"]):
                        continue
                    run_config = {
                        "dataset": {"name": ds_name, **ds_spec},
                        "architecture": {"name": arch_name, **arch_spec},
                        "training": training,
                        "split": cfg["split"],
                        "seed": seed,
                    }
                    runs.append(Run(ds_name, arch_name, hparams_label(point), seed, run_config))
    if not runs:
        raise ConfigError("config: key 'exclude': the grid is empty after exclusions. Fix: remove an exclude rule or add seeds, data sets or architectures")
    return runs


@dataclass(frozen=True)
class Job:
    """Runs trained one after another in one process (TensorFlow starts once per job)."""

    chunk: int
    runs: tuple[Run, ...]

    @property
    def key(self) -> str:
        return f"chunk{self.chunk}"


def plan_jobs(runs: list[Run], runs_per_job: int) -> list[Job]:
    """Consecutive runs of the sweep's order, `runs_per_job` at a time.

    Membership depends only on the config, so every Snakemake process (a SLURM job
    re-parses the workflow) agrees on it. A job whose membership changes re-runs,
    and its script skips the runs that already finished with the same config.
    """
    return [Job(start // runs_per_job, tuple(runs[start : start + runs_per_job])) for start in range(0, len(runs), runs_per_job)]


def job_params(job: Job) -> list[dict]:
    """What a training job needs per run; a change here re-runs the job (Snakemake params)."""
    return [{"path": r.path, "hash": r.hash, "config": r.config} for r in job.runs]
