"""Selection without peeking: a nested estimate of the sweep's best cell per data set.

For every run leaf of a data set (seed, fold, and any other dimension of the run directory's
leaf name; label-permutation runs excluded), the cell whose run there has the best
validation score (`summary.select_by`, direction from the registry) is chosen, and that
run's test scores are reported: choosing on validation rows and scoring on test rows the
choice never saw (Cawley & Talbot 2010; Varma & Simon 2006). Ties go to the cell with fewer
parameters, then to the first cell in table order. Runs that did not finish are not
candidates. The chosen runs are listed in `best/<dataset>/index.csv` (best.write_best).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .registry import METRICS
from .storage import write_text_atomic
from .tables.files import SUMMARY_FILES
from .tables.notes import chance_lines
from .tables.options import fmt
from .tables.order import real_runs
from .tables.render import csv_text, latex_table, markdown_table, mean_std, tex_escape
from .tables.runs import KEYS
from .tables.score_notes import score_chance_lines, score_method_lines

CHOICE_COLUMNS = [
    "dataset",
    "leaf",
    "seed",
    "fold",
    "architecture",
    "hparams",
    "path",
    "select_by",
    "score",
    "tied",
    "n_candidates",
    "n_cells",
]
TEST_METRICS = [m for m in METRICS if m.startswith("test_")]


def leaf_of(path: str) -> str:
    """The run directory's own name (seed0, seed0_fold3, ...): what runs of two cells share."""
    return path.rsplit("/", 1)[-1]


def select(runs: pd.DataFrame, cells: pd.DataFrame, options: dict) -> pd.DataFrame:
    """One row per (data set, leaf): the chosen cell's run and its test scores. `runs` and
    `cells` in table order (summary.write_summary's); a leaf without a finished candidate
    keeps a row with no cell."""
    metric = options["select_by"]
    real = real_runs(runs)
    columns = CHOICE_COLUMNS + TEST_METRICS + ["n_params"]
    if real.empty:
        return pd.DataFrame(columns=columns)
    real = real.assign(leaf=[leaf_of(p) for p in real["path"].tolist()]).reset_index(drop=True)
    group, keys = pd.factorize(pd.MultiIndex.from_arrays([real["dataset"], real["leaf"]]))
    order = pd.MultiIndex.from_frame(cells[KEYS]).get_indexer(pd.MultiIndex.from_frame(real[KEYS]))
    score = real[metric].to_numpy(dtype=float)
    rank_score = -score if METRICS[metric].higher_is_better else score
    eligible = np.flatnonzero((real["status"] == "finished").to_numpy() & np.isfinite(score))
    # candidates of each (data set, leaf) from best to worst: score, then fewer parameters, then table order
    ranked = eligible[
        np.lexsort(
            (order[eligible], real["n_params"].to_numpy(dtype=float)[eligible], rank_score[eligible], group[eligible])
        )
    ]
    starts = np.flatnonzero(np.r_[True, group[ranked][1:] != group[ranked][:-1]]) if len(ranked) else np.array([], int)
    first = ranked[starts]
    n_candidates = np.bincount(group[eligible], minlength=len(keys))
    tied = np.zeros(len(keys), bool)
    has_second = n_candidates[group[first]] > 1
    tied[group[first][has_second]] = rank_score[ranked[starts[has_second] + 1]] == rank_score[first[has_second]]
    leaves = real.drop_duplicates(["dataset", "leaf"])
    out = leaves[["dataset", "leaf", "seed", "fold"]].reset_index(drop=True)
    chosen = real.loc[first, ["architecture", "hparams", "path", *TEST_METRICS, "n_params"]].set_axis(group[first])
    out = out.join(chosen.assign(score=score[first]))
    out["n_candidates"] = n_candidates[group[leaves.index]]
    out["n_cells"] = out["dataset"].map(cells.groupby("dataset", sort=False).size()).fillna(0)
    out["select_by"] = metric
    out["tied"] = tied[group[leaves.index]]
    out = out[columns]
    return out.astype(
        {
            "seed": "int64",
            "fold": "Int64",
            "n_candidates": "int64",
            "n_cells": "int64",
            "score": "float64",
            "n_params": "float64",
            **dict.fromkeys(TEST_METRICS, "float64"),
        }
    )


