"""Temporal generalization, the training side: each member of a pack, trained on one time
window, is evaluated on its own test trials at every window of the same length (King &
Dehaene 2014; MNE's GeneralizingEstimator). Prediction only, in packs: one evaluation of the
whole pack per test window, each member's test rows standardized with its own training
mean and scale. The summary side (timecourse.generalization_matrices) averages the results.
"""

from __future__ import annotations

import math

import numpy as np


def window_length(config: dict) -> float:
    """The length (s) of a windowed run's windows, from its data set's `windows:`."""
    return float(config["dataset"]["windows"]["length"])


def evaluate(
    pack, stacked, group, datasets=None, *, features=None, starts=None, wanted=None
) -> list[list[tuple[float, float, int]] | None]:
    """Per member of `group` (prepared runs, in pack order): [(test window start, accuracy,
    test rows, balanced accuracy, ROC AUC)] at every window start of its data set; None for a member without a window.

    pack, stacked: the trained engine Pack and its final weights on the device (as
    training._record evaluates them); datasets: each member's loaded Dataset, all windows (the
    one its splits' `test_index` indexes; default each prepared run's `data`).
    `features(data, start, length)` -> (trials, features) and `starts(data)` -> window starts
    default to the epochs source's (mlpsweep.data.epochs). `wanted` (a flag per member): only
    those are evaluated, the others are taken as members without a window.
    """
    from .auc import probabilities, roc_auc
    from .data import one_hot
    from .metrics import classification_metrics

    if features is None or starts is None:
        from .data import epochs

        features = features or epochs.window_features
        starts = starts or epochs.window_starts
    members = len(group)
    datasets = [p.data for p in group] if datasets is None else datasets
    wanted = [True] * len(group) if wanted is None else wanted
    windowed = [p.run.config.get("window") is not None and w for p, w in zip(group, wanted)]
    lengths = [window_length(p.run.config) if w else None for p, w in zip(group, windowed)]
    own = [{round(float(s), 9): float(s) for s in starts(data)} if w else {} for data, w in zip(datasets, windowed)]
    n_features = group[0].splits.n_features
    ys = [one_hot(p.splits.y_test, p.splits.n_classes) for p in group]
    empty_x = np.zeros((0, n_features), np.float32)
    out: list[list[tuple[float, float, int]] | None] = [[] if w else None for w in windowed]
    for key in sorted(set().union(*own)):
        made: dict = {}  # members sharing a data set share its window's features
        xs, ys_at, present = [], [], []
        for k, p in enumerate(group):
            if key not in own[k]:
                xs.append(empty_x)
                ys_at.append(ys[k][:0])
                continue
            data, s = datasets[k], p.splits
            cache_key = (id(data), lengths[k])
            if cache_key not in made:
                made[cache_key] = np.asarray(features(data, own[k][key], lengths[k]), dtype=np.float64)
            x = made[cache_key][s.test_index]
            xs.append(((x - s.mean) / s.scale).astype(np.float32))
            ys_at.append(ys[k])
            present.append(k)
        found = pack.evaluate(xs, ys_at, stacked)
        for k in present:
            y = group[k].splits.y_test
            logits = found["logits"][k] if "logits" in found else None
            balanced, auc = (
                (math.nan, math.nan)
                if logits is None
                else (
                    classification_metrics(y, logits.argmax(axis=1), group[k].splits.n_classes)["balanced_accuracy"],
                    roc_auc(y, probabilities(logits)),
                )
            )
            out[k].append((own[k][key], float(found["accuracy"][k]), len(ys[k]), balanced, auc))
    return out
