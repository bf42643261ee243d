"""Figures of decoding over time: the time course per data set and the temporal
generalization matrix per cell, written with the fixed style and metadata of plots.py, so the
same runs give byte-identical files; and the writers of the rules `timecourse` and
`generalization` (tables and figures from the run directories).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from . import timecourse, timecourse_null
from .plots import STYLE, plt, save_figure
from .registry import PLOTS
from .storage import write_text_atomic
from .tables.options import options_with_defaults, scale_of
from .tables.runs import KEYS, read_runs_csv
from .timecourse_score import chance_column, chance_per_window, permutation_scores

log = logging.getLogger("mlpsweep")

TIMECOURSE_DIR, GENERALIZATION_DIR = "timecourse", "generalization"  # plots/<name>/, in the registry's PLOTS
assert TIMECOURSE_DIR in PLOTS and GENERALIZATION_DIR in PLOTS


# ---------------------------------------------------------------- figures


def _step(centres: np.ndarray, fallback: float) -> float:
    """The distance between adjacent windows (their length where there is one window)."""
    gaps = np.diff(np.unique(centres))
    return float(np.min(gaps)) if len(gaps) else float(fallback)


def timecourse_figure(table: pd.DataFrame, dataset: str, options: dict):
    """Accuracy against window centre time, one line per cell (mean over the observations,
    band ± s.e.m.), chance level and threshold, significant clusters shaded and barred."""
    mine = table[table["dataset"] == dataset]
    metric = table.attrs.get("metric", options["timecourse_metric"])
    scale = scale_of(metric, options)
    fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
    cells = list(mine.groupby(["architecture", "hparams"], sort=False))
    step = _step(mine["window_centre"].to_numpy(dtype=float), mine["window_length"].iloc[0])
    bars = []
    for c, ((architecture, hparams), cell) in enumerate(cells):
        color = f"C{c % 10}"
        x = cell["window_centre"].to_numpy(dtype=float)
        y = cell["observation_mean"].to_numpy(dtype=float) * scale
        sem = np.nan_to_num(cell["sem"].to_numpy(dtype=float)) * scale
        n, what = int(cell["n_observations"].min()), cell["observations"].iloc[0]
        ax.plot(
            x,
            y,
            color=color,
            marker="o",
            markersize=3,
            linewidth=1.2,
            label=f"{architecture} / {hparams} (mean of {n} {what}, band ± s.e.m.)",
        )
        ax.fill_between(x, y - sem, y + sem, color=color, alpha=0.2, linewidth=0)
        for _, part in cell[cell["significant"]].groupby("cluster"):
            low, high = part["window_centre"].min() - step / 2, part["window_centre"].max() + step / 2
            ax.axvspan(low, high, color=color, alpha=0.12, linewidth=0)
            bars.append((c, low, high, color))
    for c, low, high, color in bars:  # a bar per significant cluster, one row per cell, at the bottom
        ax.plot(
            [low, high],
            [0.03 + 0.035 * c] * 2,
            color=color,
            linewidth=3,
            solid_capstyle="butt",
            transform=ax.get_xaxis_transform(),
        )
    null = timecourse_null.has_null(mine)
    if null:
        _null_marks(ax, cells, step, scale, options)
    _chance_lines(
        ax, mine, scale, threshold_label(metric, options["significance"]["alpha"], table.attrs.get("permuted")), metric
    )
    low, high = mine["window_centre"].min() - step / 2, mine["window_centre"].max() + step / 2
    if low < 0 < high:
        ax.axvline(0.0, color="0.5", linewidth=0.6)
    ax.set_xlim(low, high)
    ax.set_xlabel("Window centre (s)")
    ax.set_ylabel(f"{score_name(metric)} ({'%' if scale == 100 else 'fraction'})")
    ax.grid(True, linewidth=0.3, alpha=0.5)
    protocols = ", ".join(dict.fromkeys(mine["protocol"]))
    alpha = options["significance"]["alpha"]
    rate = (table.attrs.get("unbalanced") or {}).get(dataset) if metric == "test_accuracy" else None
    note = (
        ""
        if rate is None
        else (
            f"\nunbalanced test trials (majority {rate:.2f}): accuracy moves with the balance; "
            "see AUC or balanced accuracy"
        )
    )
    title = (
        f"{dataset}: decoding over time ({score_name(metric)}), {protocols}\nshaded and barred: significant clusters "
        f"(cluster permutation test over {mine['observations'].iloc[0]}, one-sided, "
        f"{options['cluster_permutations']} permutations, p < {alpha}){note}"
    )
    if null:
        title = (
            f"{dataset}: decoding over time ({score_name(metric)}), {protocols}\n"
            "shaded, bars at the bottom: significant clusters, sign-flip cluster test "
            f"over {mine['observations'].iloc[0]} (Maris & Oostenveld 2007)\n"
            "dashed bars at the top: significant clusters, model-level "
            f"permutation test (label-permutation runs, Stelzer et al. 2013); p < {alpha}{note}"
        )
    ax.set_title(title, fontsize="medium" if null else None)
    fig.legend(loc="outside lower center", ncols=1, frameon=False)
    return fig


def _null_marks(ax, cells: list, step: float, scale: float, options: dict) -> None:
    """The model-level test: each cell's group null percentile per window (dash-dot, its colour)
    and a dashed bar at the top per significant cluster, one row per cell."""
    q = 100 * (1 - options["cluster_alpha"])
    for c, (_, cell) in enumerate(cells):
        color = f"C{c % 10}"
        x = cell["window_centre"].to_numpy(dtype=float)
        label = f"group null, {q:g}th percentile (label permutations)" if c == 0 else None
        ax.plot(
            x,
            cell["perm_threshold"].to_numpy(dtype=float) * scale,
            color=color,
            linestyle="-.",
            linewidth=0.9,
            label=label,
        )
        for _, part in cell[cell["perm_significant"]].groupby("perm_cluster"):
            low, high = part["window_centre"].min() - step / 2, part["window_centre"].max() + step / 2
            ax.plot([low, high], [0.97 - 0.035 * c] * 2, color=color, linewidth=3, linestyle=(0, (2, 1)),
                    solid_capstyle="butt", transform=ax.get_xaxis_transform())  # fmt: skip


SCORE_NAMES = {
    "test_accuracy": "Test accuracy",
    "test_balanced_accuracy": "Test balanced accuracy",
    "test_roc_auc": "Test ROC AUC",
}
CHANCE_NAMES = {"test_accuracy": "majority-class rate", "test_balanced_accuracy": "1 / classes", "test_roc_auc": "0.5"}


def score_name(metric: str) -> str:
    return SCORE_NAMES[metric]


def threshold_label(metric: str, alpha: float, permuted: bool | None) -> str:
    """The legend's name of the chance threshold: how it was found."""
    if metric == "test_accuracy":
        return f"chance threshold (binomial at the majority rate, p < {alpha})"
    if permuted:
        return f"chance threshold (label permutations, p < {alpha})"
    how = "Mann-Whitney normal approx." if metric == "test_roc_auc" else "normal approx."
    return f"chance threshold ({how}, p < {alpha})"


