"""Where, when and with what a run was trained."""

from __future__ import annotations

import copy
import functools
import os
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

# The backends and the CUDA libraries they run with (only the installed ones are recorded).
BACKENDS = (
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "jax",
    "jaxlib",
    "jax-cuda12-plugin",
    "jax-cuda12-pjrt",
    "nvidia-cuda-runtime-cu12",
    "nvidia-cudnn-cu12",
)
PACKAGES = (*BACKENDS, "numpy", "scikit-learn", "pandas", "snakemake")
SLURM_VARS = (
    "SLURM_JOB_ID",
    "SLURM_ARRAY_JOB_ID",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_JOB_PARTITION",
    "SLURM_JOB_NODELIST",
    "SLURM_RESTART_COUNT",
    "SLURM_JOB_ACCOUNT",
    "SLURM_CPUS_PER_TASK",
)
REPO = Path(__file__).resolve().parents[2]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@functools.lru_cache(maxsize=1)
def versions() -> dict:
    """Python's version and those of the installed PACKAGES."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


@functools.lru_cache(maxsize=4)
def git_commit(repo: Path = REPO) -> dict | None:
    """The workflow's commit and whether its tree had local changes; None outside git."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return None


def slurm() -> dict | None:
    found = {k.lower()[len("SLURM_") :]: os.environ[k] for k in SLURM_VARS if k in os.environ}
    return found or None


def device() -> dict:
    """The device the backend trains on, and what the scheduler made visible (a copy)."""
    return copy.deepcopy(_device())


@functools.lru_cache(maxsize=1)
def _device() -> dict:
    """Looked up once per process: a job's device does not change while it runs, and the lookup
    (nvidia-smi, package metadata) cost 4 ms a run, 1 s of a job writing 240 runs."""
    import keras

    from . import gpu

    return gpu.device_info(keras.backend.backend())


def collect(started: str, extra: dict | None = None) -> dict:
    """A record's provenance: the process's (the same for every run a job trains: looked up once,
    its nested values shared by the job's records, which nothing changes), then the run's own."""
    return {**_process(), "started": started, "finished": utc_now(), **(extra or {})}


@functools.lru_cache(maxsize=1)
def _process() -> dict:
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python_executable": sys.executable,
        "versions": versions(),
        "git": git_commit(),
        "slurm": slurm(),
        "device": device(),
    }