def nested_estimate(choices: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Per data set: leaves with a choice, mean and sample std of each tabulated metric of the
    chosen runs, and how often each cell was chosen."""
    rows = []
    for dataset, mine in choices.groupby("dataset", sort=False):
        chosen = mine[mine["path"].notna()]
        row = {
            "dataset": dataset,
            "n": len(chosen),
            "n_leaves": len(mine),
            "n_incomplete": int((mine["n_candidates"] < mine["n_cells"]).sum()),
        }
        for metric in options["metrics"]:
            values = chosen[metric] if metric in chosen else pd.Series(dtype=float)
            row[f"{metric}_mean"], row[f"{metric}_std"] = values.mean(), values.std(ddof=1)
        counts = (chosen["architecture"] + "/" + chosen["hparams"]).value_counts(sort=False)
        row["chosen"] = "; ".join(
            f"{cell} ({n}/{len(chosen)})" for cell, n in sorted(counts.items(), key=lambda kv: -kv[1])
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _notes(options: dict, style: str) -> list[str]:
    metric = options["select_by"]
    label = METRICS[metric].label if style == "md" else tex_escape(METRICS[metric].label)
    way = "highest" if METRICS[metric].higher_is_better else "lowest"
    return [
        "Nested estimate: for every (seed, fold) run of a data set, "
        f"the cell whose run has the {way} {label} (validation rows) is chosen, "
        "and that run's test scores are reported; the test rows take no part in the choice. "
        "Ties go to the cell with fewer parameters, then to the first in table order. "
        "Label-permutation runs are never candidates; "
        "a run that did not finish (missing, failed, diverged) is not one either.",
        "Mean ± std over (seed, fold) (sample std); n = runs with a choice / (seed, fold) runs of the data set; "
        "incomplete = (seed, fold) runs where some cell had no finished run to compare."
        if style == "md"
        else "Mean $\\pm$ std over (seed, fold) (sample std); $n$ = runs with a choice / (seed, fold) runs.",
    ]


def render_markdown(estimate: pd.DataFrame, choices: pd.DataFrame, cells: pd.DataFrame, options: dict) -> str:
    """selected.md: the nested estimate per data set, then the choice of every (seed, fold)."""
    if estimate.empty:
        return "No selection: no run of this sweep finished.\n"
    metrics = options["metrics"]
    header = ["Data set", "n", *(METRICS[m].label for m in metrics), "Chosen cells (times)", "Incomplete"]
    rows = (
        [
            row["dataset"],
            f"{row['n']}/{row['n_leaves']}",
            *_estimates(row, options, "md"),
            row["chosen"],
            str(row["n_incomplete"]),
        ]
        for row in estimate.to_dict("records")
    )
    lines = markdown_table(header, "lr" + "r" * len(metrics) + "lr", rows)
    chance = (
        chance_lines(cells[cells["dataset"].isin(estimate["dataset"])], options, "md")
        if "chance_threshold" in cells
        else []
    )
    scored = cells[cells["dataset"].isin(estimate["dataset"])]
    chance += score_method_lines(scored, options, "md", marks=False) + score_chance_lines(scored, options, "md")
    lines += ["", *_notes(options, "md"), *chance]
    lines += ["", "Choices per (seed, fold):", ""]
    metric = options["select_by"]
    header = [
        "Data set",
        "Run",
        "Chosen cell",
        METRICS[metric].label,
        "Candidates",
        *(METRICS[m].label for m in metrics),
    ]
    choice_rows = (_choice_row(row, options) for row in choices.to_dict("records"))
    lines += markdown_table(header, "lll" + "r" * (len(header) - 3), choice_rows)
    return "\n".join(lines) + "\n"


def _estimates(row: dict, options: dict, style: str) -> list[str]:
    """A data set's mean ± std of each tabulated metric over its chosen runs."""
    return [mean_std(row[f"{m}_mean"], row[f"{m}_std"], m, options, style) for m in options["metrics"]]


def _choice_row(row: dict, options: dict) -> list[str]:
    """One (seed, fold)'s line of selected.md: the chosen cell, its score and its test scores."""
    metric = options["select_by"]
    chosen = f"{row['architecture']}/{row['hparams']}" if isinstance(row["path"], str) else "none"
    score = fmt(row["score"], metric, options) + (" (tie)" if row["tied"] is True else "")
    values = [fmt(row[m], m, options) if m in row else "" for m in options["metrics"]]
    return [row["dataset"], row["leaf"], chosen, score, f"{row['n_candidates']}/{row['n_cells']}", *values]


def render_latex(estimate: pd.DataFrame, cells: pd.DataFrame, options: dict) -> str:
    """selected.tex: the nested estimate per data set for a paper (booktabs)."""
    metrics = options["metrics"]
    header = ["Data set", "$n$", *(tex_escape(METRICS[m].label) for m in metrics), "Chosen cells (times)"]
    caption = (
        "Nested estimate: per (seed, fold), the cell with the best validation score "
        f"({tex_escape(METRICS[options['select_by']].label)}) "
        "is chosen and its test scores reported."
    )
    rows = (
        [
            tex_escape(row["dataset"]),
            f"{row['n']}/{row['n_leaves']}",
            *_estimates(row, options, "tex"),
            tex_escape(row["chosen"]),
        ]
        for row in estimate.to_dict("records")
    )
    shown = cells[cells["dataset"].isin(estimate["dataset"])]
    chance = chance_lines(shown, options, "tex") if "chance_threshold" in cells and not estimate.empty else []
    if not estimate.empty:
        chance += score_method_lines(shown, options, "tex", marks=False) + score_chance_lines(shown, options, "tex")
    return latex_table(
        caption, selected_label(options), "lr" + "r" * len(metrics) + "l", header, rows, _notes(options, "tex") + chance
    )


def selected_label(options: dict) -> str:
    return f"{options['label']}-selected"


def write_selection(runs: pd.DataFrame, cells: pd.DataFrame, options: dict, outdir: str | Path) -> pd.DataFrame:
    """selected.csv (the choice per data set and leaf), selected.md and selected.tex; `runs`,
    `cells` and `options` as summary.write_summary returns and fills them."""
    outdir = Path(outdir)
    choices = select(runs, cells, options)
    estimate = nested_estimate(choices, options)
    write_text_atomic(outdir / SUMMARY_FILES["selected_csv"], csv_text(choices))
    write_text_atomic(outdir / SUMMARY_FILES["selected_md"], render_markdown(estimate, choices, cells, options))
    write_text_atomic(outdir / SUMMARY_FILES["selected_tex"], render_latex(estimate, cells, options))
    return choices
