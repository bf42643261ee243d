# Python the rules need: config validation, the grid, and input functions.
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir).parent / "scripts"))

from mlpsweep.config import ConfigError, read_yaml, validate_config  # noqa: E402
from mlpsweep.design import warnings_of as design_warnings  # noqa: E402
from mlpsweep.estimate import FIGURES as ESTIMATE_FIGURES  # noqa: E402
from mlpsweep.grid import data_files, expand_runs, job_params, plan_jobs  # noqa: E402
from mlpsweep.plan_size import read_figures, sweep_size  # noqa: E402
from mlpsweep.plan_size import render as render_size  # noqa: E402
from mlpsweep.search import warnings_of as search_warnings  # noqa: E402
from mlpsweep.sizing import plan as plan_sizes  # noqa: E402
from mlpsweep.startup import fast_shutdown  # noqa: E402
from mlpsweep.tables.files import (
    COMPARISON_FILES,
    PATTERNS_DIR,
    SUMMARY_FILES,
)  # noqa: E402
from snakemake.utils import update_config  # noqa: E402

DEFAULT_CONFIGFILE = "config/config.yaml"
CLI_CONFIGFILES = [str(path) for path in workflow.overwrite_configfiles]
CLI_OVERRIDES = dict(workflow.config_settings.config)
CONFIG_SOURCE = CLI_CONFIGFILES[-1] if CLI_CONFIGFILES else DEFAULT_CONFIGFILE
if set(CLI_OVERRIDES) - {"regenerate", "estimate", "status"}:
    CONFIG_SOURCE += " (with --config overrides)"

try:
    # Read with our own loader: it names line and column of a YAML error, and refuses a key
    # given twice (Snakemake keeps the last silently).
    for path in CLI_CONFIGFILES:
        read_yaml(path)
    if not CLI_CONFIGFILES:
        # The default sweep is read here, not with `configfile:`, which Snakemake would merge
        # under a --configfile (its data sets and architectures leaking into the user's sweep).
        sweep_file = read_yaml(DEFAULT_CONFIGFILE)
        update_config(sweep_file, config)
        config.clear()
        config.update(sweep_file)
    # `--config regenerate=1` rebuilds tables and plots from stored runs: no training rule exists then.
    # `--config estimate=1` prints what the sweep will cost: no training rule exists then either;
    # `estimate=calibrate` also trains one pack of each unmeasured kind for two epochs, here.
    ESTIMATE_CALIBRATE = str(config.get("estimate", "0")).lower() == "calibrate"
    REGENERATE, ESTIMATE = (
        str(config.pop(flag, "0")).lower() in ("1", "true", "yes", "calibrate")
        for flag in ("regenerate", "estimate")
    )
    # `--config status=1` prints where a running sweep stands (runs done, training, left, time).
    STATUS = str(config.pop("status", "0")).lower() in ("1", "true", "yes")
    SWEEP = validate_config(config, source=CONFIG_SOURCE)
    RUNS = expand_runs(SWEEP, source=CONFIG_SOURCE)
    for message in search_warnings(SWEEP["search"], CONFIG_SOURCE):
        logger.warning(f"mlpsweep: {message}")
    for message in design_warnings(SWEEP, RUNS, CONFIG_SOURCE):
        logger.warning(f"mlpsweep: {message}")
    # Pre-flight sizing: a pack that cannot fit is refused here, or made smaller (docs/sizing.md).
    SIZING = plan_sizes(RUNS, SWEEP["execution"], source=CONFIG_SOURCE)
except ConfigError as exc:
    raise WorkflowError(f"Invalid sweep configuration.\n{exc}") from None

RESULTS = SWEEP["results"].rstrip("/")
ESTIMATE_STAMP = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
EXECUTION = SWEEP["execution"]
for note in SIZING.notes:
    logger.warning(note)
JOBS = {
    job.key: job
    for job in plan_jobs(
        RUNS, EXECUTION["runs_per_job"], EXECUTION["pack_size"], SIZING.pack_sizes
    )
}
# The sweep's size before anything starts: runs, packs, jobs, files; hours and MB where an
# estimate stored figures. Counted only, nothing trains here.
for line in render_size(
    sweep_size(
        RUNS,
        list(JOBS.values()),
        read_figures(f"{RESULTS}/{ESTIMATE_FIGURES}"),
        SWEEP["summary"].get("generalization", False),
        EXECUTION["keep"],
    ),
    f"{RESULTS}/{ESTIMATE_FIGURES}",
):
    logger.info(line)


wildcard_constraints:
    chunk=r"\d+",


