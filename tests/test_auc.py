"""ROC AUC per run (mlpsweep.auc): equal to scikit-learn's roc_auc_score, two and three
classes, with ties; recorded in metrics.json from the probabilities predictions.csv stores."""

import json
import timeit

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mlpsweep import auc


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_roc_auc_equals_scikit_learn_with_and_without_ties(n_classes):
    rng = np.random.default_rng(n_classes)
    for trial in range(20):
        n = int(rng.integers(n_classes * 2, 200))
        y = np.r_[np.arange(n_classes), rng.integers(0, n_classes, n - n_classes)]
        logits = rng.normal(size=(n, n_classes)) + (y[:, None] == np.arange(n_classes)) * trial / 10
        if trial % 2:
            logits = np.round(logits, 1)  # ties
        p = auc.probabilities(logits)
        expected = (
            roc_auc_score(y, p[:, 1]) if n_classes == 2 else roc_auc_score(y, p, multi_class="ovr", average="macro")
        )
        assert auc.roc_auc(y, p) == pytest.approx(expected, abs=1e-12)


def test_roc_auc_is_nan_without_both_kinds_of_rows_and_ranks_average_ties():
    assert np.isnan(auc.roc_auc(np.zeros(5, int), auc.probabilities(np.zeros((5, 2)))))
    assert np.isnan(auc.roc_auc(np.array([0, 1, 1]), auc.probabilities(np.zeros((3, 3)))))  # class 2 has no row
    np.testing.assert_array_equal(auc.average_ranks(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1, 3.5, 2])


def test_roc_auc_costs_far_less_than_scikit_learn_per_call():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 300), auc.probabilities(rng.normal(size=(300, 3)))
    ours = min(timeit.repeat(lambda: auc.roc_auc(y, p), number=20, repeat=3))
    theirs = min(timeit.repeat(lambda: roc_auc_score(y, p, multi_class="ovr", average="macro"), number=20, repeat=3))
    assert ours < theirs


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_trained_run_records_the_auc_of_its_stored_probabilities(tmp_path, n_classes):
    from conftest import tiny_config
    from mlpsweep.config import validate_config
    from mlpsweep.grid import expand_runs
    from mlpsweep.training import DataCache, train_runs

    dataset = {"source": "synthetic", "n_samples": 240, "n_features": 5, "n_classes": n_classes, "separation": 0.5}
    config = validate_config(tiny_config(datasets={"d": dataset}, training={"epochs": 2}, seeds=[0], grid={}))
    runs = [r for r in expand_runs(config) if r.dataset == "d"][:1]
    train_runs(runs, tmp_path, DataCache())
    run_dir = tmp_path / runs[0].path
    rec = json.loads((run_dir / "metrics.json").read_text())
    stored = pd.read_csv(run_dir / "predictions.csv")
    names = rec["data"]["class_names"]
    y = stored["true"].astype(str).map(names.index).to_numpy()
    p = stored[[f"p_{n}" for n in names]].to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-6)
    expected = roc_auc_score(y, p[:, 1]) if n_classes == 2 else roc_auc_score(y, p, multi_class="ovr", average="macro")
    assert rec["metrics"]["test_roc_auc"] == pytest.approx(expected, abs=1e-12)
    assert 0 <= rec["metrics"]["val_roc_auc"] <= 1


def test_by_group_records_each_groups_auc_and_the_group_table_shows_it_when_asked(tmp_path):
    from fakes import write_run

    from mlpsweep.metrics import by_group
    from mlpsweep.tables.groups import group_results, render_groups_markdown
    from mlpsweep.tables.options import options_with_defaults
    from mlpsweep.tables.runs import collect_runs

    groups = np.array(["s1", "s1", "s1", "s2", "s2"])
    y = np.array([0, 1, 1, 0, 0])
    p = auc.probabilities(np.c_[np.zeros(5), [0.1, 0.5, -1.0, 0.2, 0.3]])
    found = by_group(groups, y, p.argmax(axis=1), p)
    assert (
        found["s1"]["roc_auc"] == pytest.approx(roc_auc_score(y[:3], p[:3, 1])) and "roc_auc" not in found["s2"]
    )  # s2: one class
    for seed, value in enumerate((0.6, 0.8)):
        write_run(
            tmp_path,
            "d",
            "mlp",
            seed=seed,
            metrics={"test_by_group": {"s1": {"n": 10, "correct": 7, "roc_auc": value}}},
        )
    runs = collect_runs(tmp_path)
    assert "test_roc_auc_mean" not in group_results(runs)  # the default table is as before
    options = options_with_defaults({"metrics": ["test_accuracy", "test_roc_auc"], "best_by": "test_roc_auc"})
    table = group_results(runs, options)
    assert table["test_roc_auc_mean"].tolist() == [pytest.approx(0.7)]
    assert "| Test AUC |" in render_groups_markdown(table, options)


def _previous_release_auc(y_true, p):
    """roc_auc of the release before pack-wise AUC (member by member): the reference."""

    def ranks(x):
        order = np.argsort(x, kind="mergesort")
        sorted_x = x[order]
        first = np.r_[True, sorted_x[1:] != sorted_x[:-1]]
        starts = np.flatnonzero(first)
        ends = np.r_[starts[1:], len(x)]
        out = np.empty(len(x))
        out[order] = ((starts + ends + 1) / 2)[np.cumsum(first) - 1]
        return out

    def binary(positive, score):
        n_pos = int(positive.sum())
        n_neg = len(positive) - n_pos
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        return float(
            (ranks(np.asarray(score, dtype=np.float64))[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
        )

    if p.shape[1] == 2:
        return binary(y_true == 1, p[:, 1])
    return float(np.mean([binary(y_true == k, p[:, k]) for k in range(p.shape[1])]))


@pytest.mark.parametrize("seed", range(10))
def test_members_together_have_the_auc_each_has_alone(seed):
    """roc_auc_many and probabilities of (members, rows, classes): bit-identical to each member
    alone, with ties, a member of one class, NaN scores and up to 10 classes."""
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 11))
    members, n = int(rng.choice([1, 3, 64, 257])), int(rng.choice([2, 9, 80, 301]))
    y = rng.integers(0, n_classes, (members, n))
    y[0] = 0
    logits = rng.normal(size=(members, n, n_classes)) * 4
    logits[1::2] = np.round(logits[1::2], 1)  # ties
    if seed % 3 == 0:
        logits[-1, 0, 0] = np.nan
    p = auc.probabilities(logits)
    together = auc.roc_auc_many(y, p)
    for k in range(members):
        alone = auc.probabilities(logits[k])
        assert np.array_equal(alone, p[k], equal_nan=True)
        expected = _previous_release_auc(y[k], alone)
        assert np.array_equal([together[k]], [expected], equal_nan=True)
        assert np.array_equal([auc.roc_auc(y[k], alone)], [expected], equal_nan=True)
