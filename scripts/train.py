"""Snakemake entry point of rule `train`: fit the packs of runs of one job."""

import os
import sys

from mlpsweep.preemption import StopFlag

STOP = StopFlag().install()  # first: a preemption while TensorFlow loads still requeues the job
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ chatter off; Python errors still show

from mlpsweep.startup import fast_shutdown, skip_unused_imports  # noqa: E402

skip_unused_imports()  # before Keras: matplotlib, and JAX on TensorFlow, cost a second and are never used here

from mlpsweep.config import validate_config  # noqa: E402
from mlpsweep.jobs import results_dir, run_job, setup_logging  # noqa: E402

setup_logging(snakemake.log[0], attempt=snakemake.resources.attempt)  # noqa: F821  (workflow/rules/train.smk)
code = run_job(
    validate_config(snakemake.config),  # noqa: F821  (already checked by the Snakefile)
    snakemake.params.job["packs"],  # noqa: F821
    results_dir(snakemake.output.manifest),  # noqa: F821
    snakemake.output.manifest,  # noqa: F821
    threads=snakemake.threads,  # noqa: F821
    stop=STOP,
)
fast_shutdown()  # a finished job's exit: ~1 s of the collector's passes over TensorFlow's objects skipped
sys.exit(code)
