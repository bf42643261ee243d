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
    return classification_metrics_many(np.asarray(y_true)[None], np.asarray(y_pred)[None], n_classes)[0]


def classification_metrics_many(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> list[dict]:
    """classification_metrics of each row of (members, rows) labels and predictions, counted
    together (a pack's members at once: per member, NumPy's calls cost more than its counting).
    A row's numbers are those it has alone: the reductions run along each row as for one
    (tests/test_metrics.py requires them bit-identical)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    members, c = y_true.shape[0], n_classes
    cells = (np.arange(members) * (c * c))[:, None] + y_true * c + y_pred
    matrix = np.bincount(cells.ravel(), minlength=members * c * c).reshape(members, c, c)
    hits = np.diagonal(matrix, axis1=1, axis2=2).astype(np.float64)
    true_counts, predicted_counts = matrix.sum(axis=2), matrix.sum(axis=1)
    present = true_counts > 0
    recall = np.divide(hits, true_counts, out=np.zeros((members, c)), where=present)
    denominator = true_counts + predicted_counts  # F1 = 2 TP / (2 TP + FP + FN)
    f1 = np.divide(2 * hits, denominator, out=np.zeros((members, c)), where=denominator > 0)
    totals = matrix.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = hits.sum(axis=1) / totals
    balanced = np.full(members, math.nan)
    every = present.all(axis=1)
    balanced[every] = recall[every].mean(axis=1)
    for k in np.flatnonzero(~every & present.any(axis=1)):  # a class absent from the part: its mean over the others
        balanced[k] = recall[k][present[k]].mean()
    macro_f1 = f1.mean(axis=1)
    return [
        {
            "accuracy": float(accuracy[k]) if totals[k] else math.nan,
            "balanced_accuracy": float(balanced[k]),
            "macro_f1": float(macro_f1[k]),
            "confusion_matrix": matrix[k].tolist(),
        }
        for k in range(members)
    ]


def by_group(groups: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, p: np.ndarray | None = None) -> dict:
    """Test rows and correct predictions per group: {group: {"n": ..., "correct": ...}}, with
    the group's ROC AUC ("roc_auc") where class probabilities `p` are given and it has two classes."""
    from .auc import roc_auc

    out = {}
    for group in sorted(set(groups.tolist())):
        rows = groups == group
        auc = math.nan if p is None else roc_auc(y_true[rows], p[rows])
        out[str(group)] = _group_figures(int(rows.sum()), int((y_true[rows] == y_pred[rows]).sum()), auc)
    return out


def _group_figures(n: int, correct: int, auc: float) -> dict:
    """One group's entry of by_group: its AUC only where it has one."""
    return {"n": n, "correct": correct, **({} if math.isnan(auc) else {"roc_auc": auc})}


def by_group_many(
    groups: list[np.ndarray], y_true: np.ndarray, y_pred: np.ndarray, p: np.ndarray, auc: np.ndarray
) -> list[dict]:
    """by_group of each member of (members, rows) labels, predictions and (members, rows, classes)
    probabilities, whose AUC over all its rows is `auc`: a member whose rows are of one group
    (within-subject decoding) takes that group's figures from its whole part."""
    correct = (y_true == y_pred).sum(axis=1)
    out = []
    for k, g in enumerate(groups):
        names = set(g.tolist())
        if len(names) != 1:
            out.append(by_group(g, y_true[k], y_pred[k], p[k]))
            continue
        out.append({str(names.pop()): _group_figures(len(g), int(correct[k]), float(auc[k]))})
    return out


def split_metrics(prefix: str, values: dict) -> dict:
    """Prefix a split's metrics ('test_accuracy', ...); confusion matrices stay per split."""
    return {f"{prefix}_{k}": v for k, v in values.items()}
