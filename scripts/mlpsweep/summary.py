"""Aggregate run directories into the summary tables (CSV, Markdown, LaTeX)."""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .storage import write_text_atomic

log = logging.getLogger("mlpsweep")

METRICS = (
    "test_accuracy", "test_balanced_accuracy", "test_macro_f1", "test_loss",
    "val_accuracy", "val_loss", "train_accuracy", "train_loss",
    "epochs_run", "fit_seconds", "n_params",
)  # fmt: skip
LABELS = {
    "test_accuracy": "Test acc.",
    "test_balanced_accuracy": "Test bal. acc.",
    "test_macro_f1": "Test macro F1",
    "test_loss": "Test loss",
    "val_accuracy": "Val. acc.",
    "val_loss": "Val. loss",
    "train_accuracy": "Train acc.",
    "train_loss": "Train loss",
    "epochs_run": "Epochs",
    "fit_seconds": "Fit (s)",
    "n_params": "Params",
}
LOWER_IS_BETTER = {"test_loss", "val_loss", "train_loss", "fit_seconds", "n_params", "epochs_run"}
PERCENT_METRICS = {"test_accuracy", "test_balanced_accuracy", "test_macro_f1", "val_accuracy", "train_accuracy"}
KEYS = ["dataset", "architecture", "hparams"]
RUN_FILES = ("metrics.json", "history.csv", "model.keras")
RUN_DIR_RE = re.compile(r"^runs/(?P<dataset>[A-Za-z0-9_-]+)/(?P<architecture>[A-Za-z0-9_-]+)/(?P<hparams>[A-Za-z0-9_.-]+)/seed(?P<seed>\d+)$")
DEFAULT_OPTIONS = {
    "metrics": ["test_accuracy", "test_balanced_accuracy", "test_macro_f1"],
    "best_by": "test_accuracy",
    "higher_is_better": True,
    "decimals": 3,
    "percent": False,
    "bold_best": True,
    "significance": {"test": "paired_t", "alpha": 0.05},
    "dataset_order": [],
    "architecture_order": [],
    "caption": "Test metrics, mean $\\pm$ std over seeds; best mean per data set in bold.",
    "label": "tab:mlpsweep",
}


def options_with_defaults(options: dict | None) -> dict:
    return {**DEFAULT_OPTIONS, **(options or {})}


def higher_is_better(metric: str, options: dict) -> bool:
    """Losses, times and sizes are always lower-is-better; other metrics follow the option."""
    return False if metric in LOWER_IS_BETTER else bool(options["higher_is_better"])


def scale_of(metric: str, options: dict) -> float:
    """100 for accuracies and F1 shown as percentages, else 1."""
    return 100.0 if options["percent"] and metric in PERCENT_METRICS else 1.0


# ---------------------------------------------------------------- collecting runs


def discover_runs(results: str | Path) -> list[str]:
    """Run directories (relative to `results`) found on disk, finished or not."""
    results = Path(results)
    found = []
    for path in sorted((results / "runs").glob("*/*/*/seed*")):
        rel = path.relative_to(results).as_posix()
        if path.is_dir() and RUN_DIR_RE.match(rel):
            found.append(rel)
    return found


