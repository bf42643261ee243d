"""Activation patterns, the summary side: each cell's patterns (Haufe et al. 2014; the runs'
patterns.csv, patterns.py) averaged per window, as an mne.Evoked per decision score (one time
point per window centre, channels with the positions of the epochs' montage) in
summary/patterns/<dataset>_<architecture>_<hparams>-ave.fif, and a row of topomaps per score in
plots/patterns/ (a bar chart per channel where the data have no montage); the writer of rule
`patterns`. Within-subject: each subject's mean over its runs, then the mean over subjects;
otherwise the mean over the cell's runs. Windowed runs without patterns.csv (trained before
`summary.patterns` was set) are skipped and counted.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import record, rundir, timecourse
from .plots import STYLE, plt, save_figure
from .registry import PLOTS
from .storage import write_text_atomic
from .tables.files import PATTERNS_DIR  # summary/patterns/ and plots/patterns/, in the registry's PLOTS
from .tables.runs import KEYS, read_runs_csv

log = logging.getLogger("mlpsweep")

assert PATTERNS_DIR in PLOTS
MAX_MAPS = 10  # topomaps per row at most: windows beyond it are thinned evenly
TOPO_TYPES = ("eeg", "mag", "grad", "hbo", "hbr", "csd", "seeg", "ecog")  # channel types a topomap can draw
METHOD = (
    "activation pattern A = Cov(X, s) / Var(s) on each run's test trials (Haufe et al. 2014), X the raw window features"
    " (data units), s the decision score (two classes: logit difference; more: each class's logit minus the others'"
    " mean), averaged over the window's samples; exact for a linear model, the linear-readout approximation for an MLP"
)


@dataclass
class CellPatterns:
    """One cell's mean patterns: (scores, channels, windows), windows in time order."""

    key: tuple
    scores: list[str]
    channels: list[str]
    starts: np.ndarray
    centres: np.ndarray
    data: np.ndarray
    n_observations: int
    observations: str  # "subjects" (within-subject: subject means) or "runs"
    n_runs: int
    n_skipped: int  # windowed runs of the cell without patterns.csv


def collect_patterns(results, windows: pd.DataFrame) -> tuple[pd.DataFrame, dict[tuple, int]]:
    """Long rows (cell, subject, path, window, score, channel, pattern) of every windowed run's
    patterns.csv, and per cell the number of windowed runs without one."""
    rows, skipped = [], {}
    for run in windows[[*KEYS, "subject", "window_start", "window_centre", "path"]].to_dict("records"):
        found = rundir.read_patterns(os.path.join(os.fspath(results), run["path"]))
        key = tuple(run[k] for k in KEYS)
        skipped.setdefault(key, 0)
        if found is None:
            skipped[key] += 1
            continue
        rows += [(*key, run["subject"], run["path"], run["window_start"], run["window_centre"], *r) for r in found]
    columns = [*KEYS, "subject", "path", "window_start", "window_centre", "score", "channel", "pattern"]
    return pd.DataFrame(rows, columns=columns), skipped


def cell_patterns(rows: pd.DataFrame, skipped: dict[tuple, int]) -> list[CellPatterns]:
    """Each cell's patterns averaged per window (within-subject: over subjects' means)."""
    out = []
    for key, mine in rows.groupby(KEYS, sort=False):
        scores = list(dict.fromkeys(mine["score"]))
        channels = list(dict.fromkeys(mine["channel"]))
        starts = np.array(sorted(mine["window_start"].unique()), dtype=float)
        centres = mine.groupby("window_start")["window_centre"].first().reindex(starts).to_numpy(dtype=float)
        by_subject = mine["subject"].notna().all()
        level = ["subject"] if by_subject else ["path"]
        firsts = mine.groupby([*level, "window_start", "score", "channel"], sort=False)["pattern"].mean()
        means = firsts.groupby(["window_start", "score", "channel"]).mean()
        index = pd.MultiIndex.from_product([starts, scores, channels], names=["window_start", "score", "channel"])
        data = means.reindex(index).to_numpy(dtype=float).reshape(len(starts), len(scores), len(channels))
        out.append(
            CellPatterns(
                tuple(key), scores, channels, starts, centres, data.transpose(1, 2, 0),
                int(mine[level[0]].nunique()), "subjects" if by_subject else "runs", int(mine["path"].nunique()),
                skipped.get(tuple(key), 0),
            )
        )  # fmt: skip
    return out


