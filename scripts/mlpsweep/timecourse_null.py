"""Model-level permutation inference over time: the time-course table's columns from the
label-permutation runs of a windowed sweep (`summary.permutations`).

Each observation of the sign-flip test (timecourse.observations: a subject, or a fold where the
data have no subjects) gets a null from its permutation runs, computed as its observed score is:
within-subject, the subject's mean over its folds of permutation p; cross-subject, the held-out
subject's accuracy under permuted training labels (`test_by_group`); pooled, the fold's run of
permutation p. Permutation p shuffles the same labels at every window, so one draw of one
labelling per observation (the unpermuted one among them) is a null time course. From
`summary.permutation_draws` such draws (fixed seed; every combination where there are fewer) come
the group-level p-value per window, the cluster test over windows (Stelzer et al. 2013;
stats.group_permutation) and the prevalence bound (Allefeld et al. 2016; stats.prevalence). A sweep
without permutation runs gets no columns.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from . import record, timecourse
from .stats.group_permutation import PERMUTATION_SEED, draw_permutations, group_permutation_test
from .stats.prevalence import prevalence_bound
from .tables.options import options_with_defaults
from .tables.runs import KEYS

log = logging.getLogger("mlpsweep")

NULL_COLUMNS = [
    "perm_n", "perm_draws", "perm_null_mean", "perm_threshold", "perm_p",
    "perm_cluster", "perm_cluster_p", "perm_significant", "prevalence_p", "prevalence_bound",
]  # fmt: skip


def collect_null(results, runs: pd.DataFrame) -> pd.DataFrame:
    """The finished label-permutation runs of `runs` (runs.csv) that record a window: the rows
    of timecourse.collect_windows, with their `permutation`."""
    wanted = runs[(runs["status"] == "finished") & runs["permutation"].notna()] if len(runs) else runs
    paths, permutations = wanted["path"].tolist(), wanted["permutation"].tolist()
    found: list = [None] * len(paths)
    # Each cell's compact files read once (record.read_many); rows kept as tuples, in runs.csv's order.
    for k, rec in record.read_many([os.path.join(os.fspath(results), rel) for rel in paths]):
        row = timecourse.window_row(rec, paths[k], permuted=True) if rec is not None else None
        if row is not None:
            found[k] = (*map(row.get, timecourse.WINDOW_COLUMNS), int(permutations[k]))
    rows = [row for row in found if row is not None]
    del found
    frame = pd.DataFrame(rows, columns=[*timecourse.WINDOW_COLUMNS, "permutation"])
    return frame.astype({"seed": "int64", "fold": "Int64", "window_start": "float64", "test_accuracy": "float64"})


def add_null_columns(
    table: pd.DataFrame, windows: pd.DataFrame, null: pd.DataFrame, options: dict | None
) -> pd.DataFrame:
    """The time-course table with the model-level columns (NaN for a cell without permutation
    runs); the table as it is where the sweep has none."""
    if null.empty or table.empty:
        return table
    options = options_with_defaults(options)
    real = dict(tuple(windows.groupby(KEYS, sort=False)))
    permuted = dict(tuple(null.groupby(KEYS, sort=False)))
    parts = []
    for key, rows in table.groupby(KEYS, sort=False):
        columns = cell_columns(real[key], permuted.get(key, null.iloc[:0]), rows["window_start"].tolist(), options)
        parts.append(rows.assign(**columns))
    out = pd.concat(parts).loc[table.index]
    return out.astype({"perm_n": "Int64", "perm_draws": "Int64", "perm_cluster": "Int64", "perm_significant": "bool"})


def cell_columns(mine: pd.DataFrame, theirs: pd.DataFrame, starts: list[float], options: dict) -> dict:
    """One cell's model-level columns over its windows (`starts`, in time order)."""
    n_windows = len(starts)
    out = {c: np.full(n_windows, np.nan) for c in NULL_COLUMNS}
    out["perm_cluster"] = pd.array([pd.NA] * n_windows, dtype="Int64")
    out["perm_significant"] = np.zeros(n_windows, dtype=bool)
    protocol, metric = mine["protocol"].iloc[0], options["timecourse_metric"]
    x, names, what = timecourse.observations(mine, protocol, starts, metric)
    null, counts = null_scores(theirs[theirs["window_start"].isin(starts)], protocol, starts, names, metric)
    if not len(x) or not (counts > 0).all():
        if len(theirs):
            log.warning(
                "%s: an observation without permutation runs at every window; no model-level test",
                "/".join(mine[KEYS].iloc[0]),
            )
        return out
    draws, exact = draw_permutations(counts, options["permutation_draws"])
    test = group_permutation_test(x, null, draws, options["cluster_alpha"], exact)
    alpha = options["significance"]["alpha"]
    out.update(perm_n=np.full(n_windows, counts.min()), perm_draws=np.full(n_windows, test.n_draws))
    out.update(perm_null_mean=test.null_mean, perm_threshold=test.threshold, perm_p=test.p)
    order = sorted(range(len(test.clusters)), key=lambda k: int(np.argmax(test.clusters[k])))
    for label, k in enumerate(order, start=1):
        out["perm_cluster"][test.clusters[k]] = label
        out["perm_cluster_p"][test.clusters[k]] = test.cluster_p[k]
        out["perm_significant"][test.clusters[k]] = test.cluster_p[k] < alpha
    if what == "subjects":
        _, p_corrected, gamma0 = prevalence_bound(x, null, draws, alpha)
        out["prevalence_p"] = p_corrected
        out["prevalence_bound"] = np.where(out["perm_significant"], gamma0, np.nan)
    return out


