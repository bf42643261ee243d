import numpy as np
import pytest

from mlpsweep.metrics import classification_metrics


def test_metrics_from_probabilities():
    y = np.array([0, 0, 1, 1, 2, 2])
    proba = np.eye(3)[[0, 1, 1, 1, 2, 0]] * 0.9 + 0.1 / 3
    m = classification_metrics(y, proba, 3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert 0 < m["macro_f1"] < 1 and m["loss"] > 0


def test_absent_class_does_not_break_metrics():
    m = classification_metrics(np.array([0, 0]), np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0]]), 3)
    assert m["accuracy"] == 1.0 and len(m["confusion_matrix"]) == 3