def read_run(results: str | Path, rel: str) -> dict:
    """One row of runs.csv: identity, status, metrics and provenance of a run directory."""
    match = RUN_DIR_RE.match(rel)
    if not match:
        raise ValueError(f"{rel}: not a run directory (runs/<dataset>/<architecture>/<hparams>/seed<N>)")
    row = {**match.groupdict(), "seed": int(match["seed"]), "path": rel, "status": "missing", "problem": ""}
    run_dir = Path(results) / rel
    metrics_path = run_dir / "metrics.json"
    failed_path = run_dir / "failed.json"
    if metrics_path.is_file():
        try:
            record = json.loads(metrics_path.read_text(encoding="utf-8"))
            metrics = record["metrics"]
            row["status"] = record["status"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            row["status"] = "damaged"
            row["problem"] = f"metrics.json unreadable ({type(exc).__name__})"
            log.warning("%s: %s", run_dir, row["problem"])
            return row
        for key in METRICS:
            value = metrics.get(key)
            row[key] = float(value) if isinstance(value, (int, float)) else math.nan
        prov = record.get("provenance", {})
        device = prov.get("device", {}) or {}
        row["device"] = device.get("type", "")
        row["gpu"] = "; ".join(device.get("gpus", []) or [])
        row["threads"] = prov.get("threads", 1)
        row["slurm_job_id"] = (prov.get("slurm") or {}).get("job_id", "")
        row["config_hash"] = record.get("config_hash", "")
        row["confusion_matrix"] = json.dumps(metrics.get("test_confusion_matrix")) if metrics.get("test_confusion_matrix") else ""
        row["class_names"] = json.dumps(record.get("data", {}).get("class_names", []))
        missing = [name for name in RUN_FILES[1:] if not (run_dir / name).is_file()]
        if row["status"] == "diverged":
            missing = [m for m in missing if m != "model.keras"]
        if missing:
            row["problem"] = "missing " + ", ".join(missing)
            log.warning("%s: finished run lacks %s", run_dir, ", ".join(missing))
    elif failed_path.is_file():
        row["status"] = "failed"
        try:
            row["problem"] = json.loads(failed_path.read_text(encoding="utf-8")).get("error", "")
        except (OSError, ValueError):
            row["problem"] = "failed.json unreadable"
    elif (run_dir / "checkpoint").is_dir():
        row["status"] = "incomplete"
    return row


def collect_runs(results: str | Path, expected: list[str] | None = None) -> pd.DataFrame:
    """runs.csv as a frame: the expected runs (missing ones included), or all found on disk."""
    paths = list(expected) if expected is not None else discover_runs(results)
    rows = [read_run(results, rel) for rel in paths]
    frame = pd.DataFrame(rows, columns=[*KEYS, "seed", "status", *METRICS, "device", "gpu", "threads", "slurm_job_id", "config_hash", "path", "problem", "confusion_matrix", "class_names"])
    return frame


# ---------------------------------------------------------------- ordering


def _natural_key(text: str):
    return [float(t) if re.fullmatch(r"\d+(\.\d+)?(e-?\d+)?", t) else t for t in re.split(r"(\d+(?:\.\d+)?(?:e-?\d+)?)", str(text)) if t]


def _order(values, preferred: list[str]) -> list[str]:
    values = list(dict.fromkeys(values))
    head = [v for v in preferred if v in values]
    rest = sorted((v for v in values if v not in head), key=_natural_key)
    return head + rest


def sort_runs(runs: pd.DataFrame, options: dict) -> pd.DataFrame:
    ds = _order(runs["dataset"], options["dataset_order"])
    arch = _order(runs["architecture"], options["architecture_order"])
    hp = _order(runs["hparams"], [])
    key = runs.assign(_d=runs["dataset"].map(ds.index), _a=runs["architecture"].map(arch.index), _h=runs["hparams"].map(hp.index))
    return key.sort_values(["_d", "_a", "_h", "seed"], kind="stable").drop(columns=["_d", "_a", "_h"]).reset_index(drop=True)


# ---------------------------------------------------------------- aggregation


def _paired_pvalue(best: pd.Series, other: pd.Series, test: str) -> float:
    """p-value of 'other differs from best' over the seeds both have (NaN if undefined)."""
    from scipy import stats

    pairs = pd.concat([best, other], axis=1, join="inner").dropna()
    if len(pairs) < 2:
        return math.nan
    diff = pairs.iloc[:, 0] - pairs.iloc[:, 1]
    if np.allclose(diff, 0):
        return 1.0
    if test == "wilcoxon":
        return float(stats.wilcoxon(pairs.iloc[:, 0], pairs.iloc[:, 1]).pvalue)
    return float(stats.ttest_rel(pairs.iloc[:, 0], pairs.iloc[:, 1]).pvalue)


def summarize(runs: pd.DataFrame, options: dict | None = None) -> pd.DataFrame:
    """One row per data set x architecture x hyperparameter cell: mean, std and n over seeds."""
    options = options_with_defaults(options)
    runs = sort_runs(runs, options)
    best_by = options["best_by"]
    higher = higher_is_better(best_by, options)
    rows = []
    seed_values = {}  # finished runs' best_by values by seed, per cell: the paired tests' input
    for (dataset, arch, hp), cell in runs.groupby(KEYS, sort=False):
        ok = cell[cell["status"] == "finished"]
        row = {"dataset": dataset, "architecture": arch, "hparams": hp, "n": len(ok), "n_planned": len(cell)}
        counts = cell["status"].value_counts()
        for status in ("diverged", "failed", "missing", "incomplete", "damaged"):
            row[f"n_{status}"] = int(counts.get(status, 0))
        seed_values[(dataset, arch, hp)] = ok.set_index("seed")[best_by].astype(float)
        values = ok[list(METRICS)].astype(float)  # all metrics at once: per-column results as one by one
        means, stds = values.mean(), values.std(ddof=1)
        for key in METRICS:
            row[f"{key}_mean"] = float(means[key]) if len(ok) else math.nan
            row[f"{key}_std"] = float(stds[key]) if len(ok) > 1 else math.nan
        done = cell[cell["status"].isin(["finished", "diverged"])]
        row["fit_seconds_total"] = float(done["fit_seconds"].fillna(0).sum())
        row["device"] = ";".join(sorted(set(done["device"].dropna().astype(str)) - {""}))
        row["status"] = _cell_status(row)
        rows.append(row)
    cells = pd.DataFrame(rows, columns=[*KEYS, "n", "n_planned", "status"] if not rows else None)
    if cells.empty:
        return cells.assign(best=False, p_value=math.nan, not_worse=False)
    cells["best"] = False
    cells["p_value"] = math.nan
    cells["not_worse"] = False
    test = options["significance"]["test"]
    keys = dict(zip(cells.index, zip(*(cells[k] for k in KEYS))))
    for dataset, group in cells.groupby("dataset", sort=False):
        scores = group[f"{best_by}_mean"]
        if scores.notna().sum() == 0:
            continue
        best_idx = scores.idxmax() if higher else scores.idxmin()
        cells.loc[best_idx, "best"] = True
        if test == "none":
            continue
        best_values = seed_values[keys[best_idx]]
        for idx in group.index:
            if idx == best_idx or math.isnan(cells.at[idx, f"{best_by}_mean"]):
                continue
            p = _paired_pvalue(best_values, seed_values[keys[idx]], test)
            cells.at[idx, "p_value"] = p
            cells.at[idx, "not_worse"] = bool(not math.isnan(p) and p >= options["significance"]["alpha"])
    return cells


def _cell_status(row: dict) -> str:
    if row["n"] == row["n_planned"]:
        return "complete"
    if row["n"] == 0:
        for status in ("diverged", "failed", "damaged", "incomplete"):
            if row[f"n_{status}"]:
                return status
        return "missing"
    return "partial"


def compute_accounting(runs: pd.DataFrame) -> dict:
    """Total training time of the sweep, as CPU-hours and GPU-hours."""
    done = runs[runs["status"].isin(["finished", "diverged"])]
    seconds = done["fit_seconds"].fillna(0.0).astype(float)
    on_gpu = done["device"] == "GPU"
    threads = pd.to_numeric(done["threads"], errors="coerce").fillna(1)
    return {
        "runs": int(len(runs)),
        "finished": int((runs["status"] == "finished").sum()),
        "diverged": int((runs["status"] == "diverged").sum()),
        "failed": int((runs["status"] == "failed").sum()),
        "missing": int(runs["status"].isin(["missing", "incomplete"]).sum()),
        "damaged": int((runs["status"] == "damaged").sum()),
        "fit_hours": round(float(seconds.sum()) / 3600, 6),
        "cpu_hours": round(float((seconds[~on_gpu] * threads[~on_gpu]).sum()) / 3600, 6),
        "gpu_hours": round(float(seconds[on_gpu].sum()) / 3600, 6),
    }


# ---------------------------------------------------------------- rendering


def _fmt(value: float, metric: str, options: dict) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if metric in ("n_params", "epochs_run"):
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    scale = scale_of(metric, options)
    return f"{value * scale:.{options['decimals']}f}"


def _cell_text(row: pd.Series, metric: str, options: dict, pm: str) -> str:
    if row["n"] == 0:
        return row["status"]
    mean = _fmt(row[f"{metric}_mean"], metric, options)
    std = _fmt(row[f"{metric}_std"], metric, options)
    return f"{mean} {pm} {std}" if std else mean


def _table_rows(cells: pd.DataFrame, options: dict, pm: str, bold, mark: str):
    for _, row in cells.iterrows():
        values = []
        for metric in options["metrics"]:
            text = _cell_text(row, metric, options, pm)
            if metric == options["best_by"] and row["n"]:
                if row["best"] and options["bold_best"]:
                    text = bold(text)
                elif row["not_worse"]:
                    text = text + mark
            values.append(text)
        n = f"{row['n']}/{row['n_planned']}"
        yield [row["dataset"], row["architecture"], row["hparams"], n, *values]


def _notes(cells: pd.DataFrame, options: dict) -> str:
    notes = [f"Mean ± std over seeds (sample std); n = finished runs / planned runs. Best mean {LABELS.get(options['best_by'], options['best_by'])} per data set in bold."]
    test = options["significance"]["test"]
    if test != "none":
        name = {"paired_t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test"}[test]
        notes.append(f"† not significantly worse than the best cell of its data set ({name} over shared seeds, alpha = {options['significance']['alpha']}).")
    if (cells["n"] < cells["n_planned"]).any():
        notes.append("Cells with fewer finished runs than planned count only the finished ones; a cell with none shows why (missing, failed, diverged).")
    return notes


def render_markdown(cells: pd.DataFrame, options: dict, compute: dict) -> str:
    header = ["Data set", "Architecture", "Hyperparameters", "n", *(LABELS.get(m, m) for m in options["metrics"])]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] * 4 + [" ---: "] * len(options["metrics"])) + "|"]
    for values in _table_rows(cells, options, "±", lambda t: f"**{t}**", " †"):
        lines.append("| " + " | ".join(values) + " |")
    lines.append("")
    lines.extend(_notes(cells, options))
    lines.append("")
    lines.append(
        f"Compute: {compute['finished']} finished, {compute['diverged']} diverged, {compute['failed']} failed, {compute['missing']} missing of {compute['runs']} runs; "
        f"training time {compute['fit_hours']:.4f} h ({compute['cpu_hours']:.4f} CPU-hours, {compute['gpu_hours']:.4f} GPU-hours)."
    )
    return "\n".join(lines) + "\n"


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in str(text))


