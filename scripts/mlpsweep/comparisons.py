"""Decoders compared (`summary.compare: {baseline: <architecture>}`): every other cell of a data
set against the baseline cell at the same grid point, observation by observation.

A cell's baseline cell has the same data set and the same hyperparameter label (`hparams`:
the same grid, zip or search point, hence the same seeds, folds and windows). Per window, the
paired difference cell − baseline of the time-course score (`score_column`) is taken per
observation (timecourse.observations: subjects, or folds where the data have none) and
tested with MNE's two-sided cluster permutation test over the windows (stats.cluster,
tail=0); a data set without windows has one paired t-test (two-sided) per pair instead.
Same runs, same table: the sign flips are drawn with a fixed seed.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pandas as pd

from .rundir import window_label
from .stats.cluster import cluster_test
from .stats.paired import paired_pvalues
from .tables.notes import cluster_caption_values
from .tables.options import fmt, options_with_defaults
from .tables.order import cell_ranks, natural_key
from .tables.render import CELL_HEADER, csv_text, markdown_table
from .tables.runs import KEYS
from .timecourse import observations

COLUMNS = [
    *KEYS, "baseline", "protocol", "window", "window_start", "window_centre", "observations", "n_observations",
    "cell_mean", "baseline_mean", "difference", "sem", "test", "cluster", "p_value", "significant",
]  # fmt: skip
CLUSTER_TEST, PAIRED_TEST = "cluster, two-sided", "paired t, two-sided"


def score_column(options: dict) -> str:
    """The time-course score the comparison differences: the test accuracy (one place to switch)."""
    return "test_accuracy"


def baseline_of(options: dict) -> str | None:
    """The baseline architecture of `summary.compare`, or None where nothing is compared."""
    return (options.get("compare") or {}).get("baseline")


def unwindowed_rows(runs: pd.DataFrame, windowed: set[str]) -> pd.DataFrame:
    """Finished real runs (runs.csv) of data sets without windows, in timecourse.observations'
    form: one pseudo-window 0, protocol within-subject where runs name a subject, else pooled."""
    mine = runs[(runs["status"] == "finished") & runs["permutation"].isna() & ~runs["dataset"].isin(windowed)]
    subject = mine["subject"].where(mine["subject"].notna() & (mine["subject"] != ""), None)
    return mine.assign(
        subject=subject,
        protocol=np.where(subject.notna(), "within-subject", "pooled"),
        window_start=0.0,
        window_centre=math.nan,
        test_by_group="",
    )


def pairs(frame: pd.DataFrame, baseline: str, options: dict) -> list[tuple[tuple, tuple]]:
    """(cell, baseline cell) keys in table order: each cell of another architecture whose data
    set has a baseline cell with the same hyperparameter label."""
    cells = frame[KEYS].drop_duplicates()
    cells = cells.assign(**cell_ranks(cells, options)).sort_values(["_dataset", "_architecture", "_hparams"])
    have = set(map(tuple, cells[KEYS].to_numpy()))
    out = []
    for dataset, architecture, hparams in cells[KEYS].itertuples(index=False):
        if architecture != baseline and (dataset, baseline, hparams) in have:
            out.append(((dataset, architecture, hparams), (dataset, baseline, hparams)))
    return out


def paired_observations(frame: pd.DataFrame, cell: tuple, base: tuple, column: str):
    """(cell, baseline) observations x windows of the observations and windows both have, the
    windows, and what the observations are."""
    rows = {key: frame[(frame[KEYS] == pd.Series(key, index=KEYS)).all(axis=1)] for key in (cell, base)}
    starts = sorted(set(rows[cell]["window_start"]) & set(rows[base]["window_start"]))
    protocol = rows[base]["protocol"].iloc[0]
    got = {}
    for key, mine in rows.items():
        mine = mine[mine["window_start"].isin(starts)].assign(test_accuracy=mine[column])
        got[key] = observations(mine, protocol, starts)
    names = sorted(set(got[cell][1]) & set(got[base][1]), key=natural_key)
    pick = {key: [got[key][1].index(n) for n in names] for key in got}
    return got[cell][0][pick[cell]], got[base][0][pick[base]], starts, got[base][2], protocol


def comparison_table(frame: pd.DataFrame, options: dict | None = None) -> pd.DataFrame:
    """One row per pair x window (one per pair without windows): cell and baseline means over
    the shared observations, their mean difference with its s.e.m., and the test's result."""
    options = options_with_defaults(options)
    baseline = baseline_of(options)
    parts = (
        []
        if baseline is None or frame.empty
        else [_pair_rows(frame, c, b, options) for c, b in pairs(frame, baseline, options)]
    )
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    table = pd.concat(parts, ignore_index=True)[COLUMNS]
    return table.astype({"n_observations": "int64", "cluster": "Int64", "significant": "bool"})


