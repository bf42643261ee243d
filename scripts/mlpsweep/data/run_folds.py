"""Folds over recording runs (or sessions, blocks) within subjects: `split: {method:
leave_one_group_out | group_kfold, group: run, within: subject}`.

Each subject's trials are split by a second group column, a column of epochs.metadata (or of
a table file), so that each subject's runs are left out in turn and no run's trials are on
both sides (trials of one run share drifts, impedances and the participant's state). The
validation rows are cut from the training runs' trials (stratified), the test rows are whole
runs. Planning checks each subject's groups (`plan_folds`); loading gives every trial its
group (`trial_groups`).
"""

from __future__ import annotations

import numpy as np

from ..config import ConfigError
from ..refusal import refusal


def applies(split: dict) -> bool:
    """Whether a split leaves out groups within subjects (split.within with a grouped method)."""
    return bool(split.get("within")) and split["method"] in ("leave_one_group_out", "group_kfold")


def epochs_groups(spec: dict, column: str) -> dict:
    """{subject: (file, each kept trial's group, its label)} from the files' headers (no data)."""
    from .epochs import pattern_files, read_header, trial_labels

    out = {}
    for subject, name in pattern_files(spec["path"]):
        header = read_header(name)
        keep, labels = trial_labels(header.codes, header.event_id, header.metadata, spec, name)
        metadata = header.metadata
        if metadata is None or column not in metadata:
            columns = [] if metadata is None else [str(c) for c in metadata.columns]
            raise ValueError(name, f"has no metadata column {column!r} (columns: {', '.join(columns) or 'none'})")
        out[subject] = (name, metadata[column].to_numpy()[keep].astype(str), np.asarray(labels).astype(str))
    return out


def table_groups(spec: dict, within: str, column: str) -> dict:
    """{subject: (file, each row's group, its label)} of a table file's columns."""
    from .files import column_values

    subjects, groups = column_values(spec, within), column_values(spec, column)
    labels = column_values(spec, spec["label"] or "label")
    return {s: (spec["path"], groups[subjects == s], labels[subjects == s]) for s in sorted(set(subjects.tolist()))}


def check(found: dict, split: dict, source: str) -> int:
    """The number of folds of each subject, after refusing (file, key, fix): a group column
    constant within a subject, fewer groups than folds, a held-out group with one condition
    only, and (leave_one_group_out) subjects with different numbers of groups."""
    column, method = split["group"], split["method"]
    counts = {}
    for subject, (name, groups, labels) in found.items():
        values = sorted(set(groups.tolist()))
        if len(values) < 2:
            problem = (
                f"column {column!r} is constant within subject {subject!r}"
                f" ({name}: {values[0] if values else 'no trials'!r})"
            )
            raise ConfigError(
                refusal(
                    source,
                    problem,
                    "name a column that tells the subject's runs (or sessions) apart",
                    key="split.group",
                )
            )
        need = split["folds"] if method == "group_kfold" else 2
        if len(values) < need:
            problem = (
                f"subject {subject!r} ({name}) has {len(values)} groups in column {column!r}, fewer than {need} folds"
            )
            raise ConfigError(
                refusal(source, problem, "lower split.folds, or use leave_one_group_out", key="split.folds")
            )
        for value in values:
            held = set(labels[groups == value].tolist())
            if len(held) < 2:
                problem = (
                    f"group {value!r} of subject {subject!r} ({name}) holds one condition only"
                    f" ({next(iter(held))!r}); left out, it cannot be scored"
                )
                fix = "merge it with another run in that column, or remove its trials"
                raise ConfigError(refusal(source, problem, fix, key="split.group"))
        counts[subject] = len(values)
    if method == "group_kfold":
        return split["folds"]
    if len(set(counts.values())) > 1:
        fewest = min(counts, key=counts.get)
        problem = (
            f"subjects have different numbers of groups in column {column!r}"
            f" ({fewest!r}: {counts[fewest]}, others up to {max(counts.values())})"
        )
        fix = f"use method group_kfold with folds: {counts[fewest]} (or at most that)"
        raise ConfigError(refusal(source, problem, fix, key="split.method"))
    return next(iter(counts.values()))


def plan_folds(dataset: dict, split: dict, source: str = "config") -> int:
    """Each subject's folds (the same for all), checked against the data's groups."""
    return plan_groups(dataset, split, source)[0]


def plan_groups(dataset: dict, split: dict, source: str = "config") -> tuple[int, dict]:
    """(each subject's folds, {subject: (file, each trial's group, its label)}), checked."""
    try:
        if dataset["source"] == "epochs":
            found = epochs_groups(dataset, split["group"])
        else:
            found = table_groups(dataset, split["within"], split["group"])
    except ValueError as exc:
        name, problem = exc.args if len(exc.args) == 2 else (dataset.get("path"), str(exc))
        raise ConfigError(
            refusal(f"{source}: {name}", problem, "name a column of every file's epochs.metadata", key="split.group")
        ) from None
    return check(found, split, source), found


def held_out_by_fold(groups: np.ndarray, labels: np.ndarray, split: dict, seed: int) -> list[list[str]]:
    """Each fold's held-out groups of one subject, as the job's splitter (data/splits.py) assigns
    them: LeaveOneGroupOut over the sorted groups, or StratifiedGroupKFold drawn with the split's seed."""
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

    from .splits import split_seed

    groups = np.asarray(groups).astype(object)
    if split["method"] == "group_kfold":
        splitter = StratifiedGroupKFold(split["folds"], shuffle=True, random_state=split_seed(split, seed))
    else:
        splitter = LeaveOneGroupOut()
    folds = splitter.split(np.zeros(len(groups)), np.asarray(labels), groups)
    return [sorted(set(groups[test].tolist())) for _, test in folds]


def trial_groups(spec: dict, within: str, column: str) -> np.ndarray:
    """Every trial's group in the order a data set's loader reads them (files in pattern order)."""
    found = epochs_groups(spec, column) if spec["source"] == "epochs" else None
    if found is not None:
        return np.concatenate([groups for _, groups, _ in found.values()]).astype(object)
    from .files import column_values

    return column_values(spec, column).astype(object)
