"""Aggregate run directories into the summary tables (CSV, Markdown, LaTeX).

A cell (data set x architecture x hyperparameters) is summarized over its real runs, one per
(seed, fold); label-permutation runs (`..._perm<P>`) are listed in runs.csv and enter a cell's
permutation p-value and training time, never its statistics, best-marking or paired tests.
"""

from __future__ import annotations

import copy
import csv
import functools
import io
import json
import logging
import math
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from . import rundir
from .config import first_error, load_schema
from .progress import Phases
from .registry import METRICS
from .storage import write_text_atomic

log = logging.getLogger("mlpsweep")

from .tables.runs import KEYS, STATUSES

NOT_WORSE_MARK = {"md": " †", "tex": "$^\\dagger$"}
AT_CHANCE_MARK = {"md": " ‡", "tex": "$^\\ddagger$"}


# ---------------------------------------------------------------- options


@functools.lru_cache(maxsize=1)
def _options_schema() -> dict:
    return load_schema()["properties"]["summary"]


def options_with_defaults(options: dict | None) -> dict:
    """The `summary:` options with the schema's defaults filled in; ValueError if invalid."""
    filled = copy.deepcopy(dict(options or {}))
    error = first_error(filled, _options_schema(), prefix="summary")
    if error:
        raise ValueError("key '{}': {}. Fix: {}".format(*error))
    return filled


def higher_is_better(metric: str, options: dict) -> bool:
    """The registry's direction; `higher_is_better: false` turns higher-is-better metrics around."""
    return METRICS[metric].higher_is_better and bool(options["higher_is_better"])


def scale_of(metric: str, options: dict) -> float:
    """100 for the registry's percent metrics when `percent` is set, else 1."""
    return 100.0 if options["percent"] and METRICS[metric].percent else 1.0


# ---------------------------------------------------------------- ordering


def _natural_key(text: str):
    return [float(t) if re.fullmatch(r"\d+(\.\d+)?(e-?\d+)?", t) else t for t in re.split(r"(\d+(?:\.\d+)?(?:e-?\d+)?)", str(text)) if t]


def _order(values: pd.Series, preferred: list[str]) -> list[str]:
    """The distinct values: the preferred ones first, the rest in natural order."""
    distinct = values.unique().tolist()
    head = [v for v in preferred if v in distinct]
    return head + sorted((v for v in distinct if v not in head), key=_natural_key)


def _rank(values: pd.Series, order: list[str]) -> np.ndarray:
    return pd.Categorical(values, categories=order).codes


