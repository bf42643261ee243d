"""Snakemake entry point of rule `estimate` (`--config estimate=1`, or `estimate=calibrate`):
print what the sweep will cost, and keep the figures planning reads (estimates/figures.json)."""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mlpsweep.config import validate_config  # noqa: E402
from mlpsweep.estimate import FIGURES, estimate, figures, merge_figures, render  # noqa: E402
from mlpsweep.grid import expand_runs, plan_jobs  # noqa: E402
from mlpsweep.jobs import setup_logging  # noqa: E402
from mlpsweep.sizing import plan as plan_sizes  # noqa: E402
from mlpsweep.sizing import render as render_sizes  # noqa: E402
from mlpsweep.storage import write_text_atomic  # noqa: E402

setup_logging(snakemake.log[0])  # noqa: F821
sweep = validate_config(snakemake.config)  # noqa: F821  (already checked by the Snakefile)
execution = sweep["execution"]
runs = expand_runs(sweep)
sized = plan_sizes(runs, execution)
jobs = plan_jobs(runs, execution["runs_per_job"], execution["pack_size"], sized.pack_sizes)
est = estimate(sweep, jobs, Path(sweep["results"]), calibrate_missing=snakemake.params.calibrate)  # noqa: F821
report = render(est) + render_sizes(sized, execution)
stored = Path(sweep["results"]) / FIGURES
write_text_atomic(stored, json.dumps(merge_figures(stored, figures(est)), indent=1, sort_keys=True) + "\n")
write_text_atomic(snakemake.output.report, report)  # noqa: F821
print(report, file=sys.stdout, flush=True)