def null_scores(
    theirs: pd.DataFrame, protocol: str, starts: list[float], names: list[str], metric: str = "test_accuracy"
) -> tuple[np.ndarray, np.ndarray]:
    """Observations x permutations x windows scores of the permutation runs (each observation's
    complete permutations first, NaN after), and how many each observation has."""
    per = []
    for _, rows in theirs.groupby("permutation"):
        scores, observed, _ = timecourse.observations(rows, protocol, starts, metric)
        per.append(dict(zip(observed, scores)))
    lists = [[p[name] for p in per if name in p] for name in names]
    counts = np.array([len(scores) for scores in lists], dtype=np.int64)
    null = np.full((len(names), max(counts.max(initial=0), 1), len(starts)), np.nan)
    for i, scores in enumerate(lists):
        if scores:
            null[i, : len(scores)] = scores
    return null, counts


# ---------------------------------------------------------------- rendering


def has_null(table: pd.DataFrame) -> bool:
    """Whether the table carries the model-level columns."""
    return NULL_COLUMNS[0] in table.columns


def header(options: dict) -> list[str]:
    """The Markdown columns of the model-level test."""
    return [f"Null {100 * (1 - options['cluster_alpha']):g}%", "Perm. p", "Perm. cluster p", "Prevalence ≥"]


def cells(row: dict, accuracy) -> list[str]:
    """One window's model-level cells: null threshold, per-window p, cluster p († significant), prevalence bound."""
    cluster = (
        ""
        if pd.isna(row["perm_cluster_p"])
        else f"{row['perm_cluster_p']:.4f}" + (" †" if row["perm_significant"] else "")
    )
    p = "" if pd.isna(row["perm_p"]) else f"{row['perm_p']:.4f}"
    bound = "" if pd.isna(row["prevalence_bound"]) else f"{row['prevalence_bound']:.2f}"
    return [accuracy(row["perm_threshold"]), p, cluster, bound]


def method_text(options: dict) -> str:
    """The caption's account of the model-level permutation test and the prevalence bound."""
    return (
        "Significant (†): model-level permutation test (Stelzer et al. 2013): each observation's null is its "
        "label-permutation runs (within-subject: the subject's mean over its folds of permutation p; cross-subject: "
        "the held-out subject's accuracy under permuted training labels; folds: the fold's run of permutation p); "
        "{draws} draws of one permutation per observation (all combinations where fewer; seed {seed}) give the group "
        "mean's null at every window; as in Allefeld et al. 2016 each observation's unpermuted labelling is one of "
        "those drawn (so the test stays exact with few permutations; the threshold then rises with the effect where "
        "permutations are few). Perm. p: (1 + draws whose group mean reaches the observed) / (1 + draws), per window, "
        "uncorrected. Null {q:g}%: the null's {q:g}th percentile per window, the cluster-forming threshold; clusters "
        "are adjacent windows above it, their mass the sum over their windows of the group mean minus the mean over "
        "all labellings; a cluster's p is the share of draws (+1 / +1) whose largest cluster mass reaches it, which "
        "corrects for the number of windows; † where it is < {alpha}. Prevalence ≥: at the † windows where "
        "observations are subjects, the largest γ0 for which the null 'at most a share γ0 of the population has an "
        "effect' is rejected at {alpha} (Allefeld et al. 2016: the minimum accuracy across subjects against the "
        "minimum over the same draws, corrected over windows by the maximum); empty where not even the global null (no "
        "subject has an effect) is rejected."
    ).format(
        draws=options["permutation_draws"],
        seed=PERMUTATION_SEED,
        q=100 * (1 - options["cluster_alpha"]),
        alpha=options["significance"]["alpha"],
    )


def describe(mine: pd.DataFrame, options: dict) -> str:
    """A data set's words about its model-level test: permutations per observation, and draws."""
    if mine["perm_n"].isna().all():
        return ""
    n, draws = int(mine["perm_n"].min()), int(mine["perm_draws"].max())
    every = " (every combination)" if draws < options["permutation_draws"] else ""
    return f" Model-level test: {n} permutations per observation, {draws} draws{every}."