def sort_runs(runs: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Data sets and architectures in the configured order, then natural order; real runs
    of a cell by seed and fold, its permutation runs after them."""
    preferred = {"dataset": options["dataset_order"], "architecture": options["architecture_order"], "hparams": []}
    keys = {f"_{k}": _rank(runs[k], _order(runs[k], preferred[k])) for k in KEYS}
    keyed = runs.assign(**keys, _p=runs["permutation"].fillna(0), _f=runs["fold"].fillna(-1))
    order = keyed.sort_values([*keys, "_p", "seed", "_f"], kind="stable").index
    return runs.loc[order].reset_index(drop=True)


def real_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs a cell's statistics are made of: all but the label-permutation runs."""
    return runs[runs["permutation"].isna()]


# ---------------------------------------------------------------- aggregation


def summarize(runs: pd.DataFrame, options: dict | None = None) -> pd.DataFrame:
    """One row per data set x architecture x hyperparameter cell: mean, std and n over its
    (seed, fold) runs, best cell and paired tests, chance level and permutation p-value."""
    options = options_with_defaults(options)
    return _cells(sort_runs(runs, options), options)


def _cells(runs: pd.DataFrame, options: dict, phase: Callable[[str], None] = lambda name: None) -> pd.DataFrame:
    """summarize() of runs already in table order; `phase` is told when the tests begin."""
    real = real_runs(runs)
    if real.empty:
        return pd.DataFrame(columns=[*KEYS, "n", "n_planned", "status", "best", "p_value", "not_worse"])
    cells = cell_statistics(real, runs)
    phase("tests and permutations")
    cells = cells.join(compare_to_best(cells, real, options))
    cells = cells.join(chance_levels(real, cells, options["significance"]["alpha"]))
    return cells.join(permutation_pvalues(runs, cells))


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
    conditions = [cells["n"] == cells["n_planned"], *(none & (cells[f"n_{s}"] > 0) for s in ("diverged", "failed", "damaged", "incomplete")), none]
    return np.select(conditions, ["complete", "diverged", "failed", "damaged", "incomplete", "missing"], default="partial")


def compare_to_best(cells: pd.DataFrame, real: pd.DataFrame, options: dict) -> pd.DataFrame:
    """best (per data set, by `best_by`), and each other cell's paired-test p-value against it
    over the (seed, fold) runs both have; not_worse where p >= alpha."""
    best_by, test = options["best_by"], options["significance"]["test"]
    scores = cells[f"{best_by}_mean"]
    scored = scores.notna()
    by_dataset = scores[scored].groupby(cells.loc[scored, "dataset"], sort=False)
    best_rows = (by_dataset.idxmax() if higher_is_better(best_by, options) else by_dataset.idxmin()).to_numpy()
    out = pd.DataFrame({"best": cells.index.isin(best_rows), "p_value": math.nan, "not_worse": False}, index=cells.index)
    if test == "none" or not len(best_rows):
        return out
    matrix = _pair_matrix(cells, real, best_by)
    for best in best_rows:
        rows = np.flatnonzero((cells["dataset"] == cells.at[best, "dataset"]).to_numpy() & scored.to_numpy())
        rows = rows[rows != best]
        out.iloc[rows, out.columns.get_loc("p_value")] = paired_pvalues(matrix[best], matrix[rows], test)
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


def paired_pvalues(best: np.ndarray, others: np.ndarray, test: str) -> np.ndarray:
    """Two-sided p-value of each row of `others` differing from `best`, over the pairs both
    have (NaN under 2 pairs, 1 where all differences are 0); rows sharing pairs go in one call."""
    p = np.full(len(others), np.nan)
    if not len(others):
        return p
    shared = np.isfinite(others) & np.isfinite(best)
    patterns, which = np.unique(shared, axis=0, return_inverse=True)
    for k, columns in enumerate(patterns):
        rows = np.flatnonzero(which.ravel() == k)
        if columns.sum() < 2:
            continue
        a, b = best[columns], others[rows][:, columns]
        same = np.all(np.abs(a - b) <= 1e-8, axis=1)
        p[rows[same]] = 1.0
        if (~same).any():
            p[rows[~same]] = _test(a, b[~same], test)
    return p


def _test(a: np.ndarray, b: np.ndarray, test: str) -> np.ndarray:
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # near-identical rows: scipy warns of precision, the p-value stands
        if test == "paired_t":
            return stats.ttest_rel(np.broadcast_to(a, b.shape), b, axis=1).pvalue
        return np.array([_wilcoxon(tuple(row)) for row in _signed_ranks(a - b)])


def _signed_ranks(diff: np.ndarray) -> np.ndarray:
    """Each row's differences replaced by their signed ranks of |difference|, sorted: all the
    Wilcoxon test depends on (zeros stay zero, ties stay tied), so equal rows share a p-value."""
    from scipy.stats import rankdata

    return np.sort(np.sign(diff) * rankdata(np.abs(diff), axis=1), axis=1)


@functools.lru_cache(maxsize=4096)
def _wilcoxon(signed_ranks: tuple) -> float:
    """scipy's Wilcoxon signed-rank p-value, once per distinct rank pattern (scipy's exact
    test takes milliseconds a call; a sweep of 10,000 cells has few patterns)."""
    from scipy import stats

    return float(stats.wilcoxon(np.asarray(signed_ranks)).pvalue)


def chance_levels(real: pd.DataFrame, cells: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Per cell: majority-class rate of the test rows of one seed (its folds summed), the
    binomial chance threshold for that many trials and classes at `alpha` (Combrisson &
    Jerbi 2015), and whether the mean test accuracy exceeds it."""
    counts = class_counts_per_cell(real, cells)
    known = ~np.isnan(counts).all(axis=1)
    n = np.nansum(counts, axis=1)
    n_classes = (~np.isnan(counts)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        majority = np.nan_to_num(counts).max(axis=1, initial=0) / n
        threshold = chance_threshold(n, n_classes, alpha)
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


def chance_threshold(n_trials, n_classes, alpha: float):
    """The accuracy a classifier must exceed to be above chance at p < alpha: the binomial
    (n_trials, 1 / n_classes) quantile at 1 - alpha, over n_trials (Combrisson & Jerbi 2015)."""
    n_trials = np.asarray(n_trials, dtype=float)
    return binomial_quantile(1 - alpha, n_trials, 1 / np.asarray(n_classes, dtype=float)) / n_trials


def binomial_quantile(q: float, n, p) -> np.ndarray:
    """scipy.stats.binom.ppf(q, n, p) for 0 < q < 1, without importing scipy.stats (0.5 s a
    process; summarize needs nothing else of it): binom.ppf is scipy.special's Boost binomial
    quantile where n is a count and p a probability, NaN elsewhere. Pinned scipy; a test
    compares it with binom.ppf, and scipy.stats stands in should the function move."""
    try:
        from scipy.special._ufuncs import _binom_ppf
    except ImportError:  # pragma: no cover  (another scipy)
        from scipy.stats import binom

        return binom.ppf(q, n, p)
    n, p = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(p, dtype=float))
    valid = (n >= 0) & (n == np.floor(n)) & (p >= 0) & (p <= 1)
    out = np.full(n.shape, np.nan)
    out[valid] = _binom_ppf(q, n[valid], p[valid])
    return out


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


def permutation_pvalues(runs: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Per cell: p = (1 + #{null >= observed}) / (1 + P) (Ojala & Garriga 2010), where each of
    the P permutations whose runs all finished gives one null score (its mean test accuracy
    over its folds) and observed is the cell's mean test accuracy over its real runs."""
    perm = runs[runs["permutation"].notna()].assign(ok=lambda f: f["status"] == "finished")
    if perm.empty:
        return pd.DataFrame({"perm_p_value": np.nan, "n_permutations": 0, "n_permutations_planned": 0}, index=cells.index)
    per_perm = perm.groupby([*KEYS, "permutation"], sort=False).agg(score=("test_accuracy", "mean"), complete=("ok", "all")).reset_index()
    index = pd.MultiIndex.from_frame(cells[KEYS])
    planned = _by_cell(per_perm).size().reindex(index, fill_value=0)
    null = per_perm[per_perm["complete"]]
    observed = pd.Series(cells["test_accuracy_mean"].to_numpy(dtype=float), index=index)
    at_least = null["score"].to_numpy() >= observed.reindex(pd.MultiIndex.from_frame(null[KEYS])).to_numpy()
    used = _by_cell(null).size().reindex(index, fill_value=0)
    hits = pd.Series(at_least, index=pd.MultiIndex.from_frame(null[KEYS])).groupby(level=KEYS, sort=False).sum().reindex(index, fill_value=0)
    p = ((1 + hits) / (1 + used)).where((used > 0) & observed.notna())
    return pd.DataFrame({"perm_p_value": p.to_numpy(), "n_permutations": used.to_numpy(), "n_permutations_planned": planned.to_numpy()}, index=cells.index)


def group_results(runs: pd.DataFrame, options: dict | None = None) -> pd.DataFrame:
    """Per data set x cell x group: mean and std over seeds of the group's test accuracy (its
    test rows summed over the seed's folds), seeds, and test rows summed over seeds."""
    options = options_with_defaults(options)
    return _groups(sort_runs(runs, options))


def _groups(runs: pd.DataFrame) -> pd.DataFrame:
    """group_results() of runs already in table order."""
    real = real_runs(runs)
    done = real[(real["status"] == "finished") & real["test_by_group"].fillna("").ne("")]
    columns = [*KEYS, "group", "test_accuracy_mean", "test_accuracy_std", "n_seeds", "n_test_rows"]
    if done.empty:
        return pd.DataFrame(columns=columns)
    long = pd.DataFrame(
        [(i, group, v["n"], v["correct"]) for i, text in zip(done.index, done["test_by_group"]) for group, v in json.loads(text).items()],
        columns=["run", "group", "rows", "correct"],
    )
    long = long.join(done[[*KEYS, "seed"]], on="run")
    per_seed = long.groupby([*KEYS, "group", "seed"], sort=False)[["rows", "correct"]].sum().reset_index()
    per_seed["accuracy"] = per_seed["correct"] / per_seed["rows"]
    grouped = per_seed.groupby([*KEYS, "group"], sort=False)
    table = pd.DataFrame(
        {"test_accuracy_mean": grouped["accuracy"].mean(), "test_accuracy_std": grouped["accuracy"].std(ddof=1), "n_seeds": grouped.size(), "n_test_rows": grouped["rows"].sum()}
    ).reset_index()
    table["_c"] = table.groupby(KEYS, sort=False).ngroup()  # cells in table order, as the runs came
    table["_g"] = _rank(table["group"], _order(table["group"], []))
    return table.sort_values(["_c", "_g"], kind="stable")[columns].reset_index(drop=True)


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


# ---------------------------------------------------------------- rendering


def fmt(value: float, metric: str, options: dict) -> str:
    """A metric's value as the tables show it: counts whole, others scaled, `decimals` places."""
    if value is None or pd.isna(value):
        return ""
    if METRICS[metric].unit in ("count", "epochs"):
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{value * scale_of(metric, options):.{options['decimals']}f}"


def _cell_text(row: dict, metric: str, options: dict, pm: str) -> str:
    if row["n"] == 0:
        return row["status"]
    mean = fmt(row[f"{metric}_mean"], metric, options)
    std = fmt(row[f"{metric}_std"], metric, options)
    return f"{mean} {pm} {std}" if std else mean


def _perm_text(row: dict) -> str:
    if pd.isna(row["perm_p_value"]):
        return ""
    text = f"{row['perm_p_value']:.3f}"
    return text if row["n_permutations"] == row["n_permutations_planned"] else f"{text} ({row['n_permutations']}/{row['n_permutations_planned']})"


def shows_permutations(cells: pd.DataFrame) -> bool:
    return bool("n_permutations_planned" in cells and cells["n_permutations_planned"].gt(0).any())


def at_chance(row: dict) -> bool:
    """Whether a cell's mean test accuracy is known not to exceed its chance threshold."""
    value = row.get("above_chance")
    return not pd.isna(value) and not bool(value)


def _table_rows(cells: pd.DataFrame, options: dict, style: str):
    """Each cell's row of texts: names (escaped for `style`), n, metrics with their marks, perm. p.

    The chance mark goes on the test accuracy, or on the cell's name where that is not shown.
    """
    escape, pm, bold = (str, "±", "**{}**".format) if style == "md" else (tex_escape, "$\\pm$", "\\textbf{{{}}}".format)
    chance_column = "test_accuracy" if "test_accuracy" in options["metrics"] else "hparams"
    permutations = shows_permutations(cells)
    for row in cells.to_dict("records"):
        marks = {chance_column: AT_CHANCE_MARK[style]} if at_chance(row) else {}
        values = []
        for metric in options["metrics"]:
            text = _cell_text(row, metric, options, pm)
            if metric == options["best_by"] and row["n"]:
                if row["best"] and options["bold_best"]:
                    text = bold(text)
                elif row["not_worse"]:
                    text += NOT_WORSE_MARK[style]
            values.append(text + marks.get(metric, ""))
        names = [escape(row["dataset"]), escape(row["architecture"]), escape(row["hparams"]) + marks.get("hparams", "")]
        yield [*names, f"{row['n']}/{row['n_planned']}", *values, *([_perm_text(row)] if permutations else [])]


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
            f"({_span(mine['n_test_trials'], whole, dash)} test trials per seed, {_span(mine['n_classes'], whole, dash)} classes)."
        )
    return lines


NOTES = {
    "md": {
        "test": {"paired_t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test"},
        "dagger": "† not significantly worse than the best cell of its data set ({test} over shared {over}, alpha = {alpha}).",
        "ddagger": "‡ mean test accuracy not above chance: not above the accuracy a classifier exceeds by chance with p < {alpha} (binomial test over the test trials of one seed; Combrisson & Jerbi 2015).",
        "perm": "Perm. p: label-permutation p-value of the mean test accuracy (Ojala & Garriga 2010): (1 + number of permutations scoring at least as high) / (1 + permutations); "
        "{planned} permutations per cell, each trained on labels shuffled within the training rows; (k/m): k of m permutations finished.",
    },
    "tex": {
        "test": {"paired_t": "paired $t$-test", "wilcoxon": "Wilcoxon signed-rank test"},
        "dagger": "$^\\dagger$ not significantly worse than the best cell ({test}, $\\alpha = {alpha}$).",
        "ddagger": "$^\\ddagger$ mean test accuracy not above chance (binomial test, $p < {alpha}$, over the test trials of one seed).",
        "perm": "Perm.~$p$: label-permutation $p$-value of the mean test accuracy, {planned} permutations per cell.",
    },
}


def _over(folds: bool) -> str:
    """What a cell's statistics run over."""
    return "(seed, fold) runs" if folds else "seeds"


def _notes(cells: pd.DataFrame, options: dict, style: str, folds: bool = False) -> list[str]:
    """The lines under a table: what its marks mean, each data set's chance level, the permutation test."""
    words, test, alpha = NOTES[style], options["significance"]["test"], options["significance"]["alpha"]
    notes = []
    if test != "none":
        notes.append(words["dagger"].format(test=words["test"][test], over=_over(folds), alpha=alpha))
    lines = chance_lines(cells, options, style) if "chance_threshold" in cells else []
    if lines:
        notes.extend([words["ddagger"].format(alpha=alpha), *lines])
    if shows_permutations(cells):
        notes.append(words["perm"].format(planned=int(cells["n_permutations_planned"].max())))
    return notes


PEEK_NOTE = {
    "md": "The bold cell is chosen on the test rows (`summary.best_by` is a test metric), so its score is optimistic; summary/selected.md gives a nested estimate, chosen on validation rows.",
    "tex": " The bold cell is chosen on the test data; Table~\\ref{{{label}-selected}} gives a nested estimate chosen on validation data.",
}


def peeks(options: dict) -> bool:
    """Whether the tables bold a cell chosen by a test metric."""
    return bool(options["bold_best"]) and options["best_by"].startswith("test_")


def render_markdown(cells: pd.DataFrame, options: dict, compute: dict, folds: bool = False) -> str:
    perm = ["Perm. p"] if shows_permutations(cells) else []
    header = ["Data set", "Architecture", "Hyperparameters", "n", *(METRICS[m].label for m in options["metrics"]), *perm]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] * 4 + [" ---: "] * (len(header) - 4)) + "|"]
    for values in _table_rows(cells, options, "md"):
        lines.append("| " + " | ".join(values) + " |")
    lines.append("")
    lines.append(f"Mean ± std over {_over(folds)} (sample std); n = finished runs / planned runs. Best mean {METRICS[options['best_by']].label} per data set in bold.")
    if peeks(options):
        lines.append(PEEK_NOTE["md"])
    lines.extend(_notes(cells, options, "md", folds))
    if (cells["n"] < cells["n_planned"]).any():
        lines.append("Cells with fewer finished runs than planned count only the finished ones; a cell with none shows why (missing, failed, diverged).")
    lines.append("")
    lines.append(
        f"Compute: {compute['finished']} finished, {compute['diverged']} diverged, {compute['failed']} failed, {compute['missing']} missing of {compute['runs']} runs; "
        f"training time {compute['fit_hours']:.4f} h ({compute['cpu_hours']:.4f} CPU-hours, {compute['gpu_hours']:.4f} GPU-hours)."
    )
    return "\n".join(lines) + "\n"


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in str(text))


