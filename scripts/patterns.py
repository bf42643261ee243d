"""Snakemake entry point of rule `patterns`; also a command line: patterns.py RESULTS [CONFIG]."""

import logging
import sys
from pathlib import Path

import pandas as pd
from mlpsweep.data.epochs import channel_info
from mlpsweep.jobs import setup_logging
from mlpsweep.pattern_maps import write_pattern_outputs
from mlpsweep.startup import fast_shutdown

logging.getLogger("fontTools").setLevel(logging.WARNING)  # font subsetting chatter of the PDF backend


def infos_of(datasets: dict) -> dict:
    """{data set: the measurement info of its first epochs file} (channel types and positions)."""
    return {name: channel_info(spec) for name, spec in datasets.items() if spec.get("source") == "epochs"}


def timecourse_table(path) -> pd.DataFrame | None:
    return pd.read_csv(path) if Path(path).is_file() else None


if "snakemake" in globals():
    setup_logging(snakemake.log[0])  # noqa: F821
    summary_dir = Path(snakemake.input.runs).parent  # noqa: F821
    write_pattern_outputs(
        summary_dir.parent,
        summary_dir,
        Path(snakemake.output.plots).parent,  # noqa: F821
        infos_of(snakemake.params.datasets),  # noqa: F821
        timecourse_table(snakemake.input.timecourse),  # noqa: F821
    )
    fast_shutdown()
elif __name__ == "__main__":
    setup_logging(None)
    results = sys.argv[1] if len(sys.argv) > 1 else "results"
    write_pattern_outputs(
        results, f"{results}/summary", f"{results}/plots", None, timecourse_table(f"{results}/summary/timecourse.csv")
    )
