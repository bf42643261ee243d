"""Classification metrics of a fitted model on one split."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, log_loss


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, n_classes: int) -> dict:
    """Loss, accuracy, balanced accuracy, macro F1 and confusion matrix from class probabilities."""
    labels = list(range(n_classes))
    y_pred = np.argmax(proba, axis=1)
    clipped = np.clip(proba.astype(np.float64), 1e-7, 1.0)
    clipped /= clipped.sum(axis=1, keepdims=True)
    return {
        "loss": float(log_loss(y_true, clipped, labels=labels)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def split_metrics(prefix: str, values: dict) -> dict:
    """Prefix a split's metrics ('test_accuracy', ...); confusion matrices stay per split."""
    return {f"{prefix}_{k}": v for k, v in values.items()}