def render_latex(cells: pd.DataFrame, options: dict) -> str:
    perm = ["Perm.~$p$"] if shows_permutations(cells) else []
    header = ["Data set", "Architecture", "Hyperparameters", "$n$", *(tex_escape(METRICS[m].label) for m in options["metrics"]), *perm]
    lines = [
        "% Generated by mlpsweep; requires \\usepackage{booktabs}.",
        "\\begin{table}[htbp]",
        "\\centering",
        f"\\caption{{{options['caption']}{PEEK_NOTE['tex'].format(label=options['label']) if peeks(options) else ''}}}",
        f"\\label{{{options['label']}}}",
        "\\begin{tabular}{lll" + "r" * (len(header) - 3) + "}",
        "\\toprule",
        " & ".join(header) + " \\\\",
        "\\midrule",
    ]
    previous = None
    for values, dataset in zip(_table_rows(cells, options, "tex"), cells["dataset"]):
        if previous is not None and dataset != previous:
            lines.append("\\midrule")
        previous = dataset
        lines.append(" & ".join(values) + " \\\\")
    lines.extend(["\\bottomrule", "\\end{tabular}", *(f"\\par\\smallskip{{\\footnotesize {note}}}" for note in _notes(cells, options, "tex")), "\\end{table}"])
    return "\n".join(lines) + "\n"


