"""summary.csv's chance thresholds of balanced accuracy and ROC AUC, for the cells of a sweep whose
`summary.metrics` shows them: chance 1 / classes and 0.5 whatever the class balance; threshold the
95th percentile (1 - alpha) of the cell's label-permutation runs where it has them, else the normal
approximation over the test class counts of one seed (stats.scores), as for accuracy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats.scores import auc_threshold, balanced_accuracy_threshold, permutation_threshold
from .runs import KEYS

SCORES = ("test_balanced_accuracy", "test_roc_auc")
APPROXIMATE = {"test_balanced_accuracy": balanced_accuracy_threshold, "test_roc_auc": auc_threshold}
PERMUTATION, NORMAL = "permutation", "normal"


def shown_scores(options: dict) -> list[str]:
    """The scores of SCORES that `summary.metrics` shows, in its order."""
    return [m for m in options["metrics"] if m in SCORES]


def score_dtypes(scores) -> dict[str, str]:
    """summary.csv's columns of each shown score: threshold, how it was found, whether the mean is above it."""
    return {
        column: kind
        for m in scores
        for column, kind in (
            (f"chance_threshold_{m}", "float64"),
            (f"chance_method_{m}", "str"),
            (f"above_chance_{m}", "boolean"),
        )
    }


def permutation_means(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per cell and permutation whose runs all finished: the mean `metric` over its runs."""
    if "permutation" not in runs or metric not in runs:
        return pd.DataFrame(columns=[*KEYS, "score"])
    perm = runs[runs["permutation"].notna()].assign(ok=lambda f: f["status"] == "finished")
    per_perm = perm.groupby([*KEYS, "permutation"], sort=False).agg(score=(metric, "mean"), complete=("ok", "all"))
    return per_perm[per_perm["complete"]].reset_index()[[*KEYS, "score"]]


def score_chance_levels(runs: pd.DataFrame, cells: pd.DataFrame, counts: np.ndarray, scores, alpha: float):
    """Per cell and shown score: its threshold (permutation quantile, else normal approximation over
    `counts`, cells x classes), the method, and whether the cell's mean exceeds it."""
    frame = pd.DataFrame(index=cells.index)
    index = pd.MultiIndex.from_frame(cells[KEYS])
    for metric in scores:
        threshold = APPROXIMATE[metric](counts, alpha) if counts.shape[1] else np.full(len(cells), np.nan)
        method = np.where(np.isfinite(threshold), NORMAL, "").astype(object)
        null = permutation_means(runs, metric)
        owner = index.get_indexer(pd.MultiIndex.from_frame(null[KEYS])) if len(null) else np.array([], int)
        for row in np.unique(owner[owner >= 0]):
            value = permutation_threshold(null["score"].to_numpy(dtype=float)[owner == row], alpha)
            if np.isfinite(value):
                threshold[row], method[row] = value, PERMUTATION
        mean = cells[f"{metric}_mean"].to_numpy(dtype=float)
        above = pd.array(mean > threshold, dtype="boolean")
        above[~(np.isfinite(mean) & np.isfinite(threshold))] = pd.NA
        frame[f"chance_threshold_{metric}"] = threshold
        frame[f"chance_method_{metric}"] = method
        frame[f"above_chance_{metric}"] = above
    return frame


def score_at_chance(row: dict, metric: str) -> bool:
    """Whether a cell's mean `metric` is known not to exceed its chance threshold."""
    value = row.get(f"above_chance_{metric}")
    return value is not None and not pd.isna(value) and not bool(value)
