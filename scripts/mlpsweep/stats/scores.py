"""Chance levels and thresholds of balanced accuracy and ROC AUC from test class counts.

Both scores are at chance whatever the class balance: 1 / classes for balanced accuracy, 0.5
for AUC. Their thresholds (the score a classifier that ignores the data exceeds with
probability < alpha) are normal approximations, per row of class counts (rows x classes, NaN
or 0 beyond a row's classes); a sweep with label-permutation runs uses those instead
(`permutation_threshold`). tests/test_scores.py checks each against simulated nulls.
"""

from __future__ import annotations

import numpy as np


def _z(alpha: float) -> float:
    """The standard normal quantile at 1 - alpha (scipy.special, not scipy.stats: 0.5 s a process)."""
    from scipy.special import ndtri

    return float(ndtri(1 - alpha))


def _present(counts) -> np.ndarray:
    counts = np.nan_to_num(np.asarray(counts, dtype=float))
    return np.where(counts > 0, counts, np.nan)


def auc_threshold(counts, alpha: float) -> np.ndarray:
    """0.5 + z(1 - alpha) x the null s.d. of AUC, the Mann-Whitney U / (n_k (N - n_k)) of each
    class against the rest: sqrt((N + 1) / (12 n_k (N - n_k))) (Mann & Whitney 1947; Hanley &
    McNeil 1982). More than two classes: the mean of the classes' s.d. (the s.d. of their
    one-vs-rest macro average where the classes' AUCs were fully correlated: conservative)."""
    n_k = _present(counts)
    n = np.nansum(n_k, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt((n + 1) / (12 * n_k * (n - n_k)))
        sd = np.nanmean(sd, axis=1) if n_k.shape[1] else np.full(len(n_k), np.nan)
    classes = np.isfinite(n_k).sum(axis=1)
    return np.where(classes >= 2, 0.5 + _z(alpha) * sd, np.nan)


def balanced_accuracy_threshold(counts, alpha: float) -> np.ndarray:
    """1/K + z(1 - alpha) x the null s.d. of balanced accuracy for a classifier answering each
    of the K classes with probability 1/K whatever the data: the mean of K independent recalls
    Binomial(n_k, 1/K) / n_k, variance (1/K^2) sum_k (1/K)(1 - 1/K) / n_k."""
    n_k = _present(counts)
    k = np.isfinite(n_k).sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = 1 / k
        variance = np.nansum(q[:, None] * (1 - q[:, None]) / n_k, axis=1) / k**2
        return np.where(k >= 2, q + _z(alpha) * np.sqrt(variance), np.nan)


def chance_level(metric: str, counts) -> np.ndarray:
    """Per row of class counts: the score of a classifier that ignores the data (balanced
    accuracy 1 / classes present, AUC 0.5)."""
    k = np.isfinite(_present(counts)).sum(axis=1).astype(float)
    with np.errstate(divide="ignore"):
        level = 1 / k if metric == "test_balanced_accuracy" else np.full(len(k), 0.5)
    return np.where(k >= 2, level, np.nan)


def permutation_threshold(null_scores, alpha: float) -> float:
    """The (1 - alpha) quantile of label-permutation scores (NaN without any)."""
    null_scores = np.asarray(null_scores, dtype=float)
    null_scores = null_scores[np.isfinite(null_scores)]
    return float(np.quantile(null_scores, 1 - alpha)) if null_scores.size else float("nan")