def render_groups_markdown(groups: pd.DataFrame, options: dict) -> str:
    if groups.empty:
        return "No per-group results: no finished run of this sweep recorded test groups (they are recorded with `split.group`).\n"
    header = ["Data set", "Architecture", "Hyperparameters", "Group", METRICS["test_accuracy"].label, "Seeds", "Test rows"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] * 4 + [" ---: "] * 3) + "|"]
    for row in groups.to_dict("records"):
        mean, std = fmt(row["test_accuracy_mean"], "test_accuracy", options), fmt(row["test_accuracy_std"], "test_accuracy", options)
        accuracy = f"{mean} ± {std}" if std else mean
        lines.append("| " + " | ".join([row["dataset"], row["architecture"], row["hparams"], str(row["group"]), accuracy, str(row["n_seeds"]), str(row["n_test_rows"])]) + " |")
    lines.append("")
    lines.append("Test accuracy on each group's test rows, mean ± std over seeds (sample std; a seed tests a group in one fold); test rows summed over seeds.")
    return "\n".join(lines) + "\n"


def _csv(frame: pd.DataFrame) -> str:
    """CSV text: floats to 10 significant digits, missing values empty.

    Written by the csv module from each column's texts: pandas's to_csv formats value by
    value through several calls each, which made up most of a large sweep's summary time.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(frame.columns)
    writer.writerows(zip(*(_texts(frame[c]) for c in frame.columns)))
    return buffer.getvalue()


def _texts(column: pd.Series) -> list[str]:
    if column.dtype == "str":
        return column.fillna("").tolist()
    if column.dtype == "float64":
        return ["" if v != v else "%.10g" % v for v in column.tolist()]  # v != v: NaN
    return ["" if missing else str(v) for v, missing in zip(column.tolist(), column.isna().tolist())]


def write_summary(runs: pd.DataFrame, options: dict | None, outdir: str | Path, search: dict | None = None, phases: Phases | None = None) -> dict:
    """Write runs.csv, summary.csv/.md/.tex, by_group.csv/.md and compute.json into `outdir`;
    with the sweep's `search:` section also search.csv/.md (and its values in runs.csv).
    `phases` is told each step: tables, tests and permutations, writing."""
    phase = phases or (lambda name: None)
    options = options_with_defaults(options)
    outdir = Path(outdir)
    phase("tables")
    runs = with_search_values(sort_runs(runs, options), search)
    cells = _cells(runs, options, phase)
    phase("tables")
    groups = _groups(runs)
    compute = compute_accounting(runs)
    folds = bool(real_runs(runs)["fold"].notna().any())
    phase("writing")
    write_text_atomic(outdir / "runs.csv", _csv(runs))
    write_text_atomic(outdir / "summary.csv", _csv(cells))
    write_text_atomic(outdir / "summary.md", render_markdown(cells, options, compute, folds))
    write_text_atomic(outdir / "summary.tex", render_latex(cells, options))
    write_text_atomic(outdir / "by_group.csv", _csv(groups))
    write_text_atomic(outdir / "by_group.md", render_groups_markdown(groups, options))
    write_text_atomic(outdir / "compute.json", json.dumps(compute, indent=2, sort_keys=True) + "\n")
    if search is not None:
        points = search_table(cells, search, options)
        write_text_atomic(outdir / "search.csv", _csv(points))
        write_text_atomic(outdir / "search.md", render_search_markdown(points, search, options))
    return {"runs": runs, "cells": cells, "groups": groups, "compute": compute}


# ---------------------------------------------------------------- search (search.py)

SEARCH_PREFIX = "search."  # runs.csv and search.csv name a sampled key's column search.<key>


def point_label(hparams: str) -> str:
    """The search point of a cell's hparams label ('s017' of 's017' and of 's017_lr0.01')."""
    return str(hparams).split("_", 1)[0]


