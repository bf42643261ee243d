"""Snakemake entry point of rule `best_models`; also a command line: export_best.py RESULTS."""

import sys
from pathlib import Path

import pandas as pd

from mlpsweep.jobs import results_dir, setup_logging
from mlpsweep.selection import write_best
from mlpsweep.summary import options_with_defaults


def main(results, options, outdir):
    choices = pd.read_csv(Path(results) / "summary" / "selected.csv", dtype={"path": "str", "leaf": "str", "architecture": "str", "hparams": "str", "dataset": "str"})
    write_best(results, choices, options_with_defaults(options), outdir)


if "snakemake" in globals():
    setup_logging(snakemake.log[0])  # noqa: F821
    main(results_dir(snakemake.input.selected), snakemake.params.options, snakemake.output[0])  # noqa: F821
elif __name__ == "__main__":
    setup_logging(None)
    results = sys.argv[1] if len(sys.argv) > 1 else "results"
    main(results, None, f"{results}/best")
