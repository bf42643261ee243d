"""Decoding over time: the time-course table with its cluster statistics, and the temporal
generalization matrices, from the run directories of windowed data sets.

A windowed run (`datasets.<name>.windows`) records its window and its protocol in
metrics.json (`data.window`, `data.protocol`, `run.subject`). Per data set x cell x window
the table gives the mean and std of the test accuracy over the cell's runs at that window,
the binomial chance threshold at the majority-class rate (stats.chance.majority_threshold, as
the summary table), and which windows are significantly above chance: MNE's cluster-based
permutation test (`mne.stats.permutation_cluster_1samp_test`, one-sided) over one observation per subject
(within-subject: the subject's mean accuracy; cross-subject: the held-out subject's
accuracy from the runs' per-group results) or per fold where the data has no subjects,
minus the chance level. The permutations are drawn with a fixed seed: the same runs give
the same table, byte for byte. Where the sweep has label-permutation runs, timecourse_null adds
the model-level permutation test's columns (Stelzer et al. 2013) and the prevalence bound.

Runs evaluated at every other window (`summary.generalization`) leave generalization.csv;
`generalization_matrices` averages them into train time x test time matrices.
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings

import numpy as np
import pandas as pd

from . import record, rundir
from .registry import METRICS
from .rundir import window_label
from .stats.cluster import cluster_test
from .tables.notes import cluster_caption_values
from .tables.options import fmt, options_with_defaults
from .tables.order import cell_ranks, natural_key
from .tables.render import CELL_HEADER, csv_text, markdown_table, mean_std
from .tables.runs import KEYS
from .timecourse_score import (
    SCORES,
    chance_column,
    chance_per_window,
    threshold_text,
    unbalanced_datasets,
    unbalanced_text,
)

log = logging.getLogger("mlpsweep")

PROTOCOLS = ("within-subject", "cross-subject", "pooled")
OBSERVATIONS = {"within-subject": "subjects", "cross-subject": "subjects", "pooled": "folds"}
WINDOW_COLUMNS = [
    *KEYS,
    "seed",
    "fold",
    "subject",
    "protocol",
    "window_start",
    "window_stop",
    "window_centre",
    "window_length",
    "test_accuracy",
    "test_balanced_accuracy",
    "test_roc_auc",
    "n_test",
    "test_class_counts",
    "test_by_group",
    "path",
    "status",
]


def table_columns(metric: str = "test_accuracy") -> list[str]:
    """The time-course table's columns for its score (`summary.timecourse_metric`)."""
    return [
        *KEYS, "protocol", "window", "window_start", "window_centre", "window_length", "n",
        f"{metric}_mean", f"{metric}_std", "observations", "n_observations", "observation_mean", "sem",
        chance_column(metric), "chance_threshold", "above_threshold", "cluster", "cluster_p", "significant",
    ]  # fmt: skip


TABLE_COLUMNS = table_columns()


# ---------------------------------------------------------------- collecting windowed runs


def collect_windows(results, runs: pd.DataFrame) -> pd.DataFrame:
    """The finished real runs of `runs` (runs.csv) that record a window: one row each, with
    the window, subject and protocol from metrics.json."""
    wanted = runs[(runs["status"] == "finished") & runs["permutation"].isna()] if len(runs) else runs
    rows = []
    for rel in wanted["path"]:
        rec = record.read(os.path.join(os.fspath(results), rel))
        row = window_row(rec, rel) if rec is not None else None
        if row is not None:
            rows.append(row)
    frame = pd.DataFrame(rows, columns=WINDOW_COLUMNS)
    return frame.astype(
        {
            "seed": "int64",
            "fold": "Int64",
            **dict.fromkeys(
                ["window_start", "window_stop", "window_centre", "window_length", *SCORES, "n_test"], "float64"
            ),
        }
    )


def window_row(rec: record.Record, rel: str, permuted: bool = False) -> dict | None:
    """One windowed run's row, or None for a run without a window (or not finished, or a
    label-permutation run; with `permuted`, a run that is not one)."""
    data, run, metrics = rec.data, rec.run, rec.metrics
    window = rec.window
    if rec.status != "finished" or not window or (run.get("permutation") is not None) != permuted:
        return None
    subject = run.get("subject")
    counts = rec.test_class_counts
    by_group = metrics.get("test_by_group")
    return {
        **{k: run[k] for k in KEYS},
        "seed": run["seed"],
        "fold": run.get("fold"),
        "subject": None if subject is None else str(subject),
        "protocol": data["protocol"],
        "window_start": float(window["start"]),
        "window_stop": float(window["stop"]),
        "window_centre": float(window["centre"]),
        "window_length": float(window["length"]),
        **{score: metrics.get(score, math.nan) for score in SCORES},
        "n_test": data.get("n_test", math.nan),
        "test_class_counts": str(counts) if counts else "",
        "test_by_group": json.dumps(by_group, sort_keys=True) if by_group else "",
        "path": rel,
        "status": "finished",
    }


