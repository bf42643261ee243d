"""ROC AUC of a run's class probabilities: two classes, the second class's probability as the
score; more, the one-vs-rest macro average (scikit-learn's roc_auc_score(multi_class="ovr",
average="macro")).

Computed here with NumPy as the Mann-Whitney U statistic over average ranks (Hanley & McNeil
1982), which is the area under the ROC curve with ties counted half. Not for start-up time
(sklearn.model_selection, which splits the data, imports sklearn.metrics already) but per call:
a job evaluates every run on two parts, and roc_auc_score takes 3.0 ms for 300 rows of three
classes (1.3 ms for two) against 0.10 ms (0.03 ms) here; tests/test_auc.py compares the two,
two to four classes, with ties.
"""

from __future__ import annotations

import math

import numpy as np


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax of a part's logits (rows x classes), in float32 as the model's output: the
    values predictions.csv stores exactly (9 significant digits) and AUC is computed from."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of x, ties given their average rank (scipy.stats.rankdata's 'average')."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    first = np.r_[True, sorted_x[1:] != sorted_x[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x))
    ranks[order] = ((starts + ends + 1) / 2)[np.cumsum(first) - 1]
    return ranks


def binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """AUC of `score` for the boolean labels `positive`; NaN without both kinds of row."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = average_ranks(np.asarray(score, dtype=np.float64))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc(y_true: np.ndarray, p: np.ndarray) -> float:
    """AUC of class probabilities p (rows x classes) for labels y_true (class indices): the
    second class's probability for two classes, else the one-vs-rest macro average; NaN where
    a class has no row (roc_auc_score refuses those)."""
    y_true, p = np.asarray(y_true), np.asarray(p)
    if p.shape[1] == 2:
        return binary_auc(y_true == 1, p[:, 1])
    return float(np.mean([binary_auc(y_true == k, p[:, k]) for k in range(p.shape[1])]))


def roc_auc_of(part) -> float:
    """The registry's `compute` of test_roc_auc and val_roc_auc: AUC of a record.Evaluated."""
    if len(part.y_true) == 0:
        return math.nan
    return roc_auc(part.y_true, probabilities(part.logits))
