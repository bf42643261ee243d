"""Figures of a sweep, drawn from the summary tables and each run's history.csv alone.

Every figure is written as PNG and PDF with fixed metadata and fixed style
settings, so the same tables give byte-identical files on every re-run.
"""

from __future__ import annotations

import io
import json
import logging
import math
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from . import rundir  # noqa: E402
from .progress import Progress  # noqa: E402
from .registry import METRICS, PLOTS  # noqa: E402
from .storage import write_bytes_atomic  # noqa: E402
from .tables.cells import cell_dtypes  # noqa: E402
from .tables.cells import best_rows  # noqa: E402
from .tables.options import higher_is_better, options_with_defaults, scale_of  # noqa: E402
from .tables.order import real_runs  # noqa: E402
from .tables.render import mean_std  # noqa: E402
from .tables.runs import KEYS, read_runs_csv  # noqa: E402

log = logging.getLogger("mlpsweep")

# Layout of the plots directory; workflow/rules/plots.smk declares the same names.
# The names come from the registry, in its order (timecourse_plots.py draws the windowed ones).
HEATMAP, COMPUTE, BARS_DIR, CONFUSION_DIR, CURVES_DIR, SEARCH_DIR = list(PLOTS)[:6]
FORMATS = ("png", "pdf")

# Matplotlib defaults plus print sizes; no user matplotlibrc, no random SVG ids.
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "figure.dpi": 100,
    "savefig.dpi": 150,  # 7 in wide figures are 1050 px, 8 pt text 17 px high
    "pdf.fonttype": 42,
    "svg.hashsalt": "mlpsweep",
    "path.simplify": True,
}
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": "mlpsweep", "Producer": "mlpsweep", "CreationDate": None}
STATUS_COLOR = "0.85"
FLAGS = {"True": True, "False": False}


# ---------------------------------------------------------------- reading


