"""Snakemake entry point of rule `summarize`; also a command line: summarize.py RESULTS [OUTDIR]."""

import logging
import sys
from pathlib import Path

from mlpsweep.best import write_best
from mlpsweep.jobs import results_dir, setup_logging
from mlpsweep.progress import Phases, Progress, terminal
from mlpsweep.selection import write_selection
from mlpsweep.startup import fast_shutdown
from mlpsweep.tables.options import options_with_defaults
from mlpsweep.tables.runs import collect_runs
from mlpsweep.tables.summary import write_summary


def main(results, expected, options, outdir, search=None, best=None):
    phases = Phases("summary")  # each step in the log; a bar while reading where stderr is a terminal
    phases("reading run directories")
    runs = collect_runs(results, expected, Progress("read", "run directories", live=terminal()))
    out = write_summary(runs, options, outdir, search, phases)
    options = options_with_defaults(options)
    phases("selection")
    choices = write_selection(out["runs"], out["cells"], options, outdir)
    phases("best models")
    write_best(results, choices, options, best or f"{results}/best")
    phases.done()
    logging.getLogger("mlpsweep").info(
        "summarized %d runs into %d cells in %s", len(out["runs"]), len(out["cells"]), outdir
    )


if "snakemake" in globals():
    setup_logging(snakemake.log[0])  # noqa: F821
    out_csv = snakemake.output.csv  # noqa: F821
    main(
        results_dir(out_csv),
        snakemake.params.runs,
        snakemake.params.options,
        str(Path(out_csv).parent),
        snakemake.params.search,
        snakemake.output.best,
    )  # noqa: F821
    fast_shutdown()
elif __name__ == "__main__":
    setup_logging(None)
    results = sys.argv[1] if len(sys.argv) > 1 else "results"
    main(results, None, None, sys.argv[2] if len(sys.argv) > 2 else f"{results}/summary")
