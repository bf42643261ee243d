"""Expand a validated config into runs (one per grid point) and training jobs."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field

from .config import ConfigError

# Short, stable directory labels for swept training keys.
HPARAM_LABELS = {"optimizer": "opt", "learning_rate": "lr", "momentum": "mom", "batch_size": "bs", "epochs": "ep"}


def format_value(value) -> str:
    if isinstance(value, float):
        # Shortest exact form: distinct values never share a directory, and no '+' enters a path.
        return repr(value).replace("e+", "e")
    return str(value)


def hparams_label(point: dict) -> str:
    """Directory label of one grid point's swept training values, e.g. 'lr0.01_bs32'."""
    if not point:
        return "default"
    return "_".join(f"{HPARAM_LABELS[k]}{format_value(v)}" for k, v in point.items())


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _digest(blob: str) -> str:
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def config_hash(run_config: dict) -> str:
    """Digest of everything that determines a run's numbers."""
    return _digest(_canonical(run_config))


@dataclass(frozen=True)
class Run:
    dataset: str
    architecture: str
    hparams: str
    seed: int
    config: dict  # resolved: dataset, architecture, training, split, seed
    digest: str | None = field(default=None, compare=False, repr=False)  # config_hash(config), if known

    @property
    def cell(self) -> str:
        return f"{self.dataset}/{self.architecture}/{self.hparams}"

    @property
    def path(self) -> str:
        """Run directory relative to the results directory."""
        return f"runs/{self.cell}/seed{self.seed}"

    @property
    def hash(self) -> str:
        return self.digest or config_hash(self.config)


def _excluded(rule: dict, values: dict) -> bool:
    return all(values.get(k) == v for k, v in rule.items())


def expand_runs(cfg: dict) -> list[Run]:
    """All runs of the sweep, in a stable order (dataset, architecture, hparams, seed)."""
    grid_keys = list(cfg["grid"])
    combos = list(itertools.product(*(cfg["grid"][k] for k in grid_keys)))
    runs = []
    # config_hash of each run, assembled from parts serialized once (planning 10,000 runs
    # would otherwise serialize every run's whole config): the same text, keys in sorted order.
    split_json = _canonical(cfg["split"])
    for ds_name, ds_spec in cfg["datasets"].items():
        ds_json = _canonical({"name": ds_name, **ds_spec})
        for arch_name, arch_spec in cfg["architectures"].items():
            arch_json = _canonical({"name": arch_name, **arch_spec})
            for combo in combos:
                point = dict(zip(grid_keys, combo))
                training = {**cfg["training"], **point}
                label, training_json = hparams_label(point), _canonical(training)
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
                    blob = f'{{"architecture":{arch_json},"dataset":{ds_json},"seed":{_canonical(seed)},"split":{split_json},"training":{training_json}}}'
                    runs.append(Run(ds_name, arch_name, label, seed, run_config, _digest(blob)))
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