def _search_columns(labels: pd.Series, search: dict | None) -> dict[str, pd.Series]:
    """search.<key> -> each label's sampled value (numbers as floats, others as JSON text)."""
    from . import search as sampling

    points = dict(sampling.sample(search or {}))
    columns = {}
    for key in sampling.keys(search or {}):
        values = [points.get(point_label(h), {}).get(key) for h in labels]
        numeric = all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values)
        if numeric:
            columns[SEARCH_PREFIX + key] = pd.Series([math.nan if v is None else float(v) for v in values], index=labels.index, dtype="float64")
        else:
            columns[SEARCH_PREFIX + key] = pd.Series(["" if v is None else json.dumps(v) for v in values], index=labels.index, dtype="str")
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
        values = [SEARCH_PREFIX + k for k in _search_keys(search)]
        return pd.DataFrame(columns=[*columns, *values, "n", "n_planned", "status", "best", *(f"{m}_{s}" for m in metrics for s in ("mean", "std"))])
    table = cells.assign(point=cells["hparams"].map(point_label), **_search_columns(cells["hparams"], search))
    score = table[f"{metric}_mean"].astype(float) * (-1 if higher_is_better(metric, options) else 1)
    order = pd.Categorical(table["dataset"], categories=list(dict.fromkeys(table["dataset"]))).codes
    table = table.assign(_d=order, _s=score.fillna(math.inf)).sort_values(["_d", "_s"], kind="stable")
    table["rank"] = table.groupby("_d").cumcount() + 1
    values = [c for c in table.columns if c.startswith(SEARCH_PREFIX)]
    stats = [f"{m}_{s}" for m in metrics for s in ("mean", "std")]
    return table[[*columns, *values, "n", "n_planned", "status", "best", *stats]].reset_index(drop=True)


