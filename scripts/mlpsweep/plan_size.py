"""The size of a sweep at planning: per data set and in all, its cells, runs, windows, packs,
jobs and files, and its device time and disk from the figures an estimate stored.

Pure: it counts the planned runs and jobs (grid.expand_runs, grid.plan_jobs) and reads no
run directory; the figures are estimate.figures() as kept in results/estimates/figures.json.
Label-permutation runs kept as compact records (`execution.keep`) count their files per pack
and cell (compact.py) and about 1 KB each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .compact import keeps_scores_only

# metrics.json, history.csv, model.keras, model.json, predictions.csv, train.log
FILES_PER_RUN = 6
# a compact record's row (compact.py): at most about 1 KB; its files are counted per pack and cell
COMPACT_BYTES_PER_RUN = 1000


@dataclass(frozen=True)
class Size:
    """What one data set (or the whole sweep, name 'total') will train and write."""

    name: str
    cells: int
    runs: int
    permutation_runs: int
    windows: int  # distinct window starts; 0 where the data set has no windows
    packs: int
    jobs: int
    files: int
    device_seconds: float | None  # None: no stored figure for some of its kinds
    megabytes: float | None

    @property
    def real_runs(self) -> int:
        return self.runs - self.permutation_runs


def read_figures(path: str | Path) -> dict:
    """The stored figures (estimate.figures), or none where no estimate has stored any."""
    try:
        found = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def compact_files(jobs: list, keep: dict | None) -> dict[str, int]:
    """Per data set, the files of its compact records (compact.py): one per pack and cell, and
    one names file per cell."""
    files: dict[str, set] = {}
    for job in jobs:
        for pack in job.packs:
            for run in pack:
                if keeps_scores_only(run, keep):
                    files.setdefault(run.dataset, set()).update({(id(pack), run.cell), ("names", run.cell)})
    return {name: len(found) for name, found in files.items()}


def _size(
    name: str, runs: list, packs: int, jobs: int, files_per_run: dict, kinds: dict, startup: float, compact: tuple
) -> Size:
    """`compact`: (the runs recorded compactly, their files)."""
    seconds = megabytes = 0.0
    scores_only, compact_files = compact
    for run in runs:
        figure = kinds.get(run.kind, {})
        if seconds is not None:
            per_epoch = figure.get("seconds_per_run_epoch")
            seconds = None if per_epoch is None else seconds + per_epoch * run.config["training"]["epochs"]
        if megabytes is not None:
            size = COMPACT_BYTES_PER_RUN if run.path in scores_only else figure.get("bytes_per_run")
            megabytes = None if size is None else megabytes + size / 1e6
    return Size(
        name=name,
        cells=len({run.cell for run in runs}),
        runs=len(runs),
        permutation_runs=sum(run.permutation is not None for run in runs),
        windows=len({run.window for run in runs if run.window is not None}),
        packs=packs,
        jobs=jobs,
        files=sum(files_per_run[run.dataset] for run in runs if run.path not in scores_only) + compact_files,
        device_seconds=None if seconds is None else seconds + startup * jobs,
        megabytes=megabytes,
    )


def sweep_size(
    runs: list, jobs: list, figures: dict | None = None, generalization: bool = False, keep: dict | None = None
) -> list[Size]:
    """One Size per data set, in the sweep's order, then the total. Device seconds include
    each job's start-up (in the total; per data set, the start-up of the jobs holding it).
    `keep`: execution.keep, whose label-permutation runs may be compact records (compact.py)."""
    scores_only = {run.path for run in runs if keeps_scores_only(run, keep)}
    compact = compact_files(jobs, keep)
    figures = figures or {}
    kinds = figures.get("kinds") or {}
    startup = float(figures.get("startup_seconds") or 0.0)
    by_dataset: dict[str, list] = {}
    for run in runs:
        by_dataset.setdefault(run.dataset, []).append(run)
    windowed = {name for name, mine in by_dataset.items() if any(run.window is not None for run in mine)}
    files_per_run = {name: FILES_PER_RUN + (generalization and name in windowed) for name in by_dataset}
    packs = {name: 0 for name in by_dataset}
    holding = {name: 0 for name in by_dataset}
    for job in jobs:
        names = set()
        for pack in job.packs:
            packs[pack[0].dataset] += 1
            names.add(pack[0].dataset)
        for name in names:
            holding[name] += 1
    sizes = [
        _size(
            name, mine, packs[name], holding[name], files_per_run, kinds, startup, (scores_only, compact.get(name, 0))
        )
        for name, mine in by_dataset.items()
    ]
    total = (scores_only, sum(compact.values()))
    sizes.append(_size("total", list(runs), sum(packs.values()), len(jobs), files_per_run, kinds, startup, total))
    return sizes


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def describe(size: Size) -> str:
    """One line: counts, then device-hours and disk where figures are known."""
    runs = _plural(size.runs, "run")
    if size.permutation_runs:
        runs += f" ({size.real_runs:,} + {size.permutation_runs:,} permutation)"
    windows = _plural(size.windows, "window") if size.windows else "no windows"
    parts = [
        _plural(size.cells, "cell"),
        runs,
        windows,
        _plural(size.packs, "pack"),
        _plural(size.jobs, "job"),
        _plural(size.files, "file"),
    ]
    if size.device_seconds is not None:
        parts.append(f"{size.device_seconds / 3600:.3g} device-hours")
    if size.megabytes is not None:
        parts.append(f"{size.megabytes:,.0f} MB" if size.megabytes >= 10 else f"{size.megabytes:.2g} MB")
    return f"{size.name}: " + ", ".join(parts)


def render(sizes: list[Size], figures_path: str) -> list[str]:
    """The lines planning prints: one per data set and the total, and where the time came from."""
    lines = [f"mlpsweep: sweep size, {describe(size)}" for size in sizes]
    total = sizes[-1]
    if total.device_seconds is None or total.megabytes is None:
        lines.append(
            "mlpsweep: sweep size: device-hours and MB are known once an estimate has measured every kind of run"
            f" ({figures_path}): `--config estimate=1` measures finished runs (training nothing),"
            " `--config estimate=calibrate` also trains one pack of each other kind for two epochs here"
        )
    else:
        lines.append(
            "mlpsweep: sweep size: device-hours and MB of all planned runs (finished ones included),"
            f" from the figures in {figures_path}"
        )
    return lines
