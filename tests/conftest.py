"""Shared fixtures: tiny sweep configs and a real Snakemake invocation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def tiny_config(**overrides) -> dict:
    """A sweep that trains in seconds: 2 data sets x 2 architectures x 2 seeds, 2 epochs."""
    cfg = {
        "datasets": {
            "goodbad": {"source": "synthetic", "n_samples": 300, "n_features": 8, "seed": 1},
            "iris": {"source": "sklearn", "name": "iris"},
        },
        "architectures": {"small": {"hidden": [8]}, "deep": {"hidden": [16, 8]}},
        "training": {"epochs": 2, "batch_size": 32},
        "seeds": [0, 1],
        "execution": {"runs_per_job": 2, "threads": 1},
    }
    cfg.update(overrides)
    return cfg


def write_config(workdir: Path, cfg: dict) -> Path:
    path = workdir / "config" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def snakemake_cmd(workdir: Path, *args: str, repo: Path = REPO) -> list[str]:
    """The command that runs the workflow of `repo` (a checkout or a copy of one) in `workdir`."""
    snakefile, profile = repo / "workflow" / "Snakefile", repo / "profiles" / "default"
    return [SNAKEMAKE, "--snakefile", str(snakefile), "--directory", str(workdir), "--profile", str(profile),
            "--cores", "2", *args]  # fmt: skip


def run_snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the project's workflow in `workdir` (which holds config/config.yaml)."""
    cmd = snakemake_cmd(workdir, *args)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def checkpoint_epoch(run_dir: Path) -> int:
    """The epoch a run's state in its pack's checkpoint holds (0 without one)."""
    import numpy as np

    results = Path(run_dir).parents[4]
    rel = Path(run_dir).relative_to(results).as_posix()
    epoch = 0
    for path in (results / "checkpoints").glob("pack-*.npz"):
        try:
            with np.load(path, allow_pickle=False) as archive:
                members = json.loads(archive["state.json"].tobytes())["members"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            continue  # being replaced right now
        epoch = max([epoch, *(m["epoch"] for m in members if m["path"] == rel)])
    return epoch


@pytest.fixture
def sweep_dir(tmp_path):
    """A working directory with the tiny config written to config/config.yaml."""
    write_config(tmp_path, tiny_config())
    return tmp_path


def pytest_report_header(config):
    import keras

    return f"backend: {keras.backend.backend()}"


def scope_of(nodeid: str) -> str:
    """The unit pytest-xdist gives one worker: a test module, and all SLURM tests together
    (they share the local cluster, and the preemption tests take its whole node)."""
    module = nodeid.split("::")[0]
    return "slurm" if "slurm" in module.rsplit("/", 1)[-1] else module


# Seconds each long scope takes on 2 busy cores (measured with --junitxml, rounded over three runs
# on a shared machine; only their order matters). The longest start first, so the two workers end together instead of one
# running a long module alone at the end. A scope not listed counts as short (0) and keeps its
# place in collection order after these; list a new module here once it takes more than ~20 s.
SCOPE_SECONDS = {
    "slurm": 400,  # waits on the cluster: first, so the waiting overlaps the other worker's modules
    "tests/test_workflow.py": 270,
    "tests/test_faults.py": 230,
    "tests/test_bench.py": 175,
    "tests/test_backends.py": 150,
    "tests/test_regenerate.py": 140,
    "tests/test_search.py": 50,
    "tests/test_engine_fidelity.py": 45,
    "tests/test_bad_inputs.py": 45,
    "tests/test_training.py": 40,
    "tests/test_estimate.py": 35,
    "tests/test_plots.py": 35,
    "tests/test_upgrade.py": 35,
    "tests/test_evaluation.py": 30,
    "tests/test_timecourse_workflow.py": 30,
    "tests/test_sizing.py": 30,
    "tests/test_epochs.py": 25,
    "tests/test_pack_equality.py": 25,
    "tests/test_timecourse.py": 20,
}


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """Each scope_of() runs in one worker, so module fixtures are built once. (xdist's
    `loadgroup` cannot do it with pytest 9: its marker-based groups set Item._nodeid,
    which pytest 9 no longer reads.) Scopes go out in collection order (--no-loadscope-reorder),
    which pytest_collection_modifyitems sorts longest first."""
    from xdist.scheduler import LoadScopeScheduling

    class ByScope(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return ByScope(config, log)


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    """Two tiers: `workflow` and `slurm` tests are `slow` too (besides those marked `slow` by
    hand), so `pytest -m "not slow"` is the unit-level answer in minutes; CI runs everything.
    Then the scopes longest first (SCOPE_SECONDS): a greedy longest-first schedule on two
    workers ends them within about the shortest long scope of each other. The sort is stable
    and keyed by each scope's first position, so a module's tests stay together and in order."""
    for item in items:
        if item.get_closest_marker("workflow") or item.get_closest_marker("slurm"):
            item.add_marker(pytest.mark.slow)
    first = {}
    for index, item in enumerate(items):
        first.setdefault(scope_of(item.nodeid), index)
    items.sort(key=lambda item: (-SCOPE_SECONDS.get(scope_of(item.nodeid), 0), first[scope_of(item.nodeid)]))
