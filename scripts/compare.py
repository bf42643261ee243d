"""Snakemake entry point of rule `compare`; also a command line: compare.py RESULTS (with the
sweep's summary options as JSON in a second argument)."""

import json
import logging
import sys
from pathlib import Path

from mlpsweep.comparison_plots import write_comparison_outputs
from mlpsweep.jobs import setup_logging
from mlpsweep.startup import fast_shutdown

logging.getLogger("fontTools").setLevel(logging.WARNING)  # font subsetting chatter of the PDF backend


if "snakemake" in globals():
    setup_logging(snakemake.log[0])  # noqa: F821
    summary_dir = Path(snakemake.input.runs).parent  # noqa: F821
    plots_dir = Path(snakemake.output.plots).parent  # noqa: F821
    write_comparison_outputs(summary_dir.parent, summary_dir, plots_dir, snakemake.params.options)  # noqa: F821
    fast_shutdown()
elif __name__ == "__main__":
    setup_logging(None)
    results = sys.argv[1] if len(sys.argv) > 1 else "results"
    options = json.loads(sys.argv[2]) if len(sys.argv) > 2 else None
    write_comparison_outputs(results, f"{results}/summary", f"{results}/plots", options)
