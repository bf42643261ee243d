"""summary.csv: one row per data set x architecture x hyperparameter cell, over its real runs
(one per seed, fold): counts, metric means and stds, the best cell and the paired tests
against it, chance level, label-permutation p-value; and the sweep's compute accounting.

Label-permutation runs (`..._perm<P>`) enter a cell's permutation p-value and training time,
never its statistics, best-marking or paired tests.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from .. import rundir
from ..registry import METRICS
from ..stats.chance import majority_threshold
from ..stats.paired import paired_pvalues
from ..stats.permutation import permutation_pvalues
from .options import higher_is_better, options_with_defaults
from .order import real_runs, sort_runs
from .runs import KEYS, STATUSES
from .score_chance import score_chance_levels, score_dtypes, shown_scores


def cell_dtypes(scores=()) -> dict[str, str]:
    """The columns of summary.csv, in order, with their types (the registry's metrics as it is
    now: a metric registered once appears here); `scores`: the shown scores with their own chance
    threshold (score_chance), whose columns come last."""
    return {
        **dict.fromkeys(KEYS, "str"),
        **dict.fromkeys(["n", "n_planned", *(f"n_{s}" for s in STATUSES)], "int64"),
        **{f"{m}_{s}": "float64" for m in METRICS for s in ("mean", "std")}, "fit_seconds_total": "float64",
        "device": "str", "status": "str", "best": "bool", "p_value": "float64", "not_worse": "bool",
        "chance_majority": "float64", "chance_threshold": "float64", "n_test_trials": "Int64", "n_classes": "Int64",
        "above_chance": "boolean", "perm_p_value": "float64", "n_permutations": "int64",
        "n_permutations_planned": "int64", **score_dtypes(scores),
    }  # fmt: skip


EMPTY_COLUMNS = [
    *KEYS,
    "n",
    "n_planned",
    "status",
    "best",
    "p_value",
    "not_worse",
]  # summary.csv of a sweep without a real run


def summarize(runs: pd.DataFrame, options: dict | None = None) -> pd.DataFrame:
    """One row per data set x architecture x hyperparameter cell: mean, std and n over its
    (seed, fold) runs, best cell and paired tests, chance level and permutation p-value."""
    options = options_with_defaults(options)
    return cell_table(sort_runs(runs, options), options)


def cell_table(runs: pd.DataFrame, options: dict, phase: Callable[[str], None] = lambda name: None) -> pd.DataFrame:
    """summarize() of runs already in table order; `phase` is told when the tests begin."""
    real = real_runs(runs)
    if real.empty:
        return pd.DataFrame(columns=EMPTY_COLUMNS)
    cells = cell_statistics(real, runs)
    phase("tests and permutations")
    cells = cells.join(compare_to_best(cells, real, options))
    cells = cells.join(chance_levels(real, cells, options["significance"]["alpha"]))
    cells = cells.join(cell_permutation_pvalues(runs, cells))
    scores = shown_scores(options)
    if scores:
        counts = class_counts_per_cell(real, cells)
        cells = cells.join(score_chance_levels(runs, cells, counts, scores, options["significance"]["alpha"]))
    dtypes = cell_dtypes(scores)
    return cells[list(dtypes)].astype(dtypes)


def _by_cell(frame: pd.DataFrame):
    return frame.groupby(KEYS, sort=False)


def cell_statistics(real: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Counts by status, metric means and sample stds over finished real runs, training time
    and devices over all the cell's runs (permutation runs are compute too)."""
    index = pd.MultiIndex.from_frame(real[KEYS].drop_duplicates())
    finished = real[real["status"] == "finished"]
    metrics = _by_cell(finished)[list(METRICS)]
    means, stds = metrics.mean().reindex(index), metrics.std(ddof=1).reindex(index)
    counts = _by_cell(real)["status"].value_counts().unstack(fill_value=0).reindex(index, fill_value=0)
    cells = pd.DataFrame({"n": counts.get("finished", 0), "n_planned": counts.sum(axis=1)}, index=index)
    for status in STATUSES:
        cells[f"n_{status}"] = counts[status] if status in counts else 0
    for key in METRICS:
        cells[f"{key}_mean"], cells[f"{key}_std"] = means[key], stds[key]
    done = runs[runs["status"].isin(rundir.DONE)]
    cells["fit_seconds_total"] = _by_cell(done)["fit_seconds"].sum().reindex(index, fill_value=0.0).astype(float)
    devices = done[KEYS + ["device"]].dropna()
    devices = devices[devices["device"] != ""].drop_duplicates().sort_values("device", kind="stable")
    cells["device"] = _by_cell(devices)["device"].agg(";".join).reindex(index, fill_value="")
    cells["status"] = _cell_status(cells)
    return cells.reset_index()