def read_tables(summary_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """runs.csv, summary.csv and compute.json of a summary directory."""
    summary_dir = Path(summary_dir)
    runs = read_runs_csv(summary_dir / "runs.csv")
    cells = _read_csv(summary_dir / "summary.csv", cell_dtypes())
    compute = json.loads((summary_dir / "compute.json").read_text(encoding="utf-8"))
    return runs, cells, compute


def _read_csv(path: Path, summary_dtypes: dict) -> pd.DataFrame:
    """summary.csv with its declared types: text and flags read as text, flags then mapped."""
    dtypes = {c: str for c, kind in summary_dtypes.items() if kind in ("str", "bool", "boolean")}
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return pd.DataFrame(columns=list(dtypes))
    frame = pd.read_csv(io.StringIO(text), dtype=dtypes, keep_default_na=False, na_values=[""])
    for column, kind in dtypes.items():
        if kind is str and column in frame:
            frame[column] = frame[column].fillna("")
    for column, kind in summary_dtypes.items():
        if kind == "bool" and column in frame:
            frame[column] = frame[column].map(FLAGS).fillna(False).astype(bool)
        elif kind == "boolean" and column in frame:
            frame[column] = frame[column].map(FLAGS).astype("boolean")  # empty: unknown
    return frame


def read_history(results: str | Path, run_path: str) -> pd.DataFrame | None:
    """A run's per-epoch history, or None (with a warning) if it is missing or unreadable."""
    path = Path(results) / run_path / rundir.HISTORY_FILE
    try:
        history = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        log.warning("%s: no learning curve from this run (%s)", path, type(exc).__name__)
        return None
    return history


# ---------------------------------------------------------------- numbers behind the figures


UNIT_WORDS = {"nats": "cross-entropy, nats"}


def axis_label(metric: str, options: dict) -> str:
    """The registry's label with its unit: fractions as fraction or %, losses in nats."""
    name, unit = METRICS[metric].label, METRICS[metric].unit
    if unit == "fraction" and scale_of(metric, options) == 100:
        unit = "%"
    if name.endswith(")") or name.lower() == unit:
        return name  # the label carries its unit already ("Fit (s)") or is one ("Epochs")
    return f"{name} ({UNIT_WORDS.get(unit, unit)})"


def ci95_halfwidth(std: float, n: int) -> float:
    """Half-width of the 95% confidence interval of a mean over n runs (t-distribution)."""
    from scipy.special import stdtrit  # the t quantile behind scipy.stats.t.ppf, without importing scipy.stats (0.5 s)

    if n < 2 or not np.isfinite(std):
        return math.nan
    return float(stdtrit(n - 1, 0.975) * std / math.sqrt(n))


def mean_curves(histories: list[pd.DataFrame]) -> pd.DataFrame:
    """Per epoch: mean, sample std and count over runs of each history column.

    Runs stopped early contribute to the epochs they reached.
    """
    frame = pd.concat(histories, ignore_index=True)
    columns = [c for c in ("loss", "accuracy", "val_loss", "val_accuracy") if c in frame]
    grouped = frame.groupby("epoch")[columns]
    stats = (
        grouped.mean().add_suffix("_mean").join(grouped.std(ddof=1).add_suffix("_std")).join(grouped.size().rename("n"))
    )
    return stats.reset_index()


def best_per_pair(cells: pd.DataFrame, options: dict) -> pd.DataFrame:
    """One row per data set x architecture: the hyperparameter cell best by `best_by`.

    Pairs without a finished run keep one row whose status says why.
    """
    best = set(best_rows(cells, ["dataset", "architecture"], options).tolist())
    rows = []
    for (_, _), pair in cells.groupby(["dataset", "architecture"], sort=False):
        chosen = [i for i in pair.index if i in best]
        if chosen:
            rows.append(pair.loc[chosen[0]])
        else:
            row = pair.iloc[0].copy()
            row["status"] = "/".join(dict.fromkeys(pair["status"]))
            rows.append(row)
    return pd.DataFrame(rows).reset_index(drop=True)


def heatmap_grid(cells: pd.DataFrame, options: dict, metric: str = "test_accuracy") -> dict:
    """Values and annotations of the heatmap: rows data sets, columns architectures."""
    datasets = list(dict.fromkeys(cells["dataset"]))
    architectures = list(dict.fromkeys(cells["architecture"]))
    scale = scale_of(metric, options)
    several = bool(cells.groupby(["dataset", "architecture"]).size().gt(1).any())
    values = np.full((len(datasets), len(architectures)), np.nan)
    text = [["n/a"] * len(architectures) for _ in datasets]
    for _, row in best_per_pair(cells, options).iterrows():
        i, j = datasets.index(row["dataset"]), architectures.index(row["architecture"])
        mean = row[f"{metric}_mean"]
        if row["n"] == 0 or not np.isfinite(mean):
            text[i][j] = row["status"]
            continue
        values[i, j] = mean * scale
        lines = [mean_std(mean, row[f"{metric}_std"], metric, options)]
        if several:
            lines.append(row["hparams"])
        if row["n"] < row["n_planned"]:
            lines.append(f"n = {row['n']}/{row['n_planned']}")
        text[i][j] = "\n".join(lines)
    return {
        "datasets": datasets,
        "architectures": architectures,
        "values": values,
        "text": text,
        "several_hparams": several,
    }


def finished_by_cell(runs: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    """Each cell's finished runs, label-permutation runs left out, by (data set, architecture, hparams)."""
    mine = real_runs(runs)
    return dict(tuple(mine[mine["status"] == "finished"].groupby(KEYS, sort=False)))


def runs_word(mine: pd.DataFrame) -> str:
    """What a cell's runs are called: seeds, or runs where each seed has its folds."""
    return "runs" if mine["fold"].notna().any() else "seeds"


def summed_confusion(mine: pd.DataFrame | None) -> tuple[np.ndarray, list[str], int] | None:
    """Test confusion matrix summed over a cell's finished runs, its class names and their number."""
    if mine is None:
        return None
    mine = mine[mine["confusion_matrix"] != ""]
    if mine.empty:
        return None
    matrices = [np.asarray(json.loads(text), dtype=int) for text in mine["confusion_matrix"]]
    if len({m.shape for m in matrices}) != 1:
        log.warning("%s/%s/%s: confusion matrices of different shapes; not drawn", *mine[KEYS].iloc[0])
        return None
    names = json.loads(mine["class_names"].iloc[0] or "[]")
    total = np.sum(matrices, axis=0)
    if len(names) != total.shape[0]:
        names = [str(k) for k in range(total.shape[0])]
    return total, names, len(matrices)


# ---------------------------------------------------------------- figures


def learning_curves_figure(curves: pd.DataFrame, title: str, options: dict, over: str = "seeds"):
    """Loss and accuracy per epoch, train and validation, mean over runs with a +-std band."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(7.0, 2.8), layout="constrained")
    scale = scale_of("train_accuracy", options)
    for ax, metric, factor in ((ax_loss, "loss", 1.0), (ax_acc, "accuracy", scale)):
        for prefix, split, style in (("", "train", "-"), ("val_", "validation", "--")):
            column = prefix + metric
            if f"{column}_mean" not in curves:
                continue
            mean = curves[f"{column}_mean"] * factor
            std = curves[f"{column}_std"].fillna(0.0) * factor
            line = ax.plot(curves["epoch"], mean, style, marker="o", markersize=3, label=split)[0]
            ax.fill_between(curves["epoch"], mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, linewidth=0.3, alpha=0.5)
    ax_loss.set_ylabel(f"Loss ({UNIT_WORDS['nats']})")
    ax_acc.set_ylabel(f"Accuracy ({'%' if scale == 100 else 'fraction'})")
    handles, labels = ax_loss.get_legend_handles_labels()
    fig.legend(
        handles,
        [f"{label}: mean over {over}, band ± 1 std" for label in labels],
        loc="outside lower center",
        ncols=2,
        frameon=False,
    )
    fig.suptitle(title)
    return fig


def heatmap_figure(grid: dict, options: dict, metric: str = "test_accuracy"):
    """Mean test accuracy per data set x architecture, annotated; failed or absent pairs in grey."""
    n_rows, n_cols = len(grid["datasets"]), len(grid["architectures"])
    fig, ax = plt.subplots(figsize=(1.8 + 1.5 * n_cols, 1.2 + 0.7 * n_rows), layout="constrained")
    values = np.ma.masked_invalid(grid["values"])
    cmap = plt.get_cmap("viridis").with_extremes(bad=STATUS_COLOR)
    finite = grid["values"][np.isfinite(grid["values"])]
    top = scale_of(metric, options) if METRICS[metric].unit == "fraction" else (finite.max() if finite.size else 1.0)
    bottom = min(finite.min(), top * 0.5) if finite.size else 0.0
    image = ax.imshow(values, cmap=cmap, vmin=bottom, vmax=top, aspect="auto")
    for i in range(n_rows):
        for j in range(n_cols):
            value = grid["values"][i, j]
            dark = np.isfinite(value) and (value - bottom) / max(top - bottom, 1e-12) < 0.6
            ax.text(j, i, grid["text"][i][j], ha="center", va="center", fontsize=7, color="white" if dark else "black")
    ax.set_xticks(
        range(n_cols), grid["architectures"], rotation=30 if n_cols > 3 else 0, ha="right" if n_cols > 3 else "center"
    )
    ax.set_yticks(range(n_rows), grid["datasets"])
    ax.set_xlabel("Architecture")
    ax.set_ylabel("Data set")
    label = axis_label(metric, options)
    fig.colorbar(image, ax=ax, label=f"Mean {label[0].lower()}{label[1:]}")
    title = f"Mean {METRICS[metric].label.lower()} over runs (± std)"
    if grid["several_hparams"]:
        title += (
            f"\nbest hyperparameters per pair by {METRICS[options['best_by']].label.lower()} (shown below the value)"
        )
    ax.set_title(title)
    return fig


MAX_BARS = 40  # cells drawn as bars of their own; beyond, figures show a bounded selection


def bounded_bars(mine: pd.DataFrame, options: dict) -> tuple[pd.DataFrame, str]:
    """A data set's cells to draw as bars: all up to MAX_BARS; beyond, the best cell of each
    architecture (at most MAX_BARS of them, best first), so a figure's cost does not grow with
    the cells. (cells, a note for the title: '' when all are drawn)."""
    if len(mine) <= MAX_BARS:
        return mine, ""
    best = best_per_pair(mine, options)
    metric = f"{options['best_by']}_mean"
    if len(best) > MAX_BARS:
        best = best.sort_values(
            metric, ascending=not higher_is_better(options["best_by"], options), na_position="last", kind="stable"
        ).head(MAX_BARS)
    note = f"; the best cell of each of {len(best)} architectures, of {len(mine)} cells"
    return best.reset_index(drop=True), note


def bars_figure(cells: pd.DataFrame, dataset: str, options: dict):
    """The `best_by` metric of every cell of one data set, mean with 95% CI error bars; for test
    accuracy also the chance threshold and the majority-class rate as lines. Beyond MAX_BARS
    cells, the best cell of each architecture (bounded_bars)."""
    metric = options["best_by"]
    scale = scale_of(metric, options)
    mine, note = bounded_bars(cells[cells["dataset"] == dataset].reset_index(drop=True), options)
    labels = [f"{a}\n{h}\nn = {n}" for a, h, n in zip(mine["architecture"], mine["hparams"], mine["n"])]
    means = mine[f"{metric}_mean"].to_numpy(dtype=float) * scale
    errors = np.array([ci95_halfwidth(s, int(n)) for s, n in zip(mine[f"{metric}_std"], mine["n"])]) * scale
    colors = ["C1" if best else "C0" for best in mine["best"]]
    fig, ax = plt.subplots(figsize=(max(3.0, 1.0 + 0.75 * len(mine)), 3.2), layout="constrained")
    x = np.arange(len(mine))
    ax.bar(x, np.nan_to_num(means), color=colors, yerr=np.nan_to_num(errors), capsize=3, error_kw={"linewidth": 0.8})
    for k, row in mine.iterrows():
        if row["n"] == 0 or not np.isfinite(means[k]):
            ax.text(
                k,
                0.02,
                row["status"],
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=8,
                color="0.3",
            )
    if metric == "test_accuracy" and chance_lines(ax, mine, x, scale, options["significance"]["alpha"]):
        fig.legend(loc="outside lower center", ncols=2, frameon=False)
    ax.set_xticks(x, labels, rotation=30 if len(mine) > 4 else 0, ha="right" if len(mine) > 4 else "center")
    ax.set_xlabel("Architecture / hyperparameters / finished runs")
    ax.set_ylabel(axis_label(metric, options) + "\nmean ± 95% CI over runs")
    # Accuracies cannot leave [0, 1]; a wide interval (few seeds) runs off the top instead of squashing the bars.
    ax.set_ylim(0, 1.05 * scale if METRICS[metric].unit == "fraction" else None)
    ax.grid(True, axis="y", linewidth=0.3, alpha=0.5)
    ax.set_title(
        f"{dataset}: {METRICS[metric].label.lower()} per cell (orange: best{note})\n"
        "error bars: 95% CI of the mean (t-distribution); none for n < 2"
    )
    return fig


CHANCE_STYLES = (
    (
        "chance_threshold",
        {"color": "C3", "linestyle": "--"},
        "chance threshold (binomial at the majority rate, p < {alpha})",
    ),
    ("chance_majority", {"color": "0.35", "linestyle": ":"}, "majority-class rate"),
)


def chance_lines(ax, mine: pd.DataFrame, x: np.ndarray, scale: float, alpha: float) -> bool:
    """Draw the chance threshold and majority-class rate: one line across the axes where the
    cells share it, else a line over each bar. Whether anything was drawn."""
    drawn = False
    for column, style, label in CHANCE_STYLES:
        values = mine[column].to_numpy(dtype=float) * scale if column in mine else np.array([np.nan])
        known = np.isfinite(values)
        if not known.any():
            continue
        if np.ptp(values[known]) == 0:
            ax.axhline(values[known][0], linewidth=1, label=label.format(alpha=alpha), **style)
        else:
            ax.hlines(
                values[known], x[known] - 0.4, x[known] + 0.4, linewidth=1, label=label.format(alpha=alpha), **style
            )
        drawn = True
    return drawn


def confusion_figure(matrix: np.ndarray, names: list[str], n_runs: int, title: str, over: str = "seeds"):
    """Summed test confusion matrix with counts in each cell (drawn as scikit-learn's
    ConfusionMatrixDisplay draws it: `confusion_display`)."""
    k = len(names)
    side = min(2.2 + 0.3 * k, 8.0)
    fig, ax = plt.subplots(figsize=(side + 1.0, side), layout="constrained")
    image = confusion_display(ax, np.asarray(matrix), names, include_values=k <= 30)
    rotate = max((len(n) for n in names), default=0) > 3
    ax.set_xticks(range(k), names, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    fig.colorbar(
        image, ax=ax, ticks=MaxNLocator(integer=True), label=f"Test samples (count, summed over {n_runs} {over})"
    )
    ax.set_title(title)
    return fig


def confusion_display(ax, matrix: np.ndarray, names: list[str], include_values: bool):
    """What `ConfusionMatrixDisplay(matrix, display_labels=names).plot(ax=ax, cmap="Blues",
    colorbar=False, include_values=..., values_format="d", text_kw={"fontsize": 7},
    im_kw={"vmin": 0})` draws, call for call (a test compares the files), without importing
    scikit-learn into rule plots (0.5-1 s). Returns the image."""
    image = ax.imshow(matrix, interpolation="nearest", cmap="Blues", vmin=0)
    cmap_min, cmap_max = image.cmap(0), image.cmap(1.0)
    if include_values:
        thresh = (matrix.max() + matrix.min()) / 2.0
        for i in range(len(matrix)):
            for j in range(len(matrix)):
                color = cmap_max if matrix[i, j] < thresh else cmap_min
                ax.text(j, i, format(matrix[i, j], "d"), ha="center", va="center", color=color, fontsize=7)
    ticks = np.arange(len(matrix))
    ax.set(
        xticks=ticks, yticks=ticks, xticklabels=names, yticklabels=names, ylabel="True label", xlabel="Predicted label"
    )
    ax.set_ylim((len(matrix) - 0.5, -0.5))
    plt.setp(ax.get_xticklabels(), rotation="horizontal")
    return image


def compute_by_pair(cells: pd.DataFrame) -> pd.DataFrame:
    """Training time per data set x architecture (summed over its cells), device(s) joined:
    the compute figure's bars beyond MAX_BARS cells."""
    rows = []
    for (dataset, arch), pair in cells.groupby(["dataset", "architecture"], sort=False):
        devices = sorted(set(pair["device"].fillna("").replace("", "none")))
        n = int(pair["n_cells"].sum()) if "n_cells" in pair else len(pair)
        rows.append(
            {
                "dataset": dataset,
                "architecture": arch,
                "hparams": f"{n} cells",
                "n_cells": n,
                "device": "/".join(devices),
                "fit_seconds_total": pair["fit_seconds_total"].fillna(0.0).sum(),
            }
        )
    return pd.DataFrame(rows)


def compute_figure(cells: pd.DataFrame, compute: dict):
    """Training time per cell, summed over its runs, coloured by device; sweep totals in the
    title. Beyond MAX_BARS cells, one bar per data set and architecture (compute_by_pair)."""
    if len(cells) > MAX_BARS:
        cells = compute_by_pair(cells)
    if len(cells) > MAX_BARS:  # many architectures too: one bar per data set
        cells = compute_by_pair(cells.assign(architecture="all architectures"))
    labels = [f"{d} / {a} / {h}" for d, a, h in zip(cells["dataset"], cells["architecture"], cells["hparams"])]
    devices = cells["device"].fillna("").replace("", "none")
    palette = {name: f"C{k}" for k, name in enumerate(sorted(set(devices)))}
    fig, ax = plt.subplots(figsize=(6.5, max(2.5, 1.4 + 0.22 * len(cells))), layout="constrained")
    y = np.arange(len(cells))
    ax.barh(y, cells["fit_seconds_total"].fillna(0.0), color=[palette[d] for d in devices])
    for name, color in palette.items():
        ax.barh([], [], color=color, label=name)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("Training time (s), summed over the cell's runs")
    ax.set_ylabel("Cell (data set / architecture / hyperparameters)" if len(cells) > 8 else "Cell")
    ax.grid(True, axis="x", linewidth=0.3, alpha=0.5)
    if len(cells):
        ax.legend(title="device", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(
        f"Compute: {compute.get('cpu_hours', 0):.4f} CPU-hours, {compute.get('gpu_hours', 0):.4f} GPU-hours\n"
        f"({compute.get('finished', 0)} finished, {compute.get('diverged', 0)} diverged, "
        f"{compute.get('failed', 0)} failed, {compute.get('missing', 0)} missing of {compute.get('runs', 0)} runs)"
    )
    return fig


def empty_figure(message: str):
    fig, ax = plt.subplots(figsize=(4.0, 1.5), layout="constrained")
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig


# ---------------------------------------------------------------- writing


def save_figure(fig, stem: str | Path) -> list[Path]:
    """Write `stem`.png and `stem`.pdf byte-reproducibly, then close the figure.

    The layout is computed once, for the PNG, and kept for the PDF: both files show the same
    layout and the PDF skips a second constrained-layout pass.
    """
    written = []
    for fmt in FORMATS:
        buffer = io.BytesIO()
        metadata = PNG_METADATA if fmt == "png" else PDF_METADATA
        fig.savefig(buffer, format=fmt, metadata=metadata, bbox_inches="tight", pad_inches=0.05)
        fig.set_layout_engine("none")
        path = Path(f"{stem}.{fmt}")
        write_bytes_atomic(path, buffer.getvalue())
        written.append(path)
    plt.close(fig)
    return written


def cell_title(cell: pd.Series) -> str:
    return f"{cell['dataset']} / {cell['architecture']} / {cell['hparams']}"


def write_plots(
    results: str | Path,
    summary_dir: str | Path,
    outdir: str | Path,
    options: dict | None = None,
    workers: int = 1,
    search: dict | None = None,
    progress: Progress | None = None,
) -> list[Path]:
    """Draw every figure of the sweep into `outdir`; cells without finished runs are skipped or marked.

    The per-data-set and per-cell folders are emptied first, so no figure of an earlier sweep stays behind.
    With `workers` > 1 the figures are drawn by that many forked processes; the files are the same.
    `progress` counts the figures drawn.
    """
    options = options_with_defaults(options)
    runs, cells, compute = read_tables(summary_dir)
    outdir = Path(outdir)
    for sub in (BARS_DIR, CONFUSION_DIR, CURVES_DIR):
        shutil.rmtree(outdir / sub, ignore_errors=True)
        (outdir / sub).mkdir(parents=True)
    tasks = figure_tasks(Path(results), runs, cells, compute, options, outdir)
    shutil.rmtree(outdir / SEARCH_DIR, ignore_errors=True)
    (outdir / SEARCH_DIR).mkdir(parents=True)
    tasks += search_tasks(runs, cells, options, outdir, search)
    track = (lambda drawn: drawn) if progress is None else (lambda drawn: progress.track(drawn, len(tasks)))
    if workers > 1 and len(tasks) > 1:
        written = _draw_in_processes(tasks, workers, track)
    else:
        written = [path for paths in track(map(_draw, tasks)) for path in paths]
    log.info("wrote %d figure files to %s", len(written), outdir)
    return written


def figure_tasks(
    results: Path, runs: pd.DataFrame, cells: pd.DataFrame, compute: dict, options: dict, outdir: Path
) -> list[tuple]:
    """(figure function, its arguments, file stem) of every figure.

    The larger overview figures come first and the many small learning-curve figures last,
    so parallel workers finish at about the same time.
    """
    if cells.empty:
        return [(empty_figure, ("No runs to plot.",), outdir / name) for name in (HEATMAP, COMPUTE)]
    tasks = [
        (_heatmap_figure, (cells, options), outdir / HEATMAP),
        (compute_figure, (cells, compute), outdir / COMPUTE),
    ]
    for dataset in dict.fromkeys(cells["dataset"]):
        tasks.append((bars_figure, (cells, dataset, options), outdir / BARS_DIR / dataset))
    finished = finished_by_cell(runs)
    for _, cell in cells[cells["best"]].iterrows():
        tasks.append(
            (_confusion_figure, (finished.get(tuple(cell[KEYS])), cell), outdir / CONFUSION_DIR / cell["dataset"])
        )
    # bounded by default: the best cell of each data set; every cell on request (summary.learning_curves: all)
    for _, cell in (cells if options["learning_curves"] == "all" else cells[cells["best"]]).iterrows():
        stem = outdir / CURVES_DIR / cell["dataset"] / cell["architecture"] / cell["hparams"]
        tasks.append((_curves_figure, (results, finished.get(tuple(cell[KEYS])), cell, options), stem))
    return tasks


def _draw(task: tuple) -> list[Path]:
    """Draw one task's figure with the fixed style and save it; nothing if there is nothing to draw."""
    function, args, stem = task
    with plt.style.context(["default", STYLE]):
        fig = function(*args)
        return [] if fig is None else save_figure(fig, stem)


_TASKS: list[tuple] = []  # read by forked workers, which inherit it


def _draw_task(index: int) -> list[Path]:
    return _draw(_TASKS[index])


def _draw_in_processes(tasks: list[tuple], workers: int, track=lambda drawn: drawn) -> list[Path]:
    """Draw the tasks in forked worker processes (they inherit the tables, nothing is pickled but an index);
    `track` sees each task's files as it is done, in task order."""
    _TASKS[:] = tasks
    try:
        with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=multiprocessing.get_context("fork")) as pool:
            return [path for paths in track(pool.map(_draw_task, range(len(tasks)))) for path in paths]
    finally:
        _TASKS.clear()


def _heatmap_figure(cells: pd.DataFrame, options: dict):
    return heatmap_figure(heatmap_grid(cells, options), options)


def _confusion_figure(mine: pd.DataFrame | None, cell: pd.Series):
    confusion = summed_confusion(mine)
    if confusion is None:
        return None
    matrix, names, n = confusion
    over = runs_word(mine)
    return confusion_figure(
        matrix, names, n, f"{cell_title(cell)}\nbest cell of {cell['dataset']}, test sets of {n} {over}", over
    )


def cell_curves(results, mine: pd.DataFrame | None, cell: pd.Series) -> tuple[pd.DataFrame, str, str] | None:
    """Mean learning curves of a cell's finished runs, the figure title and what the runs are
    (seeds or (seed, fold) runs); None without any."""
    histories = (
        []
        if mine is None
        else [h for h in (read_history(results, p) for p in mine["path"]) if h is not None and len(h)]
    )
    if not histories:
        log.info("%s: no finished run with a history; no learning curves", cell_title(cell))
        return None
    over = runs_word(mine)
    return mean_curves(histories), f"{cell_title(cell)}: n = {len(histories)} of {int(cell['n_planned'])} {over}", over


def _curves_figure(results, mine: pd.DataFrame | None, cell: pd.Series, options: dict):
    found = cell_curves(results, mine, cell)
    if found is None:
        return None
    curves, title, over = found
    return learning_curves_figure(curves, title, options, over)


# ---------------------------------------------------------------- search (search.py)

SEARCH_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")


def search_columns(runs: pd.DataFrame) -> list[str]:
    """The sampled keys of runs.csv (its search.<key> columns), in their order."""
    return [c.removeprefix("search.") for c in runs.columns if c.startswith("search.")]


def search_tasks(
    runs: pd.DataFrame, cells: pd.DataFrame, options: dict, outdir: Path, search: dict | None
) -> list[tuple]:
    """One figure per data set of a search sweep: plots/search/<data set>.{png,pdf}."""
    keys = search_columns(runs)
    if not keys or cells.empty:
        return []
    log_keys = set(_log_keys(search, keys))
    return [
        (search_figure, (runs, cells, dataset, keys, log_keys, options), outdir / SEARCH_DIR / dataset)
        for dataset in dict.fromkeys(cells["dataset"])
    ]


def _log_keys(search: dict | None, keys: list[str]) -> list[str]:
    """Keys drawn log-uniformly (from the sweep's `search:`; without it, none)."""
    from .config import canonical_key

    space = (search or {}).get("space", {})
    return [
        canonical_key(k) for k, spec in space.items() if next(iter(spec)) == "log_uniform" and canonical_key(k) in keys
    ]


def search_figure(runs: pd.DataFrame, cells: pd.DataFrame, dataset: str, keys: list[str], log_keys: set, options: dict):
    """The `best_by` score of each finished run of one data set against each sampled key: one
    point per run, one colour and marker per seed, the best cell's runs ringed in black."""
    metric = options["best_by"]
    scale = scale_of(metric, options)
    mine = real_runs(runs)
    mine = mine[(mine["dataset"] == dataset) & (mine["status"] == "finished")]
    best = cells[(cells["dataset"] == dataset) & cells["best"]]
    best_keys = {tuple(row) for row in best[KEYS].itertuples(index=False)}
    is_best = np.array([tuple(row) in best_keys for row in mine[KEYS].itertuples(index=False)], dtype=bool)
    seeds = sorted(mine["seed"].unique().tolist())
    ncols = min(3, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.6 * ncols + 0.6, 2.3 * nrows + 0.9), layout="constrained", squeeze=False, sharey=True
    )
    y = mine[metric].to_numpy(dtype=float) * scale
    for ax, key in zip(axes.flat, keys):
        column = mine[f"search.{key}"]
        if column.dtype.kind in "fi":
            x = column.to_numpy(dtype=float)
        else:  # choices that are not numbers (lists, names): one position per value
            categories = sorted(column.dropna().unique().tolist(), key=str)
            x = column.map({c: k for k, c in enumerate(categories)}).to_numpy(dtype=float)
            ax.set_xticks(range(len(categories)), categories, rotation=30 if len(categories) > 3 else 0)
            ax.set_xlim(-0.5, len(categories) - 0.5)
        for k, seed in enumerate(seeds):
            at = (mine["seed"] == seed).to_numpy()
            ax.scatter(
                x[at],
                y[at],
                s=14,
                color=f"C{k % 10}",
                marker=SEARCH_MARKERS[k % len(SEARCH_MARKERS)],
                linewidths=0,
                alpha=0.85,
                label=f"seed {seed}",
            )
        if is_best.any():
            ax.scatter(
                x[is_best],
                y[is_best],
                s=70,
                facecolors="none",
                edgecolors="black",
                linewidths=1.2,
                label="best point" if ax is axes.flat[0] else None,
            )
        if key in log_keys:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # matplotlib labels minor ticks of short ranges: they overlap
            shown = x[np.isfinite(x) & (x > 0)]
            if len(shown) and shown.max() < 100 * shown.min():  # two decades or less: ticks at 1, 2 and 5 of each
                ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.set_xlabel(key + (" (log scale)" if key in log_keys else ""))
        ax.grid(True, linewidth=0.3, alpha=0.5)
    for ax in axes.flat[len(keys) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(axis_label(metric, options))
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 6), frameon=False)
    names = ", ".join(sorted(best["hparams"].tolist())) or "none finished"
    fig.suptitle(
        f"{dataset}: {METRICS[metric].label.lower()} of each run against each sampled key\n"
        f"{len(mine)} finished runs; ringed: best point ({names})"
    )
    return fig
