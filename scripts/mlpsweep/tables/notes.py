"""The texts under the summary tables: what their marks mean, each data set's chance level,
the permutation test, and the note on a best cell chosen by a test metric."""

from __future__ import annotations

import functools

import pandas as pd

from .cells import shows_permutations
from .options import fmt
from ..stats.cluster import CLUSTER_SEED
from .render import tex_escape
from .score_notes import score_chance_lines, score_method_lines

NOT_WORSE_MARK = {"md": " †", "tex": "$^\\dagger$"}
AT_CHANCE_MARK = {"md": " ‡", "tex": "$^\\ddagger$"}
NOTES = {
    "md": {
        "test": {"paired_t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test"},
        "dagger": (
            "† not significantly worse than the best cell of its data set ({test} over shared {over}, alpha = {alpha})."
        ),
        "ddagger": (
            "‡ mean test accuracy not above chance: not above the accuracy a classifier exceeds by chance with p < "
            "{alpha} (binomial test over the test trials of one seed at the majority-class rate, the accuracy of "
            "always answering the most frequent class; Combrisson & Jerbi 2015)."
        ),
        "perm": (
            "Perm. p: label-permutation p-value of the mean test accuracy (Ojala & Garriga 2010): "
            "(1 + number of permutations scoring at least as high) / (1 + permutations); "
            "{planned} permutations per cell, each trained on labels shuffled within the training rows; "
            "(k/m): k of m permutations finished."
        ),
    },
    "tex": {
        "test": {"paired_t": "paired $t$-test", "wilcoxon": "Wilcoxon signed-rank test"},
        "dagger": "$^\\dagger$ not significantly worse than the best cell ({test}, $\\alpha = {alpha}$).",
        "ddagger": (
            "$^\\ddagger$ mean test accuracy not above chance (binomial test at the majority-class rate, $p < "
            "{alpha}$, over the test trials of one seed)."
        ),
        "perm": "Perm.~$p$: label-permutation $p$-value of the mean test accuracy, {planned} permutations per cell.",
    },
}

PEEK_NOTE = {
    "md": (
        "The bold cell is chosen on the test rows (`summary.best_by` is a test metric), so its score is optimistic; "
        "summary/selected.md gives a nested estimate, chosen on validation rows."
    ),
    "tex": (
        " The bold cell is chosen on the test data; Table~\\ref{{{label}-selected}} gives a nested estimate chosen on "
        "validation data."
    ),
}


def over_text(folds: bool) -> str:
    """What a cell's statistics run over."""
    return "(seed, fold) runs" if folds else "seeds"


def notes(cells: pd.DataFrame, options: dict, style: str, folds: bool = False) -> list[str]:
    """The lines under a table: what its marks mean, each data set's chance level, the permutation test."""
    words, test, alpha = NOTES[style], options["significance"]["test"], options["significance"]["alpha"]
    lines = []
    if test != "none":
        lines.append(words["dagger"].format(test=words["test"][test], over=over_text(folds), alpha=alpha))
    chance = chance_lines(cells, options, style) if "chance_threshold" in cells else []
    if chance:
        lines.extend([words["ddagger"].format(alpha=alpha), *chance])
    lines.extend([*score_method_lines(cells, options, style), *score_chance_lines(cells, options, style)])
    if shows_permutations(cells):
        lines.append(words["perm"].format(planned=int(cells["n_permutations_planned"].max())))
    return lines


def peeks(options: dict) -> bool:
    """Whether the tables bold a cell chosen by a test metric."""
    return bool(options["bold_best"]) and options["best_by"].startswith("test_")


def _span(values: pd.Series, text, dash: str) -> str:
    low, high = values.min(), values.max()
    return text(low) if low == high else f"{text(low)}{dash}{text(high)}"


def chance_lines(cells: pd.DataFrame, options: dict, style: str) -> list[str]:
    """One line per data set with a chance level: its majority-class rate and binomial
    threshold (ranges where its cells differ), trials and classes."""
    alpha = options["significance"]["alpha"]
    escape, dash, p = (str, "–", f"p < {alpha}") if style == "md" else (tex_escape, "--", f"$p < {alpha}$")
    accuracy = functools.partial(fmt, metric="test_accuracy", options=options)
    whole = "{:.0f}".format
    lines = []
    for dataset, mine in cells[cells["chance_threshold"].notna()].groupby("dataset", sort=False):
        lines.append(
            f"Chance level of {escape(dataset)}: majority class {_span(mine['chance_majority'], accuracy, dash)}; "
            f"above chance ({p}) means above {_span(mine['chance_threshold'], accuracy, dash)} "
            f"({_span(mine['n_test_trials'], whole, dash)} test trials per seed, "
            f"{_span(mine['n_classes'], whole, dash)} classes)."
        )
    return lines


def cluster_caption_values(options: dict) -> dict:
    """What a caption says of the cluster test: cluster-forming alpha, alpha, permutations, seed."""
    return {
        "ca": options["cluster_alpha"],
        "alpha": options["significance"]["alpha"],
        "n": options["cluster_permutations"],
        "seed": CLUSTER_SEED,
    }
