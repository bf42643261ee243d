"""Activation patterns, the training side (Haufe et al. 2014, NeuroImage 87: 96-110): for one
run on its own test trials, A = Cov(X, s) / Var(s) per feature, X the raw (unstandardized)
features and s the network's decision score, averaged over each channel's window samples.

Decision scores from the logits: two classes, one score, the second class's logit minus the
first's (the log-odds for a softmax output); k > 2 classes, one score per class, its logit
minus the mean of the others' (class against the rest). For a linear model this is exactly
Haufe's pattern; for an MLP it is the pattern of a linear readout of its decision score. Arrays
in, arrays out: training._record hands over what it already evaluated (no second pass).
"""

from __future__ import annotations

import numpy as np


def decision_scores(logits: np.ndarray) -> np.ndarray:
    """(trials, scores): two classes, logit 1 - logit 0; more, each logit minus the others' mean."""
    logits = np.asarray(logits, dtype=np.float64)
    k = logits.shape[1]
    if k == 2:
        return logits[:, 1:] - logits[:, :1]
    return logits - (logits.sum(axis=1, keepdims=True) - logits) / (k - 1)


def score_names(class_names: list[str]) -> list[str]:
    """The class each score is for (two classes: the second, against the first)."""
    return [str(class_names[1])] if len(class_names) == 2 else [str(c) for c in class_names]


def feature_patterns(x_std: np.ndarray, scale: np.ndarray | None, scores: np.ndarray) -> np.ndarray:
    """(scores, features): Cov(X, s) / Var(s) in the raw features' units, from standardized
    features x_std = (X - mean) / scale (Cov(X, s) = scale * Cov(x_std, s)); NaN where Var(s) = 0."""
    x = np.asarray(x_std, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    xc, sc = x - x.mean(axis=0), s - s.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        patterns = (sc.T @ xc) / (sc * sc).sum(axis=0)[:, None]  # the (n - 1)s cancel
    return patterns if scale is None else patterns * np.asarray(scale, dtype=np.float64)


def channels_of(feature_names: list[str]) -> list[str]:
    """The channels of `<channel>@<time>` features (channel-major), in order."""
    return list(dict.fromkeys(str(n).rsplit("@", 1)[0] for n in feature_names))


def channel_patterns(x_std, scale, logits, feature_names: list[str]) -> tuple[list[str], np.ndarray]:
    """(channels, (scores, channels) patterns): feature patterns averaged over each channel's
    samples (features channel-major, `<channel>@<time>`, as a window's are)."""
    channels = channels_of(feature_names)
    patterns = feature_patterns(x_std, scale, decision_scores(logits))
    return channels, patterns.reshape(len(patterns), len(channels), -1).mean(axis=2)
