"""Snakemake entry point of rule `status` (`--config status=1`): print where the sweep stands."""

import sys
from pathlib import Path

from mlpsweep.config import validate_config
from mlpsweep.grid import expand_runs, plan_jobs
from mlpsweep.jobs import setup_logging
from mlpsweep.sizing import plan as plan_sizes
from mlpsweep.status import render, status
from mlpsweep.storage import write_text_atomic

setup_logging(snakemake.log[0])  # noqa: F821
sweep = validate_config(snakemake.config)  # noqa: F821  (already checked by the Snakefile)
execution = sweep["execution"]
runs = expand_runs(sweep)
jobs = plan_jobs(runs, execution["runs_per_job"], execution["pack_size"], plan_sizes(runs, execution).pack_sizes)
report = render(status(sweep, jobs, Path(sweep["results"])), Path(snakemake.output[0]).stem)  # noqa: F821
write_text_atomic(snakemake.output[0], report)  # noqa: F821
print(report, file=sys.stdout, flush=True)
