"""Paired tests of a best cell against others over the (seed, fold) pairs both have."""

from __future__ import annotations

import functools
import warnings

import numpy as np


def paired_pvalues(best: np.ndarray, others: np.ndarray, test: str) -> np.ndarray:
    """Two-sided p-value of each row of `others` differing from `best`, over the pairs both
    have (NaN under 2 pairs, 1 where all differences are 0); rows sharing pairs go in one call."""
    p = np.full(len(others), np.nan)
    if not len(others):
        return p
    shared = np.isfinite(others) & np.isfinite(best)
    patterns, which = np.unique(shared, axis=0, return_inverse=True)
    for k, columns in enumerate(patterns):
        rows = np.flatnonzero(which.ravel() == k)
        if columns.sum() < 2:
            continue
        a, b = best[columns], others[rows][:, columns]
        same = np.all(np.abs(a - b) <= 1e-8, axis=1)
        p[rows[same]] = 1.0
        if (~same).any():
            p[rows[~same]] = _test(a, b[~same], test)
    return p


def _test(a: np.ndarray, b: np.ndarray, test: str) -> np.ndarray:
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", RuntimeWarning
        )  # near-identical rows: scipy warns of precision, the p-value stands
        if test == "paired_t":
            return stats.ttest_rel(np.broadcast_to(a, b.shape), b, axis=1).pvalue
        return np.array([_wilcoxon(tuple(row)) for row in _signed_ranks(a - b)])


def _signed_ranks(diff: np.ndarray) -> np.ndarray:
    """Each row's differences replaced by their signed ranks of |difference|, sorted: all the
    Wilcoxon test depends on (zeros stay zero, ties stay tied), so equal rows share a p-value."""
    from scipy.stats import rankdata

    return np.sort(np.sign(diff) * rankdata(np.abs(diff), axis=1), axis=1)


@functools.lru_cache(maxsize=4096)
def _wilcoxon(signed_ranks: tuple) -> float:
    """scipy's Wilcoxon signed-rank p-value, once per distinct rank pattern (scipy's exact
    test takes milliseconds a call; a sweep of 10,000 cells has few patterns)."""
    from scipy import stats

    return float(stats.wilcoxon(np.asarray(signed_ranks)).pvalue)
