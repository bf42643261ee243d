"""Model-level permutation test of a group mean over windows, cluster-corrected (Stelzer et al. 2013).

Each observation (subject, or fold) has an observed score per window and P_i scores of models
trained on permuted labels (the same permutation at every window). A draw takes one of each
observation's P_i + 1 labellings, the unpermuted one (index 0, the observed score) among them,
as Allefeld et al. (2016) do: without it the null is narrower than the observed mean's spread
by (P - 1) / (P + 1) in variance, which doubles the false positives at P = 4. The draws' group
means are the group-level null of every window at once, so the per-window p-values and the
maximum cluster statistic over windows come from the same draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PERMUTATION_SEED = 0  # of the draws: fixed, so a table regenerates byte-identically
TIES = 1e-12  # a null value this close below the observed counts as reaching it (sums in another order)


@dataclass
class GroupTest:
    """The test's result per window (arrays over windows) and per observed cluster."""

    p: np.ndarray  # share of draws whose group mean reaches the observed one, (1 + #) / (1 + draws)
    threshold: np.ndarray  # cluster-forming threshold: the null's (1 - cluster_alpha) quantile
    null_mean: np.ndarray  # over observations, the mean of their permutation runs' scores
    centre: np.ndarray  # of the cluster masses: over observations, the mean of all their labellings' scores
    clusters: list[np.ndarray]  # boolean masks over windows, in time order
    masses: np.ndarray  # each cluster's mass: the sum over its windows of group mean minus centre
    cluster_p: np.ndarray  # (1 + #{draws whose largest cluster mass reaches it}) / (1 + draws)
    n_draws: int
    exact: bool  # every combination of one permutation per observation was taken


def draw_permutations(n_perms, n_draws: int, seed: int = PERMUTATION_SEED) -> tuple[np.ndarray, bool]:
    """Draws x observations indices into each observation's labellings (0: unpermuted, 1..P_i:
    its permutations): every combination but the all-unpermuted one where there are at most
    `n_draws` (and True), else `n_draws` uniform draws with a fixed seed."""
    sizes = np.asarray(n_perms, dtype=np.int64) + 1
    if math.prod(int(k) for k in sizes) - 1 <= n_draws:
        return np.indices(sizes).reshape(len(sizes), -1).T[1:], True
    return np.random.default_rng(seed).integers(0, sizes, size=(n_draws, len(sizes))), False


def labellings(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Observations x (1 + permutations) x windows: the observed scores, then the null ones."""
    return np.concatenate([observed[:, None, :], null], axis=1)


def group_null(scores: np.ndarray, draws: np.ndarray, reduce: str = "mean") -> np.ndarray:
    """Draws x windows: the mean (or "min") over observations of each observation's drawn
    labelling; scores is observations x labellings x windows (`labellings`)."""
    out = scores[0, draws[:, 0], :].copy()
    for i in range(1, scores.shape[0]):
        if reduce == "mean":
            out += scores[i, draws[:, i], :]
        else:
            np.minimum(out, scores[i, draws[:, i], :], out=out)
    return out / scores.shape[0] if reduce == "mean" else out


def cluster_masses(values: np.ndarray, threshold: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of values (rows x windows): the label of each window's cluster (runs of adjacent
    windows above threshold, 1, 2, ...; 0 outside) and each label's mass (rows x labels + 1)."""
    above = values > threshold
    starts = above & ~np.concatenate([np.zeros((len(values), 1), dtype=bool), above[:, :-1]], axis=1)
    labels = np.cumsum(starts, axis=1) * above
    width = values.shape[1] // 2 + 2
    index = (np.arange(len(values))[:, None] * width + labels).ravel()
    excess = np.where(above, values - centre, 0.0).ravel()
    return labels, np.bincount(index, weights=excess, minlength=len(values) * width).reshape(len(values), width)


def group_permutation_test(
    observed: np.ndarray, null: np.ndarray, draws: np.ndarray, cluster_alpha: float, exact: bool = False
) -> GroupTest:
    """The test of the observations' mean (observed: observations x windows) against the group
    null of `draws` (draw_permutations) from null (observations x permutations x windows, NaN
    after an observation's own)."""
    mean = observed.mean(axis=0)
    scores = labellings(observed, null)
    values = group_null(scores, draws)
    n = len(values)
    p = (1 + (values >= mean - TIES).sum(axis=0)) / (1 + n)
    # threshold and centre of the masses from every labelling, the observed one included, so that it is
    # treated as any draw is (a threshold from the permutations alone inflates the cluster p-values)
    threshold = np.quantile(np.vstack([mean, values]), 1 - cluster_alpha, axis=0)
    centre = np.nanmean(scores, axis=1).mean(axis=0)
    largest = cluster_masses(values, threshold, centre)[1].max(axis=1, initial=0.0)
    labels, masses = cluster_masses(mean[None, :], threshold, centre)
    k = int(labels.max())
    masses = masses[0, 1 : k + 1]
    cluster_p = (1 + (largest[:, None] >= masses[None, :] - TIES).sum(axis=0)) / (1 + n)
    clusters = [labels[0] == c for c in range(1, k + 1)]
    null_mean = np.nanmean(null, axis=1).mean(axis=0)
    return GroupTest(p, threshold, null_mean, centre, clusters, masses, cluster_p, n, exact)