def _chance_lines(ax, mine: pd.DataFrame, scale: float, threshold: str, metric: str = "test_accuracy") -> None:
    """The chance level (dotted) and the threshold (dashed): one line where the windows and
    cells share it, else a line along each cell's windows."""
    for column, style, label in (
        ("chance_threshold", {"color": "C3", "linestyle": "--"}, threshold),
        (chance_column(metric), {"color": "0.35", "linestyle": ":"}, f"chance level ({CHANCE_NAMES[metric]})"),
    ):
        values = mine[column].to_numpy(dtype=float) * scale
        known = np.isfinite(values)
        if not known.any():
            continue
        if np.ptp(values[known]) == 0:
            ax.axhline(values[known][0], linewidth=1, label=label, **style)
            continue
        for k, (_, cell) in enumerate(mine.groupby(["architecture", "hparams"], sort=False)):
            ax.plot(cell["window_centre"], cell[column] * scale, linewidth=1, label=label if k == 0 else None, **style)


def generalization_figure(matrix: pd.DataFrame, key: tuple, chance: float, length: float, n_runs: int, options: dict):
    """Train time (y) x test time (x) score (`summary.timecourse_metric`), a diverging colour map
    centred on chance, the diagonal (train time = test time) dashed, a colour bar."""
    metric = options["timecourse_metric"]
    scale = scale_of(metric, options)
    values = matrix.to_numpy(dtype=float) * scale
    train = matrix.index.to_numpy(dtype=float) + length / 2
    test = matrix.columns.to_numpy(dtype=float) + length / 2
    step_x, step_y = _step(test, length), _step(train, length)
    centre = chance * scale if np.isfinite(chance) else 0.5 * scale
    finite = values[np.isfinite(values)]
    span = max(float(np.max(np.abs(finite - centre))) if finite.size else 0.0, 0.01 * scale)
    fig, ax = plt.subplots(figsize=(4.6, 3.9), layout="constrained")
    extent = (test[0] - step_x / 2, test[-1] + step_x / 2, train[0] - step_y / 2, train[-1] + step_y / 2)
    image = ax.imshow(
        np.ma.masked_invalid(values),
        origin="lower",
        cmap="RdBu_r",
        vmin=centre - span,
        vmax=centre + span,
        extent=extent,
        aspect="auto",
        interpolation="nearest",
    )
    low, high = max(extent[0], extent[2]), min(extent[1], extent[3])
    ax.plot([low, high], [low, high], color="k", linestyle="--", linewidth=0.8)
    if extent[0] < 0 < extent[1]:
        ax.axvline(0.0, color="k", linewidth=0.5, linestyle=":")
    if extent[2] < 0 < extent[3]:
        ax.axhline(0.0, color="k", linewidth=0.5, linestyle=":")
    ax.set_xlabel("Testing time: window centre (s)")
    ax.set_ylabel("Training time: window centre (s)")
    unit = "%" if scale == 100 else "fraction"
    fig.colorbar(image, ax=ax, label=f"{score_name(metric)} ({unit}); white: chance {centre:.{options['decimals']}f}")
    ax.set_title(
        f"{' / '.join(key)}\ntemporal generalization, mean over {n_runs} runs per training window\n"
        "(dashed: diagonal, train time = test time)"
    )
    return fig