def _cell_status(cells: pd.DataFrame) -> np.ndarray:
    """complete, partial, or with no finished run the first reason found (else missing)."""
    none = cells["n"] == 0
    reasons = ("diverged", "failed", "damaged", "incomplete")
    conditions = [cells["n"] == cells["n_planned"], *(none & (cells[f"n_{s}"] > 0) for s in reasons), none]
    return np.select(conditions, ["complete", *reasons, "missing"], default="partial")


def best_rows(cells: pd.DataFrame, by: list[str], options: dict) -> np.ndarray:
    """The index labels of the best cell (by the mean of `best_by`, the first where tied) of each
    group of `by`, in the groups' order; a group with no finished, scored cell has none."""
    metric = options["best_by"]
    scores = cells[f"{metric}_mean"]
    scored = scores.notna() & (cells["n"] > 0)
    grouped = scores[scored].groupby([cells.loc[scored, key] for key in by], sort=False)
    return (grouped.idxmax() if higher_is_better(metric, options) else grouped.idxmin()).to_numpy()


def compare_to_best(cells: pd.DataFrame, real: pd.DataFrame, options: dict) -> pd.DataFrame:
    """best (per data set, by `best_by`), and each other cell's paired-test p-value against it
    over the (seed, fold) runs both have; not_worse where p >= alpha."""
    best_by, test = options["best_by"], options["significance"]["test"]
    scored = cells[f"{best_by}_mean"].notna()
    best = best_rows(cells, ["dataset"], options)
    out = pd.DataFrame({"best": cells.index.isin(best), "p_value": math.nan, "not_worse": False}, index=cells.index)
    if test == "none" or not len(best):
        return out
    matrix = _pair_matrix(cells, real, best_by)
    for row in best:
        rows = np.flatnonzero((cells["dataset"] == cells.at[row, "dataset"]).to_numpy() & scored.to_numpy())
        rows = rows[rows != row]
        out.iloc[rows, out.columns.get_loc("p_value")] = paired_pvalues(matrix[row], matrix[rows], test)
    out["not_worse"] = out["p_value"].ge(options["significance"]["alpha"])
    return out


def _pair_matrix(cells: pd.DataFrame, real: pd.DataFrame, metric: str) -> np.ndarray:
    """Cells x (seed, fold) values of `metric` of the finished real runs; NaN where none."""
    finished = real[real["status"] == "finished"]
    row_of = pd.MultiIndex.from_frame(cells[KEYS]).get_indexer(pd.MultiIndex.from_frame(finished[KEYS]))
    pairs, uniques = pd.factorize(pd.MultiIndex.from_arrays([finished["seed"], finished["fold"].fillna(-1)]))
    matrix = np.full((len(cells), max(len(uniques), 1)), np.nan)
    matrix[row_of, pairs] = finished[metric].to_numpy(dtype=float)
    return matrix


