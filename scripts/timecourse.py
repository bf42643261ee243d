"""Snakemake entry point of rule `timecourse`; also a command line: timecourse.py RESULTS."""

import logging
import sys
from pathlib import Path

from mlpsweep.jobs import setup_logging
from mlpsweep.startup import fast_shutdown
from mlpsweep.timecourse_plots import write_timecourse_outputs

logging.getLogger("fontTools").setLevel(logging.WARNING)  # font subsetting chatter of the PDF backend


if "snakemake" in globals():
    setup_logging(snakemake.log[0])  # noqa: F821
    summary_dir = Path(snakemake.input.runs).parent  # noqa: F821
    write_timecourse_outputs(
        summary_dir.parent, summary_dir, Path(snakemake.output.plots).parent, snakemake.params.options
    )  # noqa: F821
    fast_shutdown()
elif __name__ == "__main__":
    setup_logging(None)
    results = sys.argv[1] if len(sys.argv) > 1 else "results"
    write_timecourse_outputs(results, f"{results}/summary", f"{results}/plots")
