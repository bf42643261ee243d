import json

import numpy as np
import pytest

from mlpsweep.metrics import by_group, classification_metrics


def test_metrics_from_predictions():
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    m = classification_metrics(y, pred, 3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert 0 < m["macro_f1"] < 1


def test_absent_class_does_not_break_metrics():
    m = classification_metrics(np.array([0, 0]), np.array([0, 1]), 3)
    assert m["accuracy"] == 0.5 and len(m["confusion_matrix"]) == 3 and m["balanced_accuracy"] == 0.5


def test_rows_and_hits_per_group():
    groups = np.array(["s1", "s1", "s2", "s2", "s2"], dtype=object)
    assert by_group(groups, np.array([0, 1, 1, 1, 0]), np.array([0, 0, 1, 1, 1])) == {
        "s1": {"n": 2, "correct": 1},
        "s2": {"n": 3, "correct": 2},
    }


@pytest.mark.parametrize("seed", range(6))
def test_the_same_numbers_as_scikit_learn(seed):
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 6))
    y = rng.integers(0, n_classes - (seed % 2), 50)  # odd seeds: a class absent from y_true
    pred = np.where(rng.random(50) < 0.6, y, rng.integers(0, n_classes, 50))
    m = classification_metrics(y, pred, n_classes)
    labels = list(range(n_classes))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-15)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred), abs=1e-12)
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, labels=labels, average="macro", zero_division=0), abs=1e-12)
    assert m["confusion_matrix"] == confusion_matrix(y, pred, labels=labels).tolist()


def _previous_release(y_true, y_pred, n_classes):
    """classification_metrics of the release before pack-wise counting (member by member): the
    reference the pack's members must equal bit for bit."""
    matrix = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    hits = np.diag(matrix).astype(np.float64)
    true_counts, predicted_counts = matrix.sum(axis=1), matrix.sum(axis=0)
    present = true_counts > 0
    recall = np.divide(hits, true_counts, out=np.zeros(n_classes), where=present)
    denominator = true_counts + predicted_counts
    f1 = np.divide(2 * hits, denominator, out=np.zeros(n_classes), where=denominator > 0)
    total = int(matrix.sum())
    return {
        "accuracy": float(hits.sum() / total) if total else float("nan"),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else float("nan"),
        "macro_f1": float(f1.mean()),
        "confusion_matrix": matrix.tolist(),
    }


@pytest.mark.parametrize("seed", range(12))
def test_members_counted_together_have_the_numbers_each_has_alone(seed):
    """A pack's members at once (classification_metrics_many): bit-identical to each alone, with
    up to 12 classes, classes absent from some members' parts, and parts of no rows."""
    from mlpsweep.metrics import classification_metrics_many

    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 13))
    members, n = int(rng.choice([1, 2, 7, 64, 300])), int(rng.choice([0, 1, 5, 48, 80, 333]))
    y = rng.integers(0, n_classes, (members, n))
    y[: members // 3] %= max(1, n_classes - 1)  # a class absent from a third of the members
    pred = np.where(rng.random((members, n)) < 0.5, y, rng.integers(0, n_classes, (members, n)))
    together = classification_metrics_many(y, pred, n_classes)
    for k in range(members):
        alone = _previous_release(y[k], pred[k], n_classes)
        assert (
            json.dumps(together[k]) == json.dumps(alone) == json.dumps(classification_metrics(y[k], pred[k], n_classes))
        )


def test_by_group_of_members_equals_by_group_of_each():
    """by_group_many: one group's figures taken from the whole part, several groups counted as by_group does."""
    from mlpsweep.auc import probabilities, roc_auc_many
    from mlpsweep.metrics import by_group_many

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, (6, 40))
    pred = rng.integers(0, 2, (6, 40))
    y[5] = 0  # one class only: no AUC
    p = probabilities(rng.normal(size=(6, 40, 2)))
    groups = [np.array(["s1"] * 40, dtype=object)] * 3 + [np.array(["s1", "s2"] * 20, dtype=object)] * 2
    groups.append(np.array(["s3"] * 40, dtype=object))
    found = by_group_many(groups, y, pred, p, roc_auc_many(y, p))
    assert found == [by_group(g, y[k], pred[k], p[k]) for k, g in enumerate(groups)]
    assert "roc_auc" not in found[5]["s3"] and set(found[3]) == {"s1", "s2"}