# ---------------------------------------------------------------- observations


def observations(
    mine: pd.DataFrame, protocol: str, windows: list[float], metric: str = "test_accuracy"
) -> tuple[np.ndarray, list[str], str]:
    """Observations x windows scores of one cell, their names and what they are.

    within-subject: each subject's mean score over its seeds and folds; cross-subject:
    each held-out subject's share of correct test rows over the runs that test it (from
    `test_by_group`), or for another score than accuracy the score of the runs that test that
    subject alone (leave one subject out; else folds); pooled: each fold's mean score over
    seeds (each seed's, without folds). Observations missing at some window are left out (the
    test needs every window).
    """
    column = {w: j for j, w in enumerate(windows)}
    held_out = mine["test_by_group"].map(lambda t: next(iter(json.loads(t))) if t and len(json.loads(t)) == 1 else None)
    if protocol == "cross-subject" and metric != "test_accuracy" and held_out.notna().all() and len(mine):
        values = (
            mine.assign(obs=held_out).groupby(["obs", "window_start"])[metric].mean().rename("accuracy").reset_index()
        )
        what = "subjects"
    elif protocol == "cross-subject" and metric == "test_accuracy" and mine["test_by_group"].ne("").any():
        long = [
            (group, start, v["n"], v["correct"])
            for start, text in zip(mine["window_start"], mine["test_by_group"])
            if text
            for group, v in json.loads(text).items()
        ]
        frame = (
            pd.DataFrame(long, columns=["obs", "window_start", "rows", "correct"])
            .groupby(["obs", "window_start"])[["rows", "correct"]]
            .sum()
        )
        values = (frame["correct"] / frame["rows"]).rename("accuracy").reset_index()
        what = "subjects"
    elif protocol == "within-subject" and mine["subject"].notna().any():
        values = (
            mine.groupby(["subject", "window_start"])[metric]
            .mean()
            .rename("accuracy")
            .reset_index()
            .rename(columns={"subject": "obs"})
        )
        what = "subjects"
    else:
        folds = mine["fold"].notna().any()
        key = mine["fold"].astype("float64") if folds else mine["seed"].astype("float64")
        values = mine.assign(obs=key).groupby(["obs", "window_start"])[metric].mean().rename("accuracy").reset_index()
        what = "folds" if folds else "seeds"
    labels = [f"{o:g}" if isinstance(o, float) else str(o) for o in values["obs"]]
    names = sorted(set(labels), key=natural_key)
    row = {n: i for i, n in enumerate(names)}
    matrix = np.full((len(names), len(windows)), np.nan)
    for o, w, a in zip(labels, values["window_start"], values["accuracy"]):
        matrix[row[o], column[w]] = a
    complete = np.isfinite(matrix).all(axis=1)
    return matrix[complete], [n for n, ok in zip(names, complete) if ok], what


# ---------------------------------------------------------------- the table


