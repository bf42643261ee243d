"""The figure of decoders compared over time per windowed data set (cell − baseline against
time), and the writer of rule `compare`: summary/comparisons.{csv,md} and
plots/comparisons/<dataset>.{png,pdf}, byte-identical from the same runs (plots.py's style)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from . import comparisons, timecourse
from .plots import STYLE, plt, save_figure
from .registry import PLOTS
from .tables.files import COMPARISON_FILES
from .tables.options import options_with_defaults, scale_of
from .tables.runs import KEYS, read_runs_csv

log = logging.getLogger("mlpsweep")

COMPARISONS_DIR = "comparisons"  # plots/<name>/, in the registry's PLOTS
assert COMPARISONS_DIR in PLOTS
FRAME_COLUMNS = [*KEYS, "seed", "fold", "subject", "protocol", "window_start", "window_centre", "test_by_group"]


def comparison_figure(table: pd.DataFrame, dataset: str, options: dict):
    """Cell − baseline against window centre, one line per pair (band ± s.e.m.), the zero line,
    and the significant clusters shaded and barred (a row of bars per pair) in the pair's colour."""
    mine = table[table["dataset"] == dataset]
    scale = scale_of(comparisons.score_column(options), options)
    fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
    centres = np.unique(mine["window_centre"].to_numpy(dtype=float))
    step = float(np.min(np.diff(centres))) if len(centres) > 1 else 0.1
    for c, ((architecture, hparams, baseline), pair) in enumerate(
        mine.groupby(["architecture", "hparams", "baseline"], sort=False)
    ):
        color = f"C{c % 10}"
        x = pair["window_centre"].to_numpy(dtype=float)
        y = pair["difference"].to_numpy(dtype=float) * scale
        sem = np.nan_to_num(pair["sem"].to_numpy(dtype=float)) * scale
        n, what = int(pair["n_observations"].min()), pair["observations"].iloc[0]
        label = f"{architecture} − {baseline} / {hparams} (mean of {n} {what}, band ± s.e.m.)"
        ax.plot(x, y, color=color, marker="o", markersize=3, linewidth=1.2, label=label)
        ax.fill_between(x, y - sem, y + sem, color=color, alpha=0.2, linewidth=0)
        for _, part in pair[pair["significant"]].groupby("cluster"):
            low, high = part["window_centre"].min() - step / 2, part["window_centre"].max() + step / 2
            ax.axvspan(low, high, color=color, alpha=0.12, linewidth=0)
            bar = {"color": color, "linewidth": 3, "solid_capstyle": "butt", "transform": ax.get_xaxis_transform()}
            ax.plot([low, high], [0.03 + 0.035 * c] * 2, **bar)  # a bar per cluster, a row per pair: shades overlap
    ax.axhline(0.0, color="0.3", linewidth=0.9, linestyle="--", label="no difference")
    if mine["significant"].any():  # room under the lines for the rows of bars
        bottom, top = ax.get_ylim()
        room = 0.05 + 0.035 * (c + 1)
        ax.set_ylim(bottom - (top - bottom) * room / (1 - room), top)
    low, high = centres.min() - step / 2, centres.max() + step / 2
    if low < 0 < high:
        ax.axvline(0.0, color="0.5", linewidth=0.6)
    ax.set_xlim(low, high)
    ax.set_xlabel("Window centre (s)")
    unit = "percentage points" if scale == 100 else "fraction"
    ax.set_ylabel(f"Test accuracy difference ({unit})")
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.set_title(
        f"{dataset}: decoders compared over time (cell − baseline, paired over {mine['observations'].iloc[0]})\n"
        "shaded and barred: significant clusters "
        f"(cluster permutation test, two-sided, {options['cluster_permutations']} permutations, "
        f"p < {options['significance']['alpha']})"
    )
    fig.legend(loc="outside lower center", ncols=1, frameon=False)
    return fig


def comparison_frame(results, summary_dir) -> pd.DataFrame:
    """The finished real runs of every data set as rows the comparison reads: windowed runs from
    their records (timecourse.collect_windows), the others from runs.csv."""
    runs = read_runs_csv(Path(summary_dir) / "runs.csv")
    windows = timecourse.collect_windows(results, runs[["path", "status", "permutation"]])
    plain = comparisons.unwindowed_rows(runs, set(windows["dataset"]))
    score = comparisons.score_column({})
    parts = [part[[*FRAME_COLUMNS, score]] for part in (windows, plain) if len(part)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*FRAME_COLUMNS, score])


def write_comparison_outputs(results, summary_dir, plots_dir, options: dict | None = None) -> pd.DataFrame:
    """summary/comparisons.{csv,md} and plots/comparisons/<dataset>.{png,pdf}; the table."""
    options = options_with_defaults(options)
    table = comparisons.comparison_table(comparison_frame(results, summary_dir), options)
    comparisons.write_comparisons(table, options, summary_dir, COMPARISON_FILES)
    folder = Path(plots_dir) / COMPARISONS_DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    windowed = table[table["test"] == comparisons.CLUSTER_TEST]
    written = []
    for dataset in dict.fromkeys(windowed["dataset"]):
        with plt.style.context(["default", STYLE]):
            written += save_figure(comparison_figure(windowed, dataset, options), folder / dataset)
    log.info("comparisons: %d rows, %d figure files", len(table), len(written))
    return table
