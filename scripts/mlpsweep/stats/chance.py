"""Chance levels of a classifier's accuracy from its test rows' class counts.

The null rate is a parameter (`binomial_threshold`): the tables pass the majority-class rate of
the test trials, the accuracy of always answering the most frequent class, which is 1 / classes
(`chance_threshold`, Combrisson & Jerbi 2015) only where the classes are balanced.
"""

from __future__ import annotations

import numpy as np


def majority_rate(counts: np.ndarray) -> np.ndarray:
    """Per row of class counts (rows x classes, NaN beyond a row's classes): the largest
    class's share of the row's trials (NaN for a row without trials)."""
    counts = np.asarray(counts, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(counts).max(axis=1, initial=0) / np.nansum(counts, axis=1)


def majority_threshold(counts: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row of class counts: (majority-class rate, the binomial (trials, that rate) threshold
    at p < alpha): what accuracy must exceed to beat always answering the majority class."""
    counts = np.asarray(counts, dtype=float)
    majority = majority_rate(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return majority, binomial_threshold(np.nansum(counts, axis=1), majority, alpha)


def chance_threshold(n_trials, n_classes, alpha: float):
    """The accuracy a classifier must exceed to be above chance at p < alpha: the binomial
    (n_trials, 1 / n_classes) quantile at 1 - alpha, over n_trials (Combrisson & Jerbi 2015)."""
    return binomial_threshold(n_trials, 1 / np.asarray(n_classes, dtype=float), alpha)


def binomial_threshold(n_trials, rate, alpha: float):
    """The accuracy that n_trials Bernoulli(rate) guesses exceed with probability < alpha:
    the binomial (n_trials, rate) quantile at 1 - alpha, over n_trials."""
    n_trials = np.asarray(n_trials, dtype=float)
    return binomial_quantile(1 - alpha, n_trials, rate) / n_trials


def binomial_quantile(q: float, n, p) -> np.ndarray:
    """scipy.stats.binom.ppf(q, n, p) for 0 < q < 1, without importing scipy.stats (0.5 s a
    process; summarize needs nothing else of it): binom.ppf is scipy.special's Boost binomial
    quantile where n is a count and p a probability, NaN elsewhere. Pinned scipy; a test
    compares it with binom.ppf, and scipy.stats stands in should the function move."""
    try:
        from scipy.special._ufuncs import _binom_ppf
    except ImportError:  # pragma: no cover  (another scipy)
        from scipy.stats import binom

        return binom.ppf(q, n, p)
    n, p = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(p, dtype=float))
    valid = (n >= 0) & (n == np.floor(n)) & (p >= 0) & (p <= 1)
    out = np.full(n.shape, np.nan)
    out[valid] = _binom_ppf(q, n[valid], p[valid])
    return out