def time_grid(centres: np.ndarray) -> tuple[float, np.ndarray]:
    """(sampling rate, sample of each window centre) of an Evoked holding the centres: MNE puts
    samples at multiples of 1 / sfreq, so the period is the largest that divides every centre
    (to 0.1 ms); centres half a step off the step's multiples give a sample between each two."""
    ticks = np.round(np.asarray(centres, dtype=float) * 1e4).astype(np.int64)
    period = int(np.gcd.reduce(np.abs(np.r_[np.diff(ticks), ticks[:1]]))) or 10_000
    return 1e4 / period, (ticks // period).astype(int)


def evokeds(cell: CellPatterns, info=None, class_names: list[str] | None = None) -> list:
    """One mne.EvokedArray per decision score: the mean pattern (data units) at every window
    centre on a regular grid (NaN at a window no run has), channels typed and placed as in
    `info` (the epochs' measurement info; without it, `misc` channels without positions). Samples
    between window centres (time_grid) are NaN."""
    import mne

    sfreq, samples = time_grid(cell.centres)
    known = info is not None and all(c in info["ch_names"] for c in cell.channels)
    types = [info.get_channel_types([c])[0] for c in cell.channels] if known else ["misc"] * len(cell.channels)
    new = mne.create_info(cell.channels, sfreq, types)
    if known:
        montage = mne.pick_info(info, [info["ch_names"].index(c) for c in cell.channels]).get_montage()
        if montage is not None:
            new.set_montage(montage, on_missing="ignore")
    out = []
    for k, score in enumerate(cell.scores):
        data = np.full((len(cell.channels), samples[-1] - samples[0] + 1), np.nan)
        data[:, samples - samples[0]] = cell.data[k]
        comment = _comment(score, cell.scores, class_names)
        evoked = mne.EvokedArray(data, new, tmin=samples[0] / sfreq, comment=comment, nave=cell.n_observations)
        out.append(evoked)
    return out


def _comment(score: str, scores: list[str], class_names: list[str] | None) -> str:
    if len(scores) == 1 and class_names and len(class_names) == 2:
        return f"{score} vs {next(c for c in class_names if c != score)}"
    return f"{score} vs rest" if len(scores) > 1 else score


def shown_windows(cell: CellPatterns, significant: list[float]) -> tuple[list[int], str]:
    """Indices of the windows drawn (those of significant clusters, else all; at most MAX_MAPS,
    thinned evenly) and what they are."""
    chosen = [i for i, s in enumerate(cell.starts) if any(math.isclose(s, t, abs_tol=1e-6) for t in significant)]
    what = "windows of the significant clusters" if chosen else "all windows (no significant cluster)"
    chosen = chosen or list(range(len(cell.starts)))
    if len(chosen) > MAX_MAPS:
        chosen = [chosen[i] for i in np.linspace(0, len(chosen) - 1, MAX_MAPS).round().astype(int)]
        what += f", {MAX_MAPS} of them evenly spaced"
    return chosen, what


def topo_picks(evoked) -> tuple[str, list[int]] | None:
    """The channel type a topomap draws and its channels, where at least 3 have positions."""
    import mne

    by_type = mne.channel_indices_by_type(evoked.info)
    for ch_type in TOPO_TYPES:
        picks = by_type.get(ch_type, [])
        locs = np.array([evoked.info["chs"][i]["loc"][:3] for i in picks]).reshape(-1, 3)
        placed = np.isfinite(locs).all(axis=1) & (np.abs(locs).sum(axis=1) > 0)
        if placed.sum() >= 3:
            return ch_type, [int(p) for p, ok in zip(picks, placed) if ok]
    return None


def pattern_figure(cell: CellPatterns, found: list, shown: list[int], what: str):
    """A row of topomaps per decision score at the shown windows, one colour scale per row
    (symmetric, in µV for EEG); a bar chart per channel per shown window where no montage."""
    import mne

    placed = topo_picks(found[0])
    n_rows, n_cols = len(found), len(shown)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(1.7 * n_cols + 0.9, 1.9 * n_rows + 1.1), squeeze=False, layout="constrained"
    )
    ch_type = placed[0] if placed else found[0].get_channel_types()[0]
    scale = {"eeg": 1e6, "seeg": 1e6, "ecog": 1e6, "mag": 1e15, "grad": 1e13}.get(ch_type, 1.0)
    unit = {1e6: "µV", 1e15: "fT", 1e13: "fT/cm"}.get(scale, "data units") + " per logit"
    _, samples = time_grid(cell.centres)
    grid = samples - samples[0]
    for r, evoked in enumerate(found):
        picks = placed[1] if placed else list(range(len(cell.channels)))
        values = evoked.data[np.ix_(picks, grid[shown])] * scale
        span = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
        span = span or 1.0
        for c, (ax, j) in enumerate(zip(axes[r], shown)):
            if placed:
                mne.viz.plot_topomap(
                    values[:, c], mne.pick_info(evoked.info, picks), axes=ax, show=False, vlim=(-span, span),
                    cmap="RdBu_r", contours=0, sensors=True,
                )  # fmt: skip
            else:
                ax.bar(range(len(picks)), values[:, c], color=np.where(values[:, c] >= 0, "tab:red", "tab:blue"))
                ax.set_xticks(range(len(picks)), [cell.channels[p] for p in picks], rotation=90, fontsize=6)
                ax.set_ylim(-span * 1.05, span * 1.05)
                ax.axhline(0, color="k", linewidth=0.5)
            ax.set_title(f"{cell.centres[j]:+.3f} s", fontsize=8)
        first = axes[r][0]
        if not placed:
            first.set_ylabel(f"{evoked.comment}\npattern ({unit})", fontsize=8)
        else:
            first.text(-0.2, 0.5, evoked.comment, transform=first.transAxes, rotation=90, va="center", ha="right")
            mappable = plt.cm.ScalarMappable(plt.Normalize(-span, span), "RdBu_r")
            fig.colorbar(mappable, ax=list(axes[r]), shrink=0.8, label=f"pattern ({unit})")
    runs = f" ({cell.n_runs} runs)" if cell.observations != "runs" else ""
    skipped = f"; {cell.n_skipped} windowed runs without patterns skipped" if cell.n_skipped else ""
    fig.suptitle(
        f"{' / '.join(cell.key)}: activation patterns at the window centres, {what}\n"
        f"mean over {cell.n_observations} {cell.observations}{runs}{skipped}\n"
        "Haufe et al. 2014; for an MLP, the pattern of a linear readout of its decision score",
        fontsize=8,
    )
    return fig


