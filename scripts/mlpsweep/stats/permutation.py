"""Label-permutation p-values (Ojala & Garriga 2010)."""

from __future__ import annotations

import numpy as np


def permutation_pvalues(observed: np.ndarray, null: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per observed score: p = (1 + #{null >= observed}) / (1 + P) over the P null scores that
    `owner` (an index into `observed` per null score) gives it, and P; p is NaN where P = 0
    or the observed score is NaN."""
    observed = np.asarray(observed, dtype=float)
    owner = np.asarray(owner, dtype=np.intp)
    at_least = np.asarray(null, dtype=float) >= observed[owner]
    used = np.bincount(owner, minlength=len(observed))
    hits = np.bincount(owner, weights=at_least, minlength=len(observed))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (1 + hits) / (1 + used)
    p[(used == 0) | np.isnan(observed)] = np.nan
    return p, used
