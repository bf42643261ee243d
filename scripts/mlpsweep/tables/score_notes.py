"""The lines under the summary and selected tables on the chance level and threshold of a shown
balanced accuracy or ROC AUC (score_chance): what the mark means, and per data set the chance
level, the threshold and how it was found, with its citation."""

from __future__ import annotations

import functools

import pandas as pd

from ..registry import METRICS
from .options import fmt
from .render import tex_escape
from .score_chance import NORMAL, PERMUTATION, SCORES

MARK = {"md": "‡ on {label}: its mean not above its own chance threshold. ", "tex": "$^\\ddagger$ on {label}: "}
SHORT = {PERMUTATION: "label permutations", NORMAL: "normal approximation"}
APPROXIMATION = {
    "test_balanced_accuracy": (
        "normal approximation of the mean per-class recall of a classifier guessing each class with probability "
        "1 / classes whatever the data, over the test trials of one seed"
    ),
    "test_roc_auc": (
        "normal approximation of the Mann-Whitney U statistic under H0, s.d. sqrt((N + 1) / (12 n1 n0)) "
        "(Mann & Whitney 1947; Hanley & McNeil 1982; Mason & Graham 2002; more classes: the mean one-vs-rest s.d.), "
        "over the test trials of one seed"
    ),
}
PERMUTED = "the {q:g} quantile of the cell's label-permutation runs (each permutation's mean score over its runs)"


def _span(values: pd.Series, text, dash: str) -> str:
    low, high = values.min(), values.max()
    return text(low) if low == high else f"{text(low)}{dash}{text(high)}"


def _shown(cells: pd.DataFrame) -> list[str]:
    return [m for m in SCORES if f"chance_threshold_{m}" in cells and cells[f"chance_threshold_{m}"].notna().any()]


def score_method_lines(cells: pd.DataFrame, options: dict, style: str, marks: bool = True) -> list[str]:
    """Per shown balanced accuracy or AUC: what its mark means (with `marks`), its chance level and how
    its threshold was found, with the citation."""
    alpha = options["significance"]["alpha"]
    escape = str if style == "md" else tex_escape
    lines = []
    for metric in _shown(cells):
        label = escape(METRICS[metric].label)
        methods = set(cells[f"chance_method_{metric}"])
        how = "; ".join(
            (f"cells with {SHORT[m]}: " if len(methods - {""}) > 1 else "")
            + (PERMUTED.format(q=1 - alpha) if m == PERMUTATION else APPROXIMATION[metric])
            for m in (PERMUTATION, NORMAL)
            if m in methods
        )
        chance = "1 / classes" if metric == "test_balanced_accuracy" else "0.5"
        lines.append(
            (MARK[style].format(label=label) if marks else "")
            + f"{label}: chance level {chance} whatever the class balance; its threshold is the score a classifier "
            f"that ignores the data exceeds with {'p' if style == 'md' else '$p$'} < {alpha}: {escape(how)}."
        )
    return lines


def score_chance_lines(cells: pd.DataFrame, options: dict, style: str) -> list[str]:
    """Per shown score and data set: its chance level and threshold (ranges where cells differ) and method."""
    alpha = options["significance"]["alpha"]
    escape, dash, p = (str, "–", f"p < {alpha}") if style == "md" else (tex_escape, "--", f"$p < {alpha}$")
    lines = []
    for metric in _shown(cells):
        column = f"chance_threshold_{metric}"
        text = functools.partial(fmt, metric=metric, options=options)
        for dataset, mine in cells[cells[column].notna()].groupby("dataset", sort=False):
            level = (
                1 / mine["n_classes"].astype(float) if metric == "test_balanced_accuracy" else mine[column] * 0 + 0.5
            )
            how = ", ".join(SHORT[m] for m in (PERMUTATION, NORMAL) if m in set(mine[f"chance_method_{metric}"]))
            chance, threshold = _span(level.dropna(), text, dash), _span(mine[column], text, dash)
            lines.append(
                f"{escape(METRICS[metric].label)} of {escape(dataset)}: chance level {chance}; "
                f"above chance ({p}) means above {threshold} ({how})."
            )
    return lines