def timecourse_table(
    windows: pd.DataFrame, options: dict | None = None, null: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per data set x cell x window: mean and std of the score (`summary.timecourse_metric`)
    over the runs at that window, observations (subjects, or folds), their mean and s.e.m., chance
    level and threshold, and the cluster each window belongs to with its p-value and significance.
    `null`: label-permutation scores (timecourse_score.permutation_scores) for the threshold of
    balanced accuracy and AUC. attrs: the score, whether permutations gave the threshold, and the
    data sets whose test trials are unbalanced (their largest majority-class rate)."""
    options = options_with_defaults(options)
    metric = options["timecourse_metric"]
    if windows.empty:
        return pd.DataFrame(columns=table_columns(metric))
    alpha = options["significance"]["alpha"]
    parts, unbalanced, permuted = [], {}, False
    for key, mine in _cells_in_order(windows, options):
        cell_null = None if null is None else null[(null[KEYS] == pd.Series(key, index=KEYS)).all(axis=1)]
        permuted = permuted or (cell_null is not None and not cell_null.empty)
        parts.append(_cell_rows(mine, options, alpha, metric, cell_null))
        rate = unbalanced_datasets(mine, sorted(mine["window_start"].unique().tolist()))
        if rate is not None:
            unbalanced[key[0]] = max(rate, unbalanced.get(key[0], 0.0))
    table = pd.concat(parts, ignore_index=True)[table_columns(metric)]
    table = table.astype(
        {
            "n": "int64",
            "n_observations": "int64",
            "cluster": "Int64",
            "above_threshold": "boolean",
            "significant": "bool",
        }
    )
    table.attrs.update(metric=metric, permuted=permuted, unbalanced=unbalanced)
    return table


def _cells_in_order(windows: pd.DataFrame, options: dict):
    keyed = windows.assign(**cell_ranks(windows, options))
    ordered = keyed.sort_values(["_dataset", "_architecture", "_hparams", "window_start", "seed"], kind="stable")
    return ordered.groupby(KEYS, sort=False)


def _cell_rows(
    mine: pd.DataFrame, options: dict, alpha: float, metric: str = "test_accuracy", null: pd.DataFrame | None = None
) -> pd.DataFrame:
    protocol = mine["protocol"].iloc[0]
    starts = sorted(mine["window_start"].unique().tolist())
    by_window = mine.groupby("window_start")
    frame = pd.DataFrame(
        {
            "window_start": starts,
            "window_centre": by_window["window_centre"].first().reindex(starts).to_numpy(),
            "window_length": by_window["window_length"].first().reindex(starts).to_numpy(),
            "n": by_window.size().reindex(starts).to_numpy(),
            f"{metric}_mean": by_window[metric].mean().reindex(starts).to_numpy(),
            f"{metric}_std": by_window[metric].std(ddof=1).reindex(starts).to_numpy(),
        }
    )
    for k in KEYS:
        frame.insert(KEYS.index(k), k, mine[k].iloc[0])
    frame.insert(3, "protocol", protocol)
    frame.insert(4, "window", [window_label(s) for s in starts])
    chance, threshold, _ = chance_per_window(mine, starts, metric, alpha, null)
    frame[chance_column(metric)], frame["chance_threshold"] = chance, threshold
    frame["above_threshold"] = pd.array(frame[f"{metric}_mean"] > threshold, dtype="boolean")
    frame.loc[~np.isfinite(threshold), "above_threshold"] = pd.NA
    x, _, what = observations(mine, protocol, starts, metric)
    frame["observations"], frame["n_observations"] = what, x.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no observation: NaN
        frame["observation_mean"] = x.mean(axis=0) if len(x) else math.nan
        frame["sem"] = x.std(axis=0, ddof=1) / math.sqrt(len(x)) if len(x) > 1 else math.nan
    frame["cluster"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame["cluster_p"], frame["significant"] = math.nan, False
    if np.isfinite(chance).all() and len(x) > 1:
        clusters, p_values, _ = cluster_test(x - chance, options["cluster_permutations"], options["cluster_alpha"])
        for k, (mask, p) in enumerate(sorted(zip(clusters, p_values), key=lambda c: int(np.argmax(c[0])))):
            frame.loc[mask, "cluster"] = k + 1
            frame.loc[mask, "cluster_p"] = float(p)
            frame.loc[mask, "significant"] = bool(p < alpha)
    return frame


# ---------------------------------------------------------------- rendering


def method_text(options: dict) -> str:
    """The caption's account of the cluster statistics."""
    metric = options["timecourse_metric"]
    score, chance = (
        ("accuracy", "the majority-class rate of the test trials")
        if metric == "test_accuracy"
        else (METRICS[metric].label, "1 / classes" if metric == "test_balanced_accuracy" else "0.5")
    )
    return (
        f"Significant (*): windows in a cluster of adjacent windows whose {score} minus chance ({chance}), "
        "one value per observation, exceeds the one-sided one-sample t threshold for p < {ca} "
        "(df = observations − 1), where the cluster's p-value is < {alpha}: cluster-based permutation test, "
        "one-sided (mne.stats.permutation_cluster_1samp_test, tail=1, {n} sign-flip permutations "
        "or all of them where fewer, seed {seed}; Maris & Oostenveld 2007), which corrects for the number of windows. "
        "Observations: subjects (within-subject: each subject's mean over its seeds and folds; "
        "cross-subject: each held-out subject's score), "
        "or folds (mean over seeds) where the data have no subjects."
    ).format(**cluster_caption_values(options))


def render_markdown(table: pd.DataFrame, options: dict) -> str:
    """The time-course table as Markdown, with its method notes."""
    options = options_with_defaults(options)
    if table.empty:
        return (
            "No time-course rows: no finished run of this sweep has a time window (a data set with `source: epochs` "
            "and `windows:` makes them).\n"
        )
    metric = table.attrs.get("metric", options["timecourse_metric"])
    accuracy = lambda v: fmt(v, metric, options)
    header = [
        *CELL_HEADER,
        "Protocol",
        "Window (s)",
        "Centre (s)",
        "n",
        METRICS[metric].label,
        "s.e.m.",
        "Threshold",
        "Cluster p",
    ]
    rows = [_window_row(row, accuracy, options, metric) for row in table.to_dict("records")]
    null = _null_rendering(table)
    if null:  # the sweep has label-permutation runs: the model-level test's columns
        header += null.header(options)
        rows = [cells + null.cells(row, accuracy) for cells, row in zip(rows, table.to_dict("records"))]
    lines = markdown_table(header, "lllll" + "r" * (len(header) - 5), rows)
    lines.append("")
    lines.append(
        f"{METRICS[metric].label}: mean ± std over the cell's runs at the window ((subject,) seed, fold); "
        "n = finished runs. s.e.m.: standard error of the mean over the observations."
    )
    lines.append(threshold_text(metric, options["significance"]["alpha"], table.attrs.get("permuted", False)))
    if metric == "test_accuracy":
        lines.extend(unbalanced_text(d, rate) for d, rate in table.attrs.get("unbalanced", {}).items())
    lines.append(method_text(options))
    if null:
        lines.append(null.method_text(options))
    for (dataset, protocol), mine in table.groupby(["dataset", "protocol"], sort=False):
        what, n = mine["observations"].iloc[0], mine["n_observations"].min()
        more = null.describe(mine, options) if null else ""
        lines.append(f"{dataset}: {protocol} decoding, {n} {what} as observations.{more}")
    return "\n".join(lines) + "\n"


def _null_rendering(table: pd.DataFrame):
    """The module rendering the model-level columns where the table has them, else None."""
    from . import timecourse_null  # it builds on this module

    return timecourse_null if timecourse_null.has_null(table) else None


def _window_row(row: dict, accuracy, options: dict, metric: str = "test_accuracy") -> list[str]:
    """One window's line of timecourse.md."""
    mean = mean_std(row[f"{metric}_mean"], row[f"{metric}_std"], metric, options)
    cluster = "" if pd.isna(row["cluster_p"]) else f"{row['cluster_p']:.3f}" + (" *" if row["significant"] else "")
    return [
        row["dataset"], row["architecture"], row["hparams"], row["protocol"], row["window"],
        f"{row['window_centre']:+.3f}", str(row["n"]),
        mean, accuracy(row["sem"]), accuracy(row["chance_threshold"]), cluster,
    ]  # fmt: skip


def write_timecourse(table: pd.DataFrame, options: dict | None, outdir) -> None:
    """summary/timecourse.csv and .md."""
    from .storage import write_text_atomic

    options = options_with_defaults(options)
    write_text_atomic(os.path.join(outdir, "timecourse.csv"), csv_text(table))
    write_text_atomic(os.path.join(outdir, "timecourse.md"), render_markdown(table, options))


# ---------------------------------------------------------------- temporal generalization


GENERALIZATION_SCORES = {
    "test_accuracy": "accuracy",
    "test_balanced_accuracy": "balanced_accuracy",
    "test_roc_auc": "roc_auc",
}
MORE_SCORES = ("balanced_accuracy", "roc_auc")  # generalization.csv's columns after n_test, where it has them


def read_generalization(results, windows: pd.DataFrame) -> pd.DataFrame:
    """Every windowed run's generalization.csv as rows: cell, train window, test window, accuracy."""
    parts = []
    for row in windows[[*KEYS, "window_start", "path"]].to_dict("records"):
        path = os.path.join(os.fspath(results), row["path"], rundir.GENERALIZATION_FILE)
        try:
            frame = pd.read_csv(path, dtype="float64")
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable (%s); left out of the generalization matrix", path, type(exc).__name__)
            continue
        frame = frame.reindex(columns=["test_window", "accuracy", "n_test", *MORE_SCORES])
        parts.append(frame.assign(**{k: row[k] for k in KEYS}, train_window=row["window_start"]))
    columns = [*KEYS, "train_window", "test_window", "accuracy", "n_test", *MORE_SCORES]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def generalization_matrices(rows: pd.DataFrame, metric: str = "test_accuracy") -> dict[tuple, pd.DataFrame]:
    """Per cell: train window (rows) x test window (columns), mean score over its runs
    (seeds, folds, subjects), windows in time order; NaN where no run gave a value (runs
    written before generalization.csv had balanced accuracy and AUC have only accuracy)."""
    out = {}
    score = GENERALIZATION_SCORES[metric]
    for key, mine in rows.groupby(KEYS, sort=False):
        matrix = mine.groupby(["train_window", "test_window"])[score].mean().unstack("test_window")
        out[key] = matrix.sort_index(axis=0).sort_index(axis=1)
    return out


def matrix_csv(matrix: pd.DataFrame) -> str:
    """A generalization matrix as CSV: one row per training window, one column per test window
    (both labelled by their start), accuracies to 10 significant digits."""
    frame = pd.DataFrame(matrix.to_numpy(dtype=float), columns=[window_label(w) for w in matrix.columns])
    frame.insert(0, "train_window", [window_label(w) for w in matrix.index])
    return csv_text(frame)


def matrix_name(key: tuple) -> str:
    """The file name stem of a cell's matrix: <dataset>_<architecture>_<hparams>."""
    return "_".join(key)
