"""Snakemake entry point of rule `estimate` (`--config estimate=1`): print what the sweep will cost."""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mlpsweep.config import validate_config  # noqa: E402
from mlpsweep.estimate import estimate, render  # noqa: E402
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
report = render(estimate(sweep, plan_jobs(runs, execution["runs_per_job"], execution["pack_size"], sized.pack_sizes), Path(sweep["results"]))) + render_sizes(sized, execution)
write_text_atomic(snakemake.output[0], report)  # noqa: F821
print(report, file=sys.stdout, flush=True)
