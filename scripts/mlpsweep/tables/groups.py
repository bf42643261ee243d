"""by_group.csv and .md: each cell's test accuracy per group of test rows (`split.group`), and its
ROC AUC where `summary.metrics` has test_roc_auc (runs recorded before per-group AUC: blank)."""

from __future__ import annotations

import json
import math

import pandas as pd

from ..registry import METRICS
from .options import options_with_defaults
from .order import order_of, rank, real_runs, sort_runs
from .render import CELL_HEADER, markdown_table, mean_std
from .runs import KEYS

GROUP_COLUMNS = [*KEYS, "group", "test_accuracy_mean", "test_accuracy_std", "n_seeds", "n_test_rows"]
AUC_COLUMNS = ["test_roc_auc_mean", "test_roc_auc_std"]


def group_columns(auc: bool) -> list[str]:
    return GROUP_COLUMNS[:6] + AUC_COLUMNS + GROUP_COLUMNS[6:] if auc else GROUP_COLUMNS


def with_auc(options: dict) -> bool:
    """Whether by_group shows ROC AUC: where summary.metrics has test_roc_auc."""
    return "test_roc_auc" in options["metrics"]


def group_results(runs: pd.DataFrame, options: dict | None = None) -> pd.DataFrame:
    """Per data set x cell x group: mean and std over seeds of the group's test accuracy (its
    test rows summed over the seed's folds), seeds, and test rows summed over seeds."""
    options = options_with_defaults(options)
    return group_table(sort_runs(runs, options), with_auc(options))


def group_table(runs: pd.DataFrame, auc: bool = False) -> pd.DataFrame:
    """group_results() of runs already in table order; `auc`: with the groups' ROC AUC (mean
    over the seed's folds, then mean and std over seeds)."""
    real = real_runs(runs)
    done = real[(real["status"] == "finished") & real["test_by_group"].fillna("").ne("")]
    columns = group_columns(auc)
    if done.empty:
        return pd.DataFrame(columns=columns)
    long = pd.DataFrame(
        [
            (i, group, v["n"], v["correct"], v.get("roc_auc", math.nan))
            for i, text in zip(done.index, done["test_by_group"])
            for group, v in json.loads(text).items()
        ],
        columns=["run", "group", "rows", "correct", "auc"],
    )
    long = long.join(done[[*KEYS, "seed"]], on="run")
    by_seed = long.groupby([*KEYS, "group", "seed"], sort=False)
    per_seed = by_seed[["rows", "correct"]].sum().join(by_seed["auc"].mean()).reset_index()
    per_seed["accuracy"] = per_seed["correct"] / per_seed["rows"]
    grouped = per_seed.groupby([*KEYS, "group"], sort=False)
    table = pd.DataFrame(
        {
            "test_accuracy_mean": grouped["accuracy"].mean(),
            "test_accuracy_std": grouped["accuracy"].std(ddof=1),
            **(
                {"test_roc_auc_mean": grouped["auc"].mean(), "test_roc_auc_std": grouped["auc"].std(ddof=1)}
                if auc
                else {}
            ),
            "n_seeds": grouped.size(),
            "n_test_rows": grouped["rows"].sum(),
        }
    ).reset_index()
    table["_c"] = table.groupby(KEYS, sort=False).ngroup()  # cells in table order, as the runs came
    table["_g"] = rank(table["group"], order_of(table["group"], []))
    return table.sort_values(["_c", "_g"], kind="stable")[columns].reset_index(drop=True)


def render_groups_markdown(groups: pd.DataFrame, options: dict) -> str:
    """by_group.md: one row per cell and group."""
    if groups.empty:
        return (
            "No per-group results: no finished run of this sweep recorded test groups "
            "(they are recorded with `split.group`).\n"
        )
    auc = "test_roc_auc_mean" in groups
    scores = ["test_accuracy", *(["test_roc_auc"] if auc else [])]
    header = [
        *CELL_HEADER,
        "Group",
        *(METRICS[m].label for m in scores),
        "Seeds",
        "Test rows",
    ]
    rows = (
        [
            row["dataset"], row["architecture"], row["hparams"], str(row["group"]),
            *(mean_std(row[f"{m}_mean"], row[f"{m}_std"], m, options) for m in scores),
            str(row["n_seeds"]), str(row["n_test_rows"]),
        ]
        for row in groups.to_dict("records")
    )  # fmt: skip
    lines = markdown_table(header, "llll" + "r" * (len(scores) + 2), rows)
    lines.append("")
    lines.append(
        "Test accuracy on each group's test rows, mean ± std over seeds "
        "(sample std; a seed tests a group in one fold); test rows summed over seeds."
    )
    if auc:
        lines.append(
            "Test AUC: each group's ROC AUC on its test rows (mean over the seed's folds), mean ± std over seeds."
        )
    return "\n".join(lines) + "\n"