def _search_keys(search: dict | None) -> list[str]:
    from . import search as sampling

    return sampling.keys(search or {})


def _value_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return format(value, ".10g") if isinstance(value, float) else str(value)


def render_search_markdown(points: pd.DataFrame, search: dict, options: dict) -> str:
    """search.md: the points of each data set best first, their sampled values as columns."""
    if points.empty:
        return "No search points: this sweep has no `search:` section (or no finished run of one).\n"
    from . import search as sampling

    metric = options["best_by"]
    keys = sampling.keys(search)
    labels = [f"{k} (log)" if k in sampling.log_keys(search) else k for k in keys]
    header = ["Rank", "Data set", "Architecture", "Point", *labels, "n", *(METRICS[m].label for m in options["metrics"])]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([" ---: "] + [" --- "] * 3 + [" ---: "] * (len(header) - 4)) + "|"]
    for row in points.to_dict("records"):
        values = [_value_text(row[SEARCH_PREFIX + k]) for k in keys]
        scores = []
        for m in options["metrics"]:
            text = _cell_text(row, m, options, "±") if f"{m}_mean" in row else ""
            scores.append(f"**{text}**" if m == metric and row["best"] and row["n"] and options["bold_best"] else text)
        lines.append("| " + " | ".join([str(row["rank"]), row["dataset"], row["architecture"], row["hparams"], *values, f"{row['n']}/{row['n_planned']}", *scores]) + " |")
    lines.append("")
    method = {"sobol": "a scrambled Sobol sequence", "random": "independent uniform draws"}[search["method"]]
    lines.append(
        f"{search['samples']} points of {method} (seed {search['seed']}; floats to {search['digits']} significant digits), "
        f"best mean {METRICS[metric].label} first within each data set; mean ± std over seeds (and folds), n = finished / planned runs."
    )
    return "\n".join(lines) + "\n"
