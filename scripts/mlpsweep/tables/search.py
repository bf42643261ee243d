"""search.csv and .md: the cells of a sweep's `search:` section, best first, with the values
sampled for their point; and those values as columns of runs.csv."""

from __future__ import annotations

import json
import math

import pandas as pd

from .. import search as sampling
from ..registry import METRICS
from .options import higher_is_better
from .render import cell_text, markdown_table
from .runs import KEYS

SEARCH_PREFIX = "search."  # runs.csv and search.csv name a sampled key's column search.<key>


def point_label(hparams: str) -> str:
    """The search point of a cell's hparams label ('s017' of 's017' and of 's017_lr0.01')."""
    return str(hparams).split("_", 1)[0]


def _search_columns(labels: pd.Series, search: dict | None) -> dict[str, pd.Series]:
    """search.<key> -> each label's sampled value (numbers as floats, others as JSON text)."""
    points = dict(sampling.sample(search or {}))
    columns = {}
    for key in sampling.keys(search or {}):
        values = [points.get(point_label(h), {}).get(key) for h in labels]
        numeric = all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values)
        if numeric:
            columns[SEARCH_PREFIX + key] = pd.Series(
                [math.nan if v is None else float(v) for v in values], index=labels.index, dtype="float64"
            )
        else:
            columns[SEARCH_PREFIX + key] = pd.Series(
                ["" if v is None else json.dumps(v) for v in values], index=labels.index, dtype="str"
            )
    return columns


def with_search_values(runs: pd.DataFrame, search: dict | None) -> pd.DataFrame:
    """runs with a column per sampled key after `hparams` (the values of each run's point)."""
    columns = _search_columns(runs["hparams"], search)
    if not columns:
        return runs
    at = runs.columns.get_loc("hparams") + 1
    return pd.concat([runs.iloc[:, :at], pd.DataFrame(columns, index=runs.index), runs.iloc[:, at:]], axis=1)


def search_table(cells: pd.DataFrame, search: dict, options: dict) -> pd.DataFrame:
    """The search's cells best first within each data set (by `best_by`; cells without a score
    last), with their point, its sampled values, counts and metric means and stds."""
    metric = options["best_by"]
    metrics = [m for m in options["metrics"] if f"{m}_mean" in cells]
    columns = [*KEYS, "rank", "point"]
    if cells.empty or not _search_columns(cells["hparams"], search):
        values = [SEARCH_PREFIX + k for k in sampling.keys(search or {})]
        return pd.DataFrame(
            columns=[
                *columns,
                *values,
                "n",
                "n_planned",
                "status",
                "best",
                *(f"{m}_{s}" for m in metrics for s in ("mean", "std")),
            ]
        )
    table = cells.assign(point=cells["hparams"].map(point_label), **_search_columns(cells["hparams"], search))
    score = table[f"{metric}_mean"].astype(float) * (-1 if higher_is_better(metric, options) else 1)
    order = pd.Categorical(table["dataset"], categories=list(dict.fromkeys(table["dataset"]))).codes
    table = table.assign(_d=order, _s=score.fillna(math.inf)).sort_values(["_d", "_s"], kind="stable")
    table["rank"] = table.groupby("_d").cumcount() + 1
    values = [c for c in table.columns if c.startswith(SEARCH_PREFIX)]
    stats = [f"{m}_{s}" for m in metrics for s in ("mean", "std")]
    return table[[*columns, *values, "n", "n_planned", "status", "best", *stats]].reset_index(drop=True)


def _value_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return format(value, ".10g") if isinstance(value, float) else str(value)


def _score_text(row: dict, metric: str, options: dict) -> str:
    """A metric's mean ± std of one point, bold for the best point by `best_by`."""
    text = cell_text(row, metric, options) if f"{metric}_mean" in row else ""
    bold = metric == options["best_by"] and row["best"] and row["n"] and options["bold_best"]
    return f"**{text}**" if bold else text


def render_search_markdown(points: pd.DataFrame, search: dict, options: dict) -> str:
    """search.md: the points of each data set best first, their sampled values as columns."""
    if points.empty:
        return "No search points: this sweep has no `search:` section (or no finished run of one).\n"
    metric = options["best_by"]
    keys = sampling.keys(search)
    labels = [f"{k} (log)" if k in sampling.log_keys(search) else k for k in keys]
    header = [
        "Rank",
        "Data set",
        "Architecture",
        "Point",
        *labels,
        "n",
        *(METRICS[m].label for m in options["metrics"]),
    ]
    rows = (
        [
            str(row["rank"]), row["dataset"], row["architecture"], row["hparams"],
            *(_value_text(row[SEARCH_PREFIX + k]) for k in keys),
            f"{row['n']}/{row['n_planned']}", *(_score_text(row, m, options) for m in options["metrics"]),
        ]
        for row in points.to_dict("records")
    )  # fmt: skip
    lines = markdown_table(header, "rlll" + "r" * (len(header) - 4), rows)
    lines.append("")
    method = {"sobol": "a scrambled Sobol sequence", "random": "independent uniform draws"}[search["method"]]
    lines.append(
        f"{search['samples']} points of {method} (seed {search['seed']}; "
        f"floats to {search['digits']} significant digits), "
        f"best mean {METRICS[metric].label} first within each data set; "
        "mean ± std over seeds (and folds), n = finished / planned runs."
    )
    return "\n".join(lines) + "\n"
