"""Warnings at planning for designs that run but cannot give what they seem to ask for:
subjects pooled by an ungrouped split, a time-course test that cannot reach significance with
its observations, options that have no effect in this sweep. Printed, never refused.
"""

from __future__ import annotations

import math

from . import registry
from .config import canonical_key
from .refusal import refusal


def smallest_cluster_p(observations: int, permutations: int) -> float:
    """The smallest p-value the one-sided sign-flip cluster test can give: MNE enumerates all
    2^n sign flips of n observations when that is at most `permutations` (p >= 1/2^n), else
    draws `permutations` of them, the observed one counted among them (p >= 1/permutations)."""
    if observations < 2:
        return 1.0
    return max(1.0 / 2**observations, 1.0 / permutations) if 2**observations > permutations else 1.0 / 2**observations


def _subject_files(dataset: dict) -> int:
    """Files an epochs pattern matches (a glob; planning has already checked them)."""
    from .data.epochs import pattern_files

    return len(pattern_files(dataset["path"]))


def _cells(runs: list) -> dict[str, list]:
    cells: dict[str, list] = {}
    for run in runs:
        cells.setdefault(run.cell, []).append(run)
    return cells


def pooled_subjects(runs: list, source: str) -> list[str]:
    """A `{subject}` pattern whose split mixes every subject's trials in training and test."""
    out = []
    for dataset, split in sorted({(run.dataset, run.config["split"]["method"]) for run in runs if _pools(run.config)}):
        problem = (
            f"data set {dataset!r}: its path names subjects ({{subject}}) but split.method {split}"
            " pools their trials, so a network is tested on trials of the subjects it trained on (and may learn"
            " the subject, not the condition)"
        )
        fix = (
            "split: {method: group_kfold, group: subject} or"
            " {method: leave_one_group_out, group: subject} (cross-subject), or split.within: subject (within-subject)"
        )
        out.append(refusal(source, problem, fix))
    return out


def _pools(config: dict) -> bool:
    dataset, split = config["dataset"], config["split"]
    grouped = registry.SPLIT_METHODS[split["method"]].grouped
    return dataset["source"] == "epochs" and "{subject}" in dataset["path"] and not grouped and not split.get("within")


def observations(runs: list, subject_files=_subject_files) -> tuple[int, str]:
    """How many observations the time-course test of a cell has, and what they are
    (timecourse.observations): subjects within or across subjects, else folds, else seeds."""
    first = runs[0].config
    if first["split"].get("within"):
        return len({run.subject for run in runs}), "subjects"
    if registry.SPLIT_METHODS[first["split"]["method"]].grouped and first["dataset"]["source"] == "epochs":
        return subject_files(first["dataset"]), "subjects"
    real = [run for run in runs if run.permutation is None]
    folds = {run.fold for run in real if run.fold is not None}
    return (len(folds), "folds") if folds else (len({run.seed for run in real}), "seeds")


def weak_timecourse(runs: list, summary: dict, source: str, subject_files=_subject_files) -> list[str]:
    """Windowed cells whose cluster test cannot give p below the significance alpha."""
    alpha = summary["significance"]["alpha"]
    permutations = summary["cluster_permutations"]
    out, seen = [], set()
    for cell, mine in _cells([run for run in runs if run.window is not None]).items():
        n, what = observations(mine, subject_files)
        p_min = smallest_cluster_p(n, permutations)
        if p_min < alpha or (mine[0].dataset, n, what) in seen:
            continue
        seen.add((mine[0].dataset, n, what))
        problem = (
            f"data set {mine[0].dataset!r} ({cell}): its time-course cluster test has {n} {what}"
            f" as observations, so its smallest attainable p is {p_min:.3g} (1/2^{n} sign flips, or"
            f" 1/summary.cluster_permutations), not below summary.significance.alpha {alpha}:"
            " no window can be significant"
        )
        fix = _more_observations(what, alpha) if 1 / 2**n >= alpha else "raise summary.cluster_permutations"
        out.append(refusal(source, problem, fix))
    return out


def _more_observations(what: str, alpha: float) -> str:
    if what == "subjects":
        return f"use data of more subjects (at least {math.floor(math.log2(1 / alpha)) + 1} for p < {alpha})"
    if what == "folds":
        return "raise split.folds, or decode across subjects (split: {method: leave_one_group_out, group: subject})"
    return "split into folds (split.method kfold or a grouped method) rather than a holdout"


def ineffective_options(sweep: dict, runs: list, source: str) -> list[str]:
    """Options set or swept in this sweep that change nothing: generalization without a
    windowed data set, momentum for an optimizer without it, cells that train identical runs."""
    out = []
    if sweep["summary"].get("generalization") and not any(run.window is not None for run in runs):
        problem = "true, but no data set has time windows, so no run is tested at other windows"
        fix = "give an epochs data set windows: {length, step}, or remove summary.generalization"
        out.append(refusal(source, problem, fix, key="summary.generalization"))
    if sweep["summary"].get("patterns") and not any(run.window is not None for run in runs):
        problem = "true, but no data set has time windows, so no run records an activation pattern"
        fix = "give an epochs data set windows: {length, step}, or remove summary.patterns"
        out.append(refusal(source, problem, fix, key="summary.patterns"))
    swept = {canonical_key(k) for k in sweep["grid"]} | {canonical_key(k) for group in sweep["zip"] for k in group}
    swept |= {canonical_key(k) for k in (sweep.get("search") or {}).get("space") or {}}
    unused = sorted(
        {run.config["training"]["optimizer"] for run in runs}
        - {name for name, opt in registry.OPTIMIZERS.items() if "momentum" in opt.uses}
    )
    momentum = "momentum" in swept and unused
    if momentum:
        problem = (
            f"the optimizer {', '.join(unused)} has no momentum, so its cells"
            " that differ only in momentum train identical runs"
        )
        fix = "sweep momentum with optimizer sgd or rmsprop, or remove it from the grid"
        out.append(refusal(source, problem, fix, key="grid.momentum"))
    cells_of: dict[str, set] = {}
    for run in runs:
        cells_of.setdefault(run.hash, set()).add(run.cell)
    same = sorted({tuple(sorted(cells)) for cells in cells_of.values() if len(cells) > 1})
    if same and not momentum:
        example = " and ".join(same[0][:2])
        problem = (
            f"{len(same)} group(s) of cells train identical runs (e.g. {example}): the values that"
            " tell them apart do not change a run (identity.py leaves them out)"
        )
        out.append(refusal(source, problem, "remove the values without effect from the grid"))
    return out


def warnings_of(sweep: dict, runs: list, source: str = "config", subject_files=_subject_files) -> list[str]:
    """Every design warning of a planned sweep, in a stable order."""
    return [
        *pooled_subjects(runs, source),
        *weak_timecourse(runs, sweep["summary"], source, subject_files),
        *ineffective_options(sweep, runs, source),
    ]
