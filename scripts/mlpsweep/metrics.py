"""Classification metrics of a run's predictions on one part of its data."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """Accuracy, balanced accuracy, macro F1 and the confusion matrix (rows: true class)."""
    labels = list(range(n_classes))
    with warnings.catch_warnings():
        # a fold's test rows may lack a class the model predicts: balanced accuracy averages
        # over the classes present, which is what it means
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        balanced = float(balanced_accuracy_score(y_true, y_pred))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": balanced,
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def by_group(groups: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Test rows and correct predictions per group: {group: {"n": ..., "correct": ...}}."""
    out = {}
    for group in sorted(set(groups.tolist())):
        rows = groups == group
        out[str(group)] = {"n": int(rows.sum()), "correct": int((y_true[rows] == y_pred[rows]).sum())}
    return out


def split_metrics(prefix: str, values: dict) -> dict:
    """Prefix a split's metrics ('test_accuracy', ...); confusion matrices stay per split."""
    return {f"{prefix}_{k}": v for k, v in values.items()}