def job_of(wildcards):
    return JOBS[f"chunk{wildcards.chunk}"]


def train_job(wildcards):
    return job_params(job_of(wildcards))


def train_data_files(wildcards):
    """User data files are inputs: editing one re-runs (and re-checks) its jobs."""
    entries = {
        json.dumps(r.config["dataset"], sort_keys=True) for r in job_of(wildcards).runs
    }
    files = set()
    for entry in entries:
        files.update(data_files(json.loads(entry)))
    return sorted(files)


def manifests():
    return [f"{RESULTS}/jobs/{key}.json" for key in JOBS]


def training_targets():
    """Every job's manifest, as a target of `all`: Snakemake does not rebuild a missing
    intermediate file while the files made from it exist, so a job that failed, was killed
    or was added after the last summary would otherwise never run."""
    return [] if REGENERATE else manifests()


def all_targets():
    """What `snakemake` makes by default: an estimate alone, or training, tables and plots."""
    if ESTIMATE:
        return rules.estimate.output
    if STATUS:
        return rules.status.output
    return [
        *training_targets(),
        *summary_outputs(),
        *rules.plots.output,
        *timecourse_targets(),
        *patterns_targets(),
        *compare_targets(),
        *rules.sweep_config.output,
    ]


def run_paths():
    return [run.path for run in RUNS]


def summary_outputs():
    tables = [f"{RESULTS}/summary/{name}" for name in SUMMARY_FILES.values()]
    return tables + [f"{RESULTS}/best"]


def timecourse_targets():
    """The time-course outputs where a data set has windows; the matrices where asked too."""
    if not any(entry.get("windows") for entry in SWEEP["datasets"].values()):
        return []
    wanted = [*rules.timecourse.output]
    if SWEEP["summary"].get("generalization", False):
        wanted += [*rules.generalization.output]
    return wanted


def patterns_targets():
    """The activation patterns with `summary.patterns: true` where a data set has windows."""
    windowed = any(entry.get("windows") for entry in SWEEP["datasets"].values())
    return (
        [*rules.patterns.output]
        if windowed and SWEEP["summary"].get("patterns", False)
        else []
    )


def compare_targets():
    """The comparison of decoders where `summary.compare.baseline` names an architecture."""
    return (
        [*rules.compare.output] if SWEEP["summary"]["compare"].get("baseline") else []
    )


def plot_threads(wildcards):
    """The plots rule's forked workers (at most 4): one core fewer where a windowed data set
    has rule `timecourse` too, so that both draw at once rather than one after the other.
    """
    windowed = any(entry.get("windows") for entry in SWEEP["datasets"].values())
    return max(1, min(4, workflow.cores or 1) - windowed)


def write_partial_summary():
    """After a failure (e.g. with --keep-going), tabulate the runs that exist, marking the rest.

    It goes to summary/partial/, never to the summary rule's outputs, so a partial table is
    not taken for the final one and the next run still trains what is missing.
    """
    from mlpsweep.plots import write_plots
    from mlpsweep.tables.summary import write_summary
    from mlpsweep.tables.runs import collect_runs

    partial = f"{RESULTS}/summary/partial"
    search = SWEEP["search"]
    runs = collect_runs(RESULTS, run_paths())
    out = write_summary(runs, SWEEP["summary"], partial, search)
    write_plots(RESULTS, partial, f"{partial}/plots", SWEEP["summary"], search=search)
    counts = out["compute"]
    logger.warning(
        f"mlpsweep: partial summary in {partial}/summary.md "
        f"({counts['finished']} finished, {counts['failed']} failed, {counts['diverged']} diverged, "
        f"{counts['missing']} missing of {counts['runs']} runs)"
    )


# --- Cluster resources of rule `train` (used by profiles/slurm; harmless locally) ---


def train_runtime(wildcards, attempt):
    """Minutes: `execution.runtime`, times the attempt, so a job killed at its limit gets more."""
    return EXECUTION["runtime"] * attempt


def train_mem_mb(wildcards, attempt):
    """MB: `execution.mem_mb`, times the attempt, so a job killed for memory gets more."""
    return EXECUTION["mem_mb"] * attempt


def train_attempt(wildcards, attempt):
    """The attempt, for the job's log header (scripts see resources, not the attempt)."""
    return attempt


def train_slurm_extra(wildcards, attempt):
    """SIGTERM before the time limit (a quarter of it, at most 2 min): training stops cleanly."""
    seconds = min(120, train_runtime(wildcards, attempt) * 60 // 4)
    return f"--signal=TERM@{seconds}"
