# Python the rules need: config validation, the grid, and input functions.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir).parent / "scripts"))

from mlpsweep.config import ConfigError, validate_config  # noqa: E402
from mlpsweep.grid import expand_runs, job_params, plan_jobs  # noqa: E402

# `--config regenerate=1` rebuilds tables and plots from stored runs: no training rule exists then.
REGENERATE = str(config.pop("regenerate", "0")).lower() in ("1", "true", "yes")
CONFIG_SOURCE = str(workflow.overwrite_configfiles[-1]) if workflow.overwrite_configfiles else "config/config.yaml"

try:
    SWEEP = validate_config(config, source=CONFIG_SOURCE)
    RUNS = expand_runs(SWEEP)
except ConfigError as exc:
    raise WorkflowError(f"Invalid sweep configuration.\n{exc}") from None

RESULTS = SWEEP["results"].rstrip("/")
EXECUTION = SWEEP["execution"]
JOBS = {job.key: job for job in plan_jobs(RUNS, EXECUTION["runs_per_job"])}


wildcard_constraints:
    dataset=r"[A-Za-z0-9_-]+",
    architecture=r"[A-Za-z0-9_-]+",
    hparams=r"[A-Za-z0-9_.-]+",
    chunk=r"\d+",


def job_of(wildcards):
    key = f"{wildcards.dataset}/{wildcards.architecture}/{wildcards.hparams}/chunk{wildcards.chunk}"
    return JOBS[key]


def train_runs(wildcards):
    return job_params(job_of(wildcards))


def train_data_files(wildcards):
    """User data files are inputs: editing one re-runs (and re-checks) its jobs."""
    files = {r.config["dataset"].get("path") for r in job_of(wildcards).runs}
    return sorted(f for f in files if f)


def manifests():
    return [f"{RESULTS}/jobs/{key}.json" for key in JOBS]


def run_paths():
    return [run.path for run in RUNS]


def summary_outputs():
    return [f"{RESULTS}/summary/{name}" for name in ("runs.csv", "summary.csv", "summary.md", "summary.tex", "compute.json")]
