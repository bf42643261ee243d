"""Population prevalence inference from the minimum statistic across subjects (Allefeld et al. 2016).

The observed minimum over subjects per window is compared with the minimum over the draws of
one labelling per subject (stats.group_permutation.draw_permutations, the draws of the group
test, the unpermuted labels among them as in the paper); the p-value of the global null is
corrected over windows with the maximum over windows of each draw's minimum, and the prevalence
bound follows from both (the paper's Eq. 22-26, as its authors' prevalence_compute.m).
"""

from __future__ import annotations

import numpy as np

from .group_permutation import TIES, group_null, labellings


def prevalence_bound(
    observed: np.ndarray, null: np.ndarray, draws: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per window: the uncorrected and the corrected (over windows) p-value of the global null
    from the minimum across subjects, and the largest gamma0 whose prevalence null (the share
    of the population with an effect is at most gamma0) is rejected at `alpha` (NaN: none)."""
    n = observed.shape[0]
    lowest = observed.min(axis=0)
    values = group_null(labellings(observed, null), draws, reduce="min")
    d = len(values)
    p_uncorrected = (1 + (values >= lowest - TIES).sum(axis=0)) / (1 + d)
    p_corrected = (1 + (values.max(axis=1)[:, None] >= lowest[None, :] - TIES).sum(axis=0)) / (1 + d)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha_c = (alpha - p_corrected) / (1 - p_corrected)
        root = p_uncorrected ** (1 / n)
        gamma0 = (np.maximum(alpha_c, 0) ** (1 / n) - root) / (1 - root)
    gamma0[alpha_c < p_uncorrected] = np.nan
    return p_uncorrected, p_corrected, gamma0


def prevalence_p(gamma0: float, p_uncorrected, p_corrected, n: int):
    """The corrected p-value of the prevalence null gamma <= gamma0 (Allefeld et al. 2016, Eq. 24-26)."""
    p_u = ((1 - gamma0) * np.asarray(p_uncorrected) ** (1 / n) + gamma0) ** n
    return p_corrected + (1 - p_corrected) * p_u