def render_latex(cells: pd.DataFrame, options: dict) -> str:
    n_metrics = len(options["metrics"])
    header = ["Data set", "Architecture", "Hyperparameters", "$n$", *(tex_escape(LABELS.get(m, m)) for m in options["metrics"])]
    lines = [
        "% Generated by mlpsweep; requires \\usepackage{booktabs}.",
        "\\begin{table}[htbp]",
        "\\centering",
        f"\\caption{{{options['caption']}}}",
        f"\\label{{{options['label']}}}",
        "\\begin{tabular}{lll" + "r" * (1 + n_metrics) + "}",
        "\\toprule",
        " & ".join(header) + " \\\\",
        "\\midrule",
    ]
    previous = None
    for values in _table_rows(cells, options, "$\\pm$", lambda t: f"\\textbf{{{t}}}", "$^\\dagger$"):
        if previous is not None and values[0] != previous:
            lines.append("\\midrule")
        previous = values[0]
        escaped = [tex_escape(v) for v in values[:4]] + values[4:]
        lines.append(" & ".join(escaped) + " \\\\")
    lines.extend(["\\bottomrule", "\\end{tabular}"])
    test = options["significance"]["test"]
    if test != "none":
        name = {"paired_t": "paired $t$-test", "wilcoxon": "Wilcoxon signed-rank test"}[test]
        lines.append(f"\\par\\smallskip{{\\footnotesize $^\\dagger$ not significantly worse than the best cell ({name}, $\\alpha = {options['significance']['alpha']}$).}}")
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


def write_summary(runs: pd.DataFrame, options: dict | None, outdir: str | Path) -> dict:
    """Write runs.csv, summary.csv, summary.md, summary.tex and compute.json into `outdir`."""
    options = options_with_defaults(options)
    outdir = Path(outdir)
    runs = sort_runs(runs, options)
    cells = summarize(runs, options)
    compute = compute_accounting(runs)
    write_text_atomic(outdir / "runs.csv", runs.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    write_text_atomic(outdir / "summary.csv", cells.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    write_text_atomic(outdir / "summary.md", render_markdown(cells, options, compute))
    write_text_atomic(outdir / "summary.tex", render_latex(cells, options))
    write_text_atomic(outdir / "compute.json", json.dumps(compute, indent=2, sort_keys=True) + "\n")
    return {"runs": runs, "cells": cells, "compute": compute}
