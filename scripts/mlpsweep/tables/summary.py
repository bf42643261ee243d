"""The summary directory's tables: runs.csv, summary.csv/.md/.tex, by_group.csv/.md,
compute.json and, with a `search:` section, search.csv/.md (`write_summary`)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..progress import Phases
from ..registry import METRICS
from ..storage import write_text_atomic
from .cells import at_chance, cell_table, compute_accounting, shows_permutations
from .files import SUMMARY_FILES
from .groups import group_table, render_groups_markdown, with_auc
from .notes import AT_CHANCE_MARK, NOT_WORSE_MARK, PEEK_NOTE, notes, over_text, peeks
from .options import options_with_defaults
from .order import real_runs, sort_runs
from .render import CELL_HEADER, cell_text, csv_text, latex_table, markdown_table, tex_escape
from .score_chance import SCORES, score_at_chance
from .search import render_search_markdown, search_table, with_search_values


def write_summary(
    runs: pd.DataFrame,
    options: dict | None,
    outdir: str | Path,
    search: dict | None = None,
    phases: Phases | None = None,
) -> dict:
    """Write runs.csv, summary.csv/.md/.tex, by_group.csv/.md and compute.json into `outdir`;
    with the sweep's `search:` section also search.csv/.md (and its values in runs.csv).
    `phases` is told each step: tables, tests and permutations, writing."""
    phase = phases or (lambda name: None)
    options = options_with_defaults(options)
    outdir = Path(outdir)
    phase("tables")
    runs = with_search_values(sort_runs(runs, options), search)
    cells = cell_table(runs, options, phase)
    phase("tables")
    groups = group_table(runs, with_auc(options))
    compute = compute_accounting(runs)
    folds = bool(real_runs(runs)["fold"].notna().any())
    phase("writing")
    texts = {
        "runs": csv_text(runs),
        "csv": csv_text(cells),
        "md": render_markdown(cells, options, compute, folds),
        "tex": render_latex(cells, options),
        "by_group_csv": csv_text(groups),
        "by_group_md": render_groups_markdown(groups, options),
        "compute": json.dumps(compute, indent=2, sort_keys=True) + "\n",
    }
    if search is not None:
        points = search_table(cells, search, options)
        texts.update(search_csv=csv_text(points), search_md=render_search_markdown(points, search, options))
    for name, text in texts.items():
        write_text_atomic(outdir / SUMMARY_FILES[name], text)
    return {"runs": runs, "cells": cells, "groups": groups, "compute": compute}


def _perm_text(row: dict) -> str:
    if pd.isna(row["perm_p_value"]):
        return ""
    text = f"{row['perm_p_value']:.3f}"
    return (
        text
        if row["n_permutations"] == row["n_permutations_planned"]
        else f"{text} ({row['n_permutations']}/{row['n_permutations_planned']})"
    )


def _table_rows(cells: pd.DataFrame, options: dict, style: str):
    """Each cell's row of texts: names (escaped for `style`), n, metrics with their marks, perm. p.

    The chance mark goes on the test accuracy, or on the cell's name where that is not shown; and on
    a shown balanced accuracy or ROC AUC not above its own threshold.
    """
    escape, bold = (str, "**{}**".format) if style == "md" else (tex_escape, "\\textbf{{{}}}".format)
    chance_column = "test_accuracy" if "test_accuracy" in options["metrics"] else "hparams"
    permutations = shows_permutations(cells)
    for row in cells.to_dict("records"):
        marks = {chance_column: AT_CHANCE_MARK[style]} if at_chance(row) else {}
        marks.update({m: AT_CHANCE_MARK[style] for m in SCORES if score_at_chance(row, m)})
        values = []
        for metric in options["metrics"]:
            text = cell_text(row, metric, options, style)
            if metric == options["best_by"] and row["n"]:
                if row["best"] and options["bold_best"]:
                    text = bold(text)
                elif row["not_worse"]:
                    text += NOT_WORSE_MARK[style]
            values.append(text + marks.get(metric, ""))
        names = [escape(row["dataset"]), escape(row["architecture"]), escape(row["hparams"]) + marks.get("hparams", "")]
        yield [*names, f"{row['n']}/{row['n_planned']}", *values, *([_perm_text(row)] if permutations else [])]


def render_markdown(cells: pd.DataFrame, options: dict, compute: dict, folds: bool = False) -> str:
    """summary.md: one row per cell, then what its numbers and marks mean and the compute used."""
    perm = ["Perm. p"] if shows_permutations(cells) else []
    header = [
        *CELL_HEADER,
        "n",
        *(METRICS[m].label for m in options["metrics"]),
        *perm,
    ]
    lines = markdown_table(header, "llll" + "r" * (len(header) - 4), _table_rows(cells, options, "md"))
    lines.append("")
    lines.append(
        f"Mean ± std over {over_text(folds)} (sample std); n = finished runs / planned runs. "
        f"Best mean {METRICS[options['best_by']].label} per data set in bold."
    )
    if peeks(options):
        lines.append(PEEK_NOTE["md"])
    lines.extend(notes(cells, options, "md", folds))
    if (cells["n"] < cells["n_planned"]).any():
        lines.append(
            "Cells with fewer finished runs than planned count only the finished ones; a cell with none shows why "
            "(missing, failed, diverged)."
        )
    lines.append("")
    lines.append(
        f"Compute: {compute['finished']} finished, {compute['diverged']} diverged, {compute['failed']} failed, "
        f"{compute['missing']} missing of {compute['runs']} runs; "
        f"training time {compute['fit_hours']:.4f} h "
        f"({compute['cpu_hours']:.4f} CPU-hours, {compute['gpu_hours']:.4f} GPU-hours)."
    )
    return "\n".join(lines) + "\n"


def render_latex(cells: pd.DataFrame, options: dict) -> str:
    """summary.tex: the summary table for a paper (booktabs), a rule between data sets."""
    perm = ["Perm.~$p$"] if shows_permutations(cells) else []
    header = [
        *CELL_HEADER,
        "$n$",
        *(tex_escape(METRICS[m].label) for m in options["metrics"]),
        *perm,
    ]
    caption = options["caption"] + (PEEK_NOTE["tex"].format(label=options["label"]) if peeks(options) else "")
    rows = _table_rows(cells, options, "tex")
    align = "lll" + "r" * (len(header) - 3)
    return latex_table(
        caption, options["label"], align, header, rows, notes(cells, options, "tex"), blocks=cells["dataset"]
    )