def _pair_rows(frame: pd.DataFrame, cell: tuple, base: tuple, options: dict) -> pd.DataFrame:
    x, b, starts, what, protocol = paired_observations(frame, cell, base, score_column(options))
    d = x - b
    windowed = bool(frame.loc[frame["dataset"] == cell[0], "window_centre"].notna().any())
    centres = frame[frame["dataset"] == cell[0]].groupby("window_start")["window_centre"].first()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no shared observation: NaN
        out = pd.DataFrame(
            {
                "window_start": starts if windowed else [math.nan],
                "window_centre": centres.reindex(starts).to_numpy() if windowed else [math.nan],
                "cell_mean": x.mean(axis=0) if len(x) else math.nan,
                "baseline_mean": b.mean(axis=0) if len(x) else math.nan,
                "difference": d.mean(axis=0) if len(d) else math.nan,
                "sem": d.std(axis=0, ddof=1) / math.sqrt(len(d)) if len(d) > 1 else math.nan,
            }
        )
    for k, value in zip(KEYS, cell):
        out[k] = value
    out["baseline"], out["protocol"], out["observations"], out["n_observations"] = base[1], protocol, what, len(d)
    out["window"] = [window_label(s) for s in starts] if windowed else ""
    out["cluster"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["p_value"], out["significant"] = math.nan, False
    alpha = options["significance"]["alpha"]
    if windowed:
        out["test"] = CLUSTER_TEST
        if len(d) > 1:
            clusters, p_values, _ = cluster_test(d, options["cluster_permutations"], options["cluster_alpha"], tail=0)
            for k, (mask, p) in enumerate(sorted(zip(clusters, p_values), key=lambda c: int(np.argmax(c[0])))):
                out.loc[mask, "cluster"] = k + 1
                out.loc[mask, "p_value"] = float(p)
                out.loc[mask, "significant"] = bool(p < alpha)
    else:
        out["test"] = PAIRED_TEST
        p = paired_pvalues(b[:, 0], x[:, 0][None, :], "paired_t")[0] if len(d) else math.nan
        out["p_value"], out["significant"] = p, bool(p < alpha)
    return out


# ---------------------------------------------------------------- rendering


def method_text(options: dict) -> str:
    """What each test of comparisons.md tests."""
    return (
        "Difference: cell − baseline, the mean over the observations both cells have of the paired difference of the "
        "test accuracy (observations: subjects, within-subject each subject's mean over its seeds and folds, "
        "cross-subject each held-out subject; folds, each the mean over seeds, where the data have no subjects); "
        "s.e.m. of that difference. "
        f"Windowed data sets ({CLUSTER_TEST}): significant (*) windows lie in a cluster of adjacent windows whose "
        "paired t of the differences lies beyond the two-sided t threshold for p < {ca} (df = observations − 1; a "
        "cluster holds windows of one sign) and whose p-value is < {alpha}: cluster-based permutation test, two-sided "
        "(mne.stats.permutation_cluster_1samp_test, tail=0, {n} sign-flip permutations or all of them where fewer, "
        "seed {seed}; Maris & Oostenveld 2007), which corrects for the number of windows: it tests whether the cell "
        "decodes better or worse than the baseline anywhere in time. Data sets without windows ({paired}): a two-sided "
        "paired t-test of the cell against the baseline over the observations (scipy.stats.ttest_rel): whether the two "
        "decoders differ. Unlike these, summary.md's p-value compares each cell with the best cell of its data set "
        "(two-sided, over the (seed, fold) runs both have)."
    ).format(**cluster_caption_values(options), paired=PAIRED_TEST)


def render_markdown(table: pd.DataFrame, options: dict) -> str:
    """comparisons.md: one line per pair x window, and what the tests test."""
    options = options_with_defaults(options)
    baseline = baseline_of(options)
    if table.empty:
        return (
            f"No comparisons: no data set has a cell of baseline architecture {baseline!r} beside a cell of another "
            "architecture at the same hyperparameter label (summary.compare).\n"
        )
    score = score_column(options)

    def value(v):
        return fmt(v, score, options)

    header = [
        *CELL_HEADER,
        "Baseline",
        "Window (s)",
        "n",
        "Cell",
        "Baseline",
        "Difference",
        "s.e.m.",
        "Test",
        "p",
    ]
    lines = markdown_table(header, "lllll" + "r" * 5 + "lr", (_row(r, value) for r in table.to_dict("records")))
    lines += ["", method_text(options)]
    for dataset, mine in table.groupby("dataset", sort=False):
        n, what = mine["n_observations"].min(), mine["observations"].iloc[0]
        lines.append(f"{dataset}: {mine['protocol'].iloc[0]} decoding, {n} {what} as observations.")
    return "\n".join(lines) + "\n"


def _row(row: dict, value) -> list[str]:
    p = "" if pd.isna(row["p_value"]) else f"{row['p_value']:.3f}" + (" *" if row["significant"] else "")
    difference = (
        "" if pd.isna(row["difference"]) else ("+" if row["difference"] >= 0 else "") + value(row["difference"])
    )
    return [
        row["dataset"], row["architecture"], row["hparams"], row["baseline"], row["window"] or "—",
        str(row["n_observations"]),
        value(row["cell_mean"]), value(row["baseline_mean"]), difference, value(row["sem"]), row["test"], p,
    ]  # fmt: skip


def write_comparisons(table: pd.DataFrame, options: dict | None, outdir, files: dict) -> None:
    """summary/comparisons.csv and .md (names from tables.files.COMPARISON_FILES)."""
    from .storage import write_text_atomic

    options = options_with_defaults(options)
    write_text_atomic(os.path.join(outdir, files["csv"]), csv_text(table))
    write_text_atomic(os.path.join(outdir, files["md"]), render_markdown(table, options))
