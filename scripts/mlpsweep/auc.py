"""ROC AUC of a run's class probabilities: two classes, the second class's probability as the
score; more, the one-vs-rest macro average (scikit-learn's roc_auc_score(multi_class="ovr",
average="macro")).

Computed here with NumPy as the Mann-Whitney U statistic over average ranks (Hanley & McNeil
1982), which is the area under the ROC curve with ties counted half. Not for start-up time
(sklearn.model_selection, which splits the data, imports sklearn.metrics already) but per call:
a job evaluates every run on two parts, and roc_auc_score takes 3.0 ms for 300 rows of three
classes (1.3 ms for two) against 0.10 ms (0.03 ms) here; tests/test_auc.py compares the two,
two to four classes, with ties. A pack's members are computed together (`roc_auc_many`), each
with the numbers it has alone (rank sums are sums of half-integers: exact in any order).
"""

from __future__ import annotations

import math

import numpy as np


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax of a part's logits (rows x classes; or members x rows x classes), in float32 as
    the model's output: the values predictions.csv stores exactly (9 significant digits) and AUC
    is computed from."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of x, ties given their average rank (scipy.stats.rankdata's 'average'); of
    each row of a (members, rows) array."""
    x = np.asarray(x)
    if x.ndim == 1:
        return average_ranks(x[None])[0]
    members, n = x.shape
    if n == 0:
        return np.zeros(x.shape)
    order = np.argsort(x, axis=1, kind="mergesort")
    sorted_x = np.take_along_axis(x, order, axis=1)
    first = np.ones(x.shape, dtype=bool)
    first[:, 1:] = sorted_x[:, 1:] != sorted_x[:, :-1]
    flat = first.ravel()
    starts = np.flatnonzero(flat)  # every row starts a run of ties: a run never spans two rows
    ends = np.r_[starts[1:], members * n]
    row_start = (starts // n) * n
    ranks = np.empty(x.shape)
    np.put_along_axis(
        ranks, order, ((starts + ends + 1 - 2 * row_start) / 2)[np.cumsum(flat) - 1].reshape(x.shape), axis=1
    )
    return ranks


def binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """AUC of `score` for the boolean labels `positive`; NaN without both kinds of row."""
    return float(binary_auc_many(np.asarray(positive)[None], np.asarray(score)[None])[0])


def binary_auc_many(positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """binary_auc of each row of (members, rows) labels and scores."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = positive.sum(axis=1)
    n_neg = positive.shape[1] - n_pos
    ranks = average_ranks(np.asarray(score, dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (np.where(positive, ranks, 0.0).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos == 0) | (n_neg == 0), math.nan, auc)


def roc_auc(y_true: np.ndarray, p: np.ndarray) -> float:
    """AUC of class probabilities p (rows x classes) for labels y_true (class indices): the
    second class's probability for two classes, else the one-vs-rest macro average; NaN where
    a class has no row (roc_auc_score refuses those)."""
    return float(roc_auc_many(np.asarray(y_true)[None], np.asarray(p)[None])[0])


def roc_auc_many(y_true: np.ndarray, p: np.ndarray) -> np.ndarray:
    """roc_auc of each member of (members, rows) labels and (members, rows, classes) probabilities."""
    y_true, p = np.asarray(y_true), np.asarray(p)
    if p.shape[2] == 2:
        return binary_auc_many(y_true == 1, p[:, :, 1])
    return np.stack([binary_auc_many(y_true == k, p[:, :, k]) for k in range(p.shape[2])], axis=1).mean(axis=1)


def roc_auc_of(part) -> float:
    """AUC of a record.Evaluated (NaN for a part without rows)."""
    return roc_auc_of_members([part])[0]


def roc_auc_of_members(parts: list) -> list[float]:
    """The registry's `compute` of test_roc_auc and val_roc_auc: roc_auc_of of each of a pack's
    record.Evaluated, members with as many rows computed together."""
    out = [math.nan] * len(parts)
    for ks in _alike(parts).values():
        if not len(parts[ks[0]].y_true):
            continue
        y = np.stack([parts[k].y_true for k in ks])
        found = roc_auc_many(y, probabilities(np.stack([parts[k].logits for k in ks])))
        for k, value in zip(ks, found.tolist()):
            out[k] = value
    return out


def _alike(parts: list) -> dict[tuple, list[int]]:
    """Members (indices) by their part's rows and classes."""
    found: dict[tuple, list[int]] = {}
    for k, part in enumerate(parts):
        found.setdefault((len(part.y_true), part.n_classes), []).append(k)
    return found