def chance_levels(real: pd.DataFrame, cells: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Per cell: majority-class rate of the test rows of one seed (its folds summed), the
    binomial chance threshold for that many trials at that rate and `alpha` (Combrisson &
    Jerbi 2015, with the majority rate as the null), and whether the mean test accuracy exceeds it."""
    counts = class_counts_per_cell(real, cells)
    known = ~np.isnan(counts).all(axis=1)
    n = np.nansum(counts, axis=1)
    n_classes = (~np.isnan(counts)).sum(axis=1)
    majority, threshold = majority_threshold(counts, alpha)
    accuracy = cells["test_accuracy_mean"].to_numpy(dtype=float)
    above = pd.array(accuracy > threshold, dtype="boolean")
    above[~(known & np.isfinite(accuracy))] = pd.NA
    frame = pd.DataFrame(
        {"chance_majority": majority, "chance_threshold": threshold, "n_test_trials": n, "n_classes": n_classes},
        index=cells.index,
    ).where(pd.Series(known, index=cells.index), axis=0)
    frame = frame.astype({"n_test_trials": "Int64", "n_classes": "Int64"})
    frame["above_chance"] = above
    return frame


def class_counts_per_cell(real: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """Cells x classes: test rows per class summed over the folds of one seed (the seed with
    the most recorded folds, the first such), NaN beyond a cell's number of classes."""
    known = real[real["status"].isin(rundir.DONE) & real["test_class_counts"].fillna("").ne("")]
    runs_of_seed = known.groupby([*KEYS, "seed"], sort=False)["seed"].transform("size")
    preference = runs_of_seed * (known["seed"].max() + 1) - known["seed"]  # most runs, then lowest seed
    mine = known[preference == preference.groupby([known[k] for k in KEYS], sort=False).transform("max")]
    vectors = [json.loads(text) for text in mine["test_class_counts"]]
    width = max(map(len, vectors), default=1)
    padded = np.array([v + [np.nan] * (width - len(v)) for v in vectors], dtype=float).reshape(len(vectors), width)
    row_of = pd.MultiIndex.from_frame(cells[KEYS]).get_indexer(pd.MultiIndex.from_frame(mine[KEYS]))
    counts = np.full((len(cells), width), np.nan)
    has = np.zeros(len(cells), dtype=bool)
    has[row_of] = True
    counts[has] = 0.0
    np.add.at(counts, row_of, padded)
    return counts


def cell_permutation_pvalues(runs: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Per cell: its label-permutation p-value (stats.permutation), where each of the P
    permutations whose runs all finished gives one null score (its mean test accuracy over its
    folds) and the observed score is the cell's mean test accuracy over its real runs."""
    perm = runs[runs["permutation"].notna()].assign(ok=lambda f: f["status"] == "finished")
    if perm.empty:
        return pd.DataFrame(
            {"perm_p_value": np.nan, "n_permutations": 0, "n_permutations_planned": 0}, index=cells.index
        )
    per_perm = (
        perm.groupby([*KEYS, "permutation"], sort=False)
        .agg(score=("test_accuracy", "mean"), complete=("ok", "all"))
        .reset_index()
    )
    index = pd.MultiIndex.from_frame(cells[KEYS])
    planned = _by_cell(per_perm).size().reindex(index, fill_value=0)
    null = per_perm[per_perm["complete"]]
    owner = index.get_indexer(pd.MultiIndex.from_frame(null[KEYS]))
    mine = owner >= 0  # permutations of a cell with no real run have nothing to test
    observed = cells["test_accuracy_mean"].to_numpy(dtype=float)
    p, used = permutation_pvalues(observed, null["score"].to_numpy(dtype=float)[mine], owner[mine])
    columns = {"perm_p_value": p, "n_permutations": used, "n_permutations_planned": planned.to_numpy()}
    return pd.DataFrame(columns, index=cells.index)


def shows_permutations(cells: pd.DataFrame) -> bool:
    """Whether any cell has label-permutation runs."""
    return bool("n_permutations_planned" in cells and cells["n_permutations_planned"].gt(0).any())


def at_chance(row: dict) -> bool:
    """Whether a cell's mean test accuracy is known not to exceed its chance threshold."""
    value = row.get("above_chance")
    return not pd.isna(value) and not bool(value)


def compute_accounting(runs: pd.DataFrame) -> dict:
    """Total training time of the sweep, as CPU-hours and GPU-hours (by each run's device)."""
    done = runs[runs["status"].isin(rundir.DONE)]
    seconds = done["fit_seconds"].fillna(0.0).astype(float)
    on_gpu = done["device"] == "GPU"
    threads = pd.to_numeric(done["threads"], errors="coerce").fillna(1)
    return {
        "runs": int(len(runs)),
        "finished": int((runs["status"] == "finished").sum()),
        "diverged": int((runs["status"] == "diverged").sum()),
        "failed": int((runs["status"] == "failed").sum()),
        "missing": int(runs["status"].isin(["missing", "incomplete"]).sum()),
        "damaged": int((runs["status"] == "damaged").sum()),
        "fit_hours": round(float(seconds.sum()) / 3600, 6),
        "cpu_hours": round(float((seconds[~on_gpu] * threads[~on_gpu]).sum()) / 3600, 6),
        "gpu_hours": round(float(seconds[on_gpu].sum()) / 3600, 6),
    }
