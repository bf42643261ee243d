"""Chance thresholds of balanced accuracy and ROC AUC (stats/scores.py) against simulated nulls
(the scores of classifiers that ignore the data), balanced and unbalanced."""

import numpy as np
import pytest
from scipy.stats import mannwhitneyu
from sklearn.metrics import balanced_accuracy_score

from mlpsweep import auc
from mlpsweep.stats import scores


@pytest.mark.parametrize("counts", [(40, 40), (60, 20), (30, 10, 20)])
def test_auc_threshold_is_the_95th_percentile_of_auc_of_random_scores(counts):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(len(counts)), counts)
    if len(counts) == 2:  # SciPy's Mann-Whitney U over 4000 draws at once: AUC = U / (n1 n0)
        s = rng.random((4000, len(y)))
        null = mannwhitneyu(s[:, y == 1], s[:, y == 0], axis=1).statistic / (counts[0] * counts[1])
    else:  # auc.roc_auc equals roc_auc_score(multi_class="ovr") (tests/test_auc.py)
        null = [auc.roc_auc(y, rng.dirichlet(np.ones(len(counts)), len(y))) for _ in range(1000)]
    threshold = scores.auc_threshold(np.array([counts], float), 0.05)[0]
    simulated = np.quantile(null, 0.95)
    tolerance = 0.012 if len(counts) == 2 else 0.05  # more classes: conservative by construction
    assert simulated - 0.008 <= threshold <= simulated + tolerance


@pytest.mark.parametrize("counts", [(40, 40), (75, 25), (30, 10, 20)])
def test_balanced_accuracy_threshold_is_the_95th_percentile_of_random_guesses(counts):
    rng = np.random.default_rng(1)
    k = len(counts)
    y = np.repeat(np.arange(k), counts)
    guesses = rng.integers(0, k, (4000, len(y)))
    null = np.mean([(guesses[:, y == c] == c).mean(axis=1) for c in range(k)], axis=0)  # mean recall
    assert null[0] == pytest.approx(balanced_accuracy_score(y, guesses[0]))
    threshold = scores.balanced_accuracy_threshold(np.array([counts], float), 0.05)[0]
    assert threshold == pytest.approx(np.quantile(null, 0.95), abs=0.012)


def test_chance_levels_and_rows_without_two_classes():
    counts = np.array([[30, 10, np.nan], [30, 10, 20], [40, 0, np.nan]])
    np.testing.assert_array_equal(scores.chance_level("test_roc_auc", counts), [0.5, 0.5, np.nan])
    np.testing.assert_allclose(scores.chance_level("test_balanced_accuracy", counts), [0.5, 1 / 3, np.nan])
    assert np.isnan(scores.auc_threshold(counts, 0.05)[2]) and np.isnan(
        scores.balanced_accuracy_threshold(counts, 0.05)[2]
    )
    assert scores.permutation_threshold([0.5, 0.6, np.nan, 0.55], 0.5) == 0.55
