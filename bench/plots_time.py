"""(g) The plots' cost as cells grow: the summary (collect_runs + write_summary) against the
plots rule's work (write_plots on 2 workers), for 10, 100 and 1,000 cells of fake runs
(tests/fakes.py: one finished run per cell, 2 data sets), with learning curves of the best cell
per data set (`summary.learning_curves: best`, the default) and of every cell (`all`, the
behaviour before; at 1,000 cells only with --all-at-1000: it takes minutes).

    .venv/bin/python bench/plots_time.py [--all-at-1000]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

import measured

sys.path.insert(0, str(measured.REPO / "scripts"))
sys.path.insert(0, str(measured.REPO / "tests"))

SIZES = {10: (2, 5), 100: (2, 50), 1000: (2, 500)}  # cells: data sets x hyperparameter cells each


def generate(results: Path, cells: int) -> None:
    from fakes import write_run

    n_datasets, per = SIZES[cells]
    rng = random.Random(0)
    for d in range(n_datasets):
        for c in range(per):
            write_run(
                results,
                f"ds{d}",
                f"mlp{c % 10}",
                f"lr{c // 10}",
                0,
                accuracy=rng.uniform(0.5, 0.9),
                class_counts=(30, 30),
                seconds=1.0,
                epochs=5,
            )


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from mlpsweep.plots import write_plots
    from mlpsweep.tables.runs import collect_runs
    from mlpsweep.tables.summary import write_summary

    options = {"best_by": "test_accuracy"}
    all_at_1000 = "--all-at-1000" in sys.argv
    print(
        "| Cells | Summary (s) | Plots, curves of best cells (s) | ÷ summary | Figure files | Plots, curves of all cells (s) | ÷ summary | Figure files |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="mlpsweep-plots-bench-") as tmp:
        for cells in SIZES:
            results = Path(tmp) / f"c{cells}" / "results"
            generate(results, cells)
            summary_s = timed(lambda: write_summary(collect_runs(results), options, results / "summary"))
            files = {}
            best_s = timed(
                lambda: files.__setitem__(
                    "best",
                    write_plots(
                        results,
                        results / "summary",
                        results / "plots-best",
                        {**options, "learning_curves": "best"},
                        workers=2,
                    ),
                )
            )
            row = f"| {cells} | {summary_s:.2f} | {best_s:.2f} | {best_s / summary_s:.2f} | {len(files['best'])} |"
            if cells < 1000 or all_at_1000:
                all_s = timed(
                    lambda: files.__setitem__(
                        "all",
                        write_plots(
                            results,
                            results / "summary",
                            results / "plots-all",
                            {**options, "learning_curves": "all"},
                            workers=2,
                        ),
                    )
                )
                row += f" {all_s:.2f} | {all_s / summary_s:.2f} | {len(files['all'])} |"
            else:
                row += " (not run) | | |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
