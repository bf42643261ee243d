"""Cluster-based permutation test over adjacent windows (MNE's, one- or two-sided)."""

from __future__ import annotations

import math
import warnings

import numpy as np

CLUSTER_SEED = 0  # of the sign flips: fixed, so a table regenerates byte-identically


def cluster_test(
    x: np.ndarray, n_permutations: int, cluster_alpha: float, seed: int = CLUSTER_SEED, tail: int = 1
) -> tuple[list[np.ndarray], np.ndarray, float]:
    """MNE's cluster-based permutation test of x (observations x windows) > 0 (tail=1), or != 0
    (tail=0: two-sided, clusters of either sign; MNE's null is the largest |cluster mass|).

    Clusters are runs of adjacent windows whose one-sample t exceeds the t quantile for p <
    `cluster_alpha` (two-sided: |t| beyond the quantile for p < cluster_alpha / 2; df =
    observations - 1); each cluster's p-value is the share of sign-flip
    permutations whose largest cluster mass reaches its mass (Maris & Oostenveld 2007; MNE
    enumerates all 2^n flips when that is fewer than `n_permutations`). Returns the
    clusters (boolean masks over windows), their p-values and the t threshold; none under 2
    observations.
    """
    n = x.shape[0]
    if n < 2 or x.shape[1] == 0:
        return [], np.array([]), math.nan
    from mne.stats import permutation_cluster_1samp_test
    from scipy.stats import t as student_t

    if tail not in (0, 1):
        raise ValueError(f"tail must be 0 (two-sided) or 1 (x > 0), not {tail!r}")
    threshold = float(student_t.ppf(1 - (cluster_alpha if tail == 1 else cluster_alpha / 2), n - 1))
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", RuntimeWarning
        )  # windows where every observation is equal: t undefined, no cluster
        _, clusters, p_values, _ = permutation_cluster_1samp_test(
            np.ascontiguousarray(x, dtype=np.float64),
            threshold=threshold,
            n_permutations=n_permutations,
            tail=tail,
            out_type="mask",
            rng=seed,
            verbose=False,
        )
    masks = []
    for cluster in clusters:  # 1-D data: MNE gives (slice,) tuples; boolean masks otherwise
        mask = np.zeros(x.shape[1], dtype=bool)
        mask[cluster] = True
        masks.append(mask)
    return masks, np.asarray(p_values, dtype=float), threshold
