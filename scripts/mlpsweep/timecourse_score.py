"""The score of the time course (`summary.timecourse_metric`): its chance level and threshold
per window, and the caption's words for them.

Accuracy: chance is the majority-class rate of the test trials and the threshold the binomial
quantile at that rate (stats.chance). Balanced accuracy and ROC AUC: chance 1 / classes and 0.5
whatever the balance; the threshold is the (1 - alpha) quantile of the cell's label-permutation
runs at that window where the sweep has them (`summary.permutations`), else a normal
approximation (stats.scores).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .registry import METRICS
from .stats.chance import majority_threshold
from .stats.scores import auc_threshold, balanced_accuracy_threshold, chance_level, permutation_threshold
from .tables.cells import class_counts_per_cell
from .tables.runs import KEYS
from .tables.score_notes import APPROXIMATION

SCORES = ("test_accuracy", "test_balanced_accuracy", "test_roc_auc")
UNBALANCED_MARGIN = 0.05  # majority rate above 1 / classes + this: the note on unbalanced test trials


def chance_column(metric: str) -> str:
    """The table's chance-level column: the majority-class rate for accuracy, else the score's chance level."""
    return "chance_majority" if metric == "test_accuracy" else "chance_level"


def label(metric: str) -> str:
    return METRICS[metric].label


def counts_at(mine: pd.DataFrame, start: float) -> np.ndarray:
    """1 x classes: the test class counts of one seed at a window (its folds and subjects summed)."""
    at = mine[mine["window_start"] == start]
    return class_counts_per_cell(at, at[KEYS].drop_duplicates().reset_index(drop=True))[:1]


def chance_per_window(
    mine: pd.DataFrame, starts: list[float], metric: str, alpha: float, null: pd.DataFrame | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per window: (chance level, threshold, majority-class rate). `null`: the cell's
    label-permutation scores (window_start, score), used for balanced accuracy and AUC."""
    chance, threshold, majority = (np.full(len(starts), np.nan) for _ in range(3))
    for j, start in enumerate(starts):
        counts = counts_at(mine, start)
        if not (~np.isnan(counts)).any():
            continue
        rate, binomial = majority_threshold(counts, alpha)
        majority[j] = rate[0]
        if metric == "test_accuracy":
            chance[j], threshold[j] = rate[0], binomial[0]
            continue
        chance[j] = chance_level(metric, counts)[0]
        scores = None if null is None else null.loc[null["window_start"] == start, "score"]
        if scores is not None and len(scores):
            threshold[j] = permutation_threshold(scores, alpha)
        else:
            approximate = auc_threshold if metric == "test_roc_auc" else balanced_accuracy_threshold
            threshold[j] = approximate(counts, alpha)[0]
    return chance, threshold, majority


def permutation_scores(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per cell, window and permutation: the mean score of its finished label-permutation runs
    (over folds and subjects), one draw of the null of the cell's mean at that window."""
    columns = [*KEYS, "window_start", "permutation", "score"]
    if metric == "test_accuracy" or not {"permutation", "window", metric} <= set(runs.columns):
        return pd.DataFrame(columns=columns)
    perm = runs[runs["permutation"].notna() & runs["window"].notna() & (runs["status"] == "finished")]
    if perm.empty:
        return pd.DataFrame(columns=columns)
    grouped = perm.groupby([*KEYS, "window", "permutation"], sort=False)[metric].mean()
    return grouped.rename("score").reset_index().rename(columns={"window": "window_start"})[columns]


def threshold_text(metric: str, alpha: float, permuted: bool) -> str:
    """The caption's account of the threshold of the time course's score."""
    if metric == "test_accuracy":
        return (
            f"Threshold: the accuracy a classifier exceeds by chance with p < {alpha} "
            "(binomial test over the test trials of one seed, "
            "folds and subjects summed, at their majority-class rate; Combrisson & Jerbi 2015)."
        )
    chance = "1 / classes" if metric == "test_balanced_accuracy" else "0.5"
    how = (
        f"the {1 - alpha:g} quantile of the cell's label-permutation runs at that window (their mean over folds and "
        "subjects per permutation)"
        if permuted
        else APPROXIMATION[metric]
    )
    return (
        f"Chance: {chance} whatever the class balance. Threshold: the {label(metric)} a classifier that ignores the "
        f"data exceeds with p < {alpha}: {how}."
    )


def unbalanced_datasets(mine: pd.DataFrame, starts: list[float]) -> float | None:
    """A cell's largest majority-class rate over its windows where its test trials are
    unbalanced (above 1 / classes + 0.05), else None."""
    worst = None
    for start in starts:
        counts = counts_at(mine, start)
        k = int((np.nan_to_num(counts) > 0).sum())
        rate = float(majority_threshold(counts, 0.05)[0][0]) if k else np.nan
        if unbalanced(rate, k) and (worst is None or rate > worst):
            worst = rate
    return worst


def unbalanced(rate: float, n_classes: float) -> bool:
    return bool(np.isfinite(rate) and n_classes and rate > 1 / n_classes + UNBALANCED_MARGIN)


def unbalanced_text(dataset: str, rate: float) -> str:
    return (
        f"{dataset}: unbalanced test trials (majority class {rate:.3f}): accuracy moves with the class balance; "
        "summary.timecourse_metric: test_roc_auc (or test_balanced_accuracy) gives a score whose chance level does not."
    )