def significant_windows(table: pd.DataFrame | None, key: tuple) -> list[float]:
    """Window starts of the cell's significant clusters in the time-course table."""
    if table is None or table.empty:
        return []
    mine = table[(table[KEYS] == pd.Series(key, index=KEYS)).all(axis=1) & table["significant"].astype(bool)]
    return mine["window_start"].astype(float).tolist()


def pattern_name(key: tuple) -> str:
    """The file name stem of a cell's patterns: <dataset>_<architecture>_<hparams>."""
    return "_".join(key)


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _class_names(results, path: str) -> list[str] | None:
    rec = record.read(os.path.join(os.fspath(results), path))
    return None if rec is None else list(rec.data.get("class_names") or [])


def write_pattern_outputs(results, summary_dir, plots_dir, infos: dict | None = None, table=None) -> list[CellPatterns]:
    """summary/patterns/<cell>-ave.fif (with a README.md of what each holds) and
    plots/patterns/<cell>.{png,pdf}; the cells' patterns. infos: {data set: mne.Info}."""
    import mne

    windows = timecourse.collect_windows(results, read_runs_csv(Path(summary_dir) / "runs.csv"))
    rows, skipped = collect_patterns(results, windows)
    cells = cell_patterns(rows, skipped)
    tables, figures = _fresh(Path(summary_dir) / PATTERNS_DIR), _fresh(Path(plots_dir) / PATTERNS_DIR)
    lines = [f"# Activation patterns\n\n{METHOD[0].upper()}{METHOD[1:]}.\n"]
    for cell in cells:
        name = pattern_name(cell.key)
        first = rows.loc[(rows[KEYS] == pd.Series(cell.key, index=KEYS)).all(axis=1), "path"].iloc[0]
        found = evokeds(cell, (infos or {}).get(cell.key[0]), _class_names(results, first))
        mne.write_evokeds(tables / f"{name}-ave.fif", found, overwrite=True, verbose="error")
        shown, what = shown_windows(cell, significant_windows(table, cell.key))
        with plt.style.context(["default", STYLE]):
            save_figure(pattern_figure(cell, found, shown, what), figures / name)
        runs = f" ({cell.n_runs} runs)" if cell.observations != "runs" else ""
        lines.append(
            f"- `{name}-ave.fif`: {', '.join(e.comment for e in found)}; {len(cell.starts)} windows; mean over "
            f"{cell.n_observations} {cell.observations}{runs}; {cell.n_skipped} windowed runs skipped"
            " (no patterns.csv: trained before summary.patterns was set)"
        )
    unpatterned = {k: n for k, n in skipped.items() if k not in {c.key for c in cells}}
    lines += [f"- {pattern_name(k)}: no run with patterns ({n} windowed runs skipped)" for k, n in unpatterned.items()]
    write_text_atomic(tables / "README.md", "\n".join(lines) + "\n")
    log.info("activation patterns: %d cells, %d runs without patterns skipped", len(cells), sum(skipped.values()))
    return cells
