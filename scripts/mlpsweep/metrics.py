"""Classification metrics of a run's predictions on one part of its data."""

from __future__ import annotations

import math

import numpy as np


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """Accuracy, balanced accuracy, macro F1 and the confusion matrix (rows: true class).

    The definitions of scikit-learn's accuracy_score, balanced_accuracy_score (mean recall over
    the classes present in y_true) and f1_score(average="macro", zero_division=0) over all
    classes, computed from one confusion matrix: a job evaluates every run on three parts, and
    scikit-learn's input checks cost more than the counting (tests/test_metrics.py compares).
    """
    matrix = np.bincount(np.asarray(y_true) * n_classes + np.asarray(y_pred), minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )
    hits = np.diag(matrix).astype(np.float64)
    true_counts, predicted_counts = matrix.sum(axis=1), matrix.sum(axis=0)
    present = true_counts > 0
    recall = np.divide(hits, true_counts, out=np.zeros(n_classes), where=present)
    denominator = true_counts + predicted_counts  # F1 = 2 TP / (2 TP + FP + FN)
    f1 = np.divide(2 * hits, denominator, out=np.zeros(n_classes), where=denominator > 0)
    total = int(matrix.sum())
    return {
        "accuracy": float(hits.sum() / total) if total else float("nan"),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else float("nan"),
        "macro_f1": float(f1.mean()),
        "confusion_matrix": matrix.tolist(),
    }


def by_group(groups: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, p: np.ndarray | None = None) -> dict:
    """Test rows and correct predictions per group: {group: {"n": ..., "correct": ...}}, with
    the group's ROC AUC ("roc_auc") where class probabilities `p` are given and it has two classes."""
    from .auc import roc_auc

    out = {}
    for group in sorted(set(groups.tolist())):
        rows = groups == group
        out[str(group)] = {"n": int(rows.sum()), "correct": int((y_true[rows] == y_pred[rows]).sum())}
        auc = math.nan if p is None else roc_auc(y_true[rows], p[rows])
        if not math.isnan(auc):
            out[str(group)]["roc_auc"] = auc
    return out


def split_metrics(prefix: str, values: dict) -> dict:
    """Prefix a split's metrics ('test_accuracy', ...); confusion matrices stay per split."""
    return {f"{prefix}_{k}": v for k, v in values.items()}
