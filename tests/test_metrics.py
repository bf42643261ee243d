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