# ---------------------------------------------------------------- writing


def _draw(function, args, stem: Path) -> list[Path]:
    with plt.style.context(["default", STYLE]):
        return save_figure(function(*args), stem)


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def read_runs(summary_dir) -> pd.DataFrame:
    """The columns of summary/runs.csv that locate a run (path, status, permutation), its cell,
    window and the time course's scores (for the label-permutation null)."""
    columns = ["path", "status", "permutation", *KEYS, "window", *timecourse.SCORES]
    return read_runs_csv(Path(summary_dir) / "runs.csv", columns)[columns]


def write_timecourse_outputs(results, summary_dir, plots_dir, options: dict | None = None) -> pd.DataFrame:
    """summary/timecourse.{csv,md} and plots/timecourse/<dataset>.{png,pdf}; the table."""
    options = options_with_defaults(options)
    runs = read_runs(summary_dir)
    windows = timecourse.collect_windows(results, runs)
    table = timecourse.timecourse_table(windows, options, permutation_scores(runs, options["timecourse_metric"]))
    table = timecourse_null.add_null_columns(table, windows, timecourse_null.collect_null(results, runs), options)
    timecourse.write_timecourse(table, options, summary_dir)
    folder = _fresh(Path(plots_dir) / TIMECOURSE_DIR)
    written = [
        p
        for dataset in dict.fromkeys(table["dataset"])
        for p in _draw(timecourse_figure, (table, dataset, options), folder / dataset)
    ]
    log.info("time course: %d windowed runs, %d table rows, %d figure files", len(windows), len(table), len(written))
    return table


def write_generalization_outputs(results, summary_dir, plots_dir, options: dict | None = None) -> dict:
    """summary/generalization/<dataset>_<architecture>_<hparams>.csv and its figure in
    plots/generalization/; the matrices. A folder without any says why in a README.md."""
    options = options_with_defaults(options)
    windows = timecourse.collect_windows(results, read_runs(summary_dir))
    metric = options["timecourse_metric"]
    matrices = timecourse.generalization_matrices(timecourse.read_generalization(results, windows), metric)
    tables = _fresh(Path(summary_dir) / GENERALIZATION_DIR)
    figures = _fresh(Path(plots_dir) / GENERALIZATION_DIR)
    if not matrices:
        write_text_atomic(
            tables / "README.md",
            "No generalization matrix: no finished windowed run of this sweep left a generalization.csv (they do with "
            "`summary.generalization: true`).\n",
        )
        return {}
    chance = _chance_of_cells(windows, options)
    for key, matrix in matrices.items():
        name = timecourse.matrix_name(key)
        write_text_atomic(tables / f"{name}.csv", timecourse.matrix_csv(matrix))
        mine = windows[(windows[KEYS] == pd.Series(key, index=KEYS)).all(axis=1)]
        per_window = int(mine.groupby("window_start").size().max())
        args = (matrix, key, chance.get(key, np.nan), float(mine["window_length"].iloc[0]), per_window, options)
        _draw(generalization_figure, args, figures / name)
    log.info("temporal generalization: %d matrices", len(matrices))
    return matrices


def _chance_of_cells(windows: pd.DataFrame, options: dict) -> dict[tuple, float]:
    """Each cell's chance level of the score (for accuracy the majority-class rate of its test
    trials), as in the time-course table."""
    out = {}
    for key, mine in windows.groupby(KEYS, sort=False):
        chance, _, _ = chance_per_window(
            mine, sorted(mine["window_start"].unique()), options["timecourse_metric"], options["significance"]["alpha"]
        )
        out[key] = float(np.nanmean(chance)) if np.isfinite(chance).any() else np.nan
    return out
