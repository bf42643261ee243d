"""Snakemake entry point of rule `plots`; also a command line: plot.py RESULTS [OUTDIR [WORKERS]]."""

import logging
import sys
from pathlib import Path

from mlpsweep.jobs import setup_logging
from mlpsweep.plots import write_plots
from mlpsweep.progress import Progress, terminal
from mlpsweep.startup import fast_shutdown

logging.getLogger("fontTools").setLevel(logging.WARNING)  # font subsetting chatter of the PDF backend


if "snakemake" in globals():
    setup_logging(snakemake.log[0])  # noqa: F821
    summary_dir = Path(snakemake.input.summary).parent  # noqa: F821
    write_plots(
        summary_dir.parent,
        summary_dir,
        Path(snakemake.output.heatmap_png).parent,
        snakemake.params.options,
        workers=snakemake.threads,
        search=snakemake.params.search,
        progress=Progress("drew", "figures", live=terminal()),
    )  # noqa: F821
    fast_shutdown()
elif __name__ == "__main__":
    setup_logging(None)
    results = sys.argv[1] if len(sys.argv) > 1 else "results"
    outdir = sys.argv[2] if len(sys.argv) > 2 else f"{results}/plots"
    write_plots(
        results,
        f"{results}/summary",
        outdir,
        workers=int(sys.argv[3]) if len(sys.argv) > 3 else 1,
        progress=Progress("drew", "figures", live=terminal()),
    )
