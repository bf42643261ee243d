"""Splits of a data set (holdout, k-fold, group k-fold, leave one group out), permutations of
training labels, standardization and class weights."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..refusal import refusal
from .dataset import Dataset, DataError


@dataclass(frozen=True)
class Rows:
    """The rows of a data set that form a run's training, validation and test parts: what its split,
    seed and fold decide, whatever its features (every time window of a data set has the same)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


@dataclass
class Splits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    test_index: np.ndarray | None = None  # rows of the data set that form the test part
    test_groups: np.ndarray | None = None  # their groups, where the data has groups
    mean: np.ndarray | None = None  # the standardization fitted on the training rows: x_std = (x - mean) / scale
    scale: np.ndarray | None = None
    feature_names: list[str] | None = None  # the data set's feature names, where it has them
    held_out: list[str] | None = None  # folds over groups within a subject: the test rows' groups (e.g. runs)
    rows: Rows | None = None  # the rows of the split data (a subject's, within subjects) each part took

    def permuted(self, y_train: np.ndarray, y_val: np.ndarray) -> Splits:
        """These splits with other training and validation labels (a permutation run's)."""
        return replace(self, y_train=y_train, y_val=y_val)

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def _classes_present(data: Dataset) -> np.ndarray:
    if len(data.y) == 0:
        raise DataError(refusal(data.where, "holds no samples", "add samples"))
    counts = np.bincount(data.y, minlength=len(data.class_names))
    if (counts > 0).sum() < 2:
        raise DataError(
            refusal(
                data.where,
                f"only one class ({data.class_names[int(np.argmax(counts))]!r}) in the labels",
                "a classifier needs at least two classes",
            )
        )
    return counts[counts > 0]


def _holdout(data: Dataset, validation: float, test: float, seed: int):
    """Stratified train/validation/test rows (as release 0.1 split them)."""
    from sklearn.model_selection import train_test_split

    present = _classes_present(data)
    n, n_classes = len(data.y), len(present)
    n_test = int(np.ceil(test * n))
    n_val = int(np.ceil(validation * (n - n_test)))
    smallest = int(present.min())
    if n_test < n_classes or n_val < n_classes or n - n_test - n_val < n_classes or smallest < 3:
        raise DataError(
            refusal(
                data.where,
                f"{n} samples in {n_classes} classes (smallest class {smallest}) are too few for a stratified split"
                f" with validation={validation} and test={test}",
                "use more samples (each class needs >= 3, and each split >= one per class)",
            )
        )
    rest, test_idx = train_test_split(np.arange(n), test_size=n_test, stratify=data.y, random_state=seed)
    train_idx, val_idx = train_test_split(rest, test_size=n_val, stratify=data.y[rest], random_state=seed)
    return train_idx, val_idx, test_idx


def _cross_validation_fold(data: Dataset, split: dict, seed: int, fold: int):
    """Training and test rows of one fold: stratified where the method allows, by group where given."""
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold, StratifiedKFold

    present = _classes_present(data)
    method, groups = split["method"], data.groups
    column = f"group column {split['group']!r}"
    if method == "kfold":
        if int(present.min()) < split["folds"]:
            raise DataError(
                refusal(
                    data.where,
                    f"the smallest class has {int(present.min())} rows, too few for {split['folds']} stratified folds",
                    "lower split.folds or add samples",
                )
            )
        splitter, args = StratifiedKFold(split["folds"], shuffle=True, random_state=seed), (data.x, data.y)
    else:
        n_groups = len(set(groups.tolist()))
        needed = split["folds"] if method == "group_kfold" else 2
        if n_groups < needed:
            raise DataError(
                refusal(
                    data.where,
                    f"{column} holds {n_groups} groups, fewer than the {needed}"
                    f" {'folds' if method == 'group_kfold' else 'a leave-one-group-out split needs'}",
                    "lower split.folds or use data with more groups",
                )
            )
        if method == "group_kfold":
            splitter, args = (
                StratifiedGroupKFold(split["folds"], shuffle=True, random_state=seed),
                (data.x, data.y, groups),
            )
        else:
            splitter, args = LeaveOneGroupOut(), (data.x, data.y, groups)
    for i, (train_idx, test_idx) in enumerate(splitter.split(*args)):
        if i == fold:
            return train_idx, test_idx
    raise DataError(
        refusal(
            data.where,
            f"has no fold {fold} (the data gives fewer folds than planned)",
            "run the sweep again so it plans the folds anew",
        )
    )


def _validation_rows(data: Dataset, train_idx: np.ndarray, validation: float, seed: int):
    """Cut the validation part from a fold's training rows: stratified, or whole groups."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    if data.groups is None:
        n_val = max(int(np.ceil(validation * len(train_idx))), len(np.unique(data.y[train_idx])))
        try:
            return train_test_split(train_idx, test_size=n_val, stratify=data.y[train_idx], random_state=seed)
        except ValueError as exc:
            raise DataError(
                refusal(
                    data.where,
                    f"a fold's training part is too small to cut a stratified validation part ({exc})",
                    "use fewer folds or more samples",
                )
            ) from None
    groups = data.groups[train_idx]
    if len(set(groups.tolist())) < 2:
        raise DataError(
            refusal(
                data.where,
                "a fold's training part holds one group, so no group is left for validation",
                "use data with more groups or fewer folds",
            )
        )
    keep, val = next(
        GroupShuffleSplit(n_splits=1, test_size=validation, random_state=seed).split(train_idx, groups=groups)
    )
    return train_idx[keep], train_idx[val]


def _permuted(y: np.ndarray, rows: np.ndarray, groups: np.ndarray | None, seed: int, permutation: int) -> np.ndarray:
    """Labels with those of `rows` shuffled among themselves (within each group, where given)."""
    rng = np.random.default_rng([int(seed), int(permutation), 0x7065726D])  # 'perm'
    y = y.copy()
    blocks = [rows] if groups is None else [rows[groups[rows] == g] for g in sorted(set(groups[rows].tolist()))]
    for block in blocks:
        y[block] = y[rng.permutation(block)]
    return y


def split_seed(split: dict, seed: int) -> int:
    """The seed a run's split is drawn with: `split.seed` if set (one split for every run
    seed), else the run's seed."""
    return seed if split.get("seed") is None else split["seed"]


def group_rows(data: Dataset, group: str) -> np.ndarray:
    """The rows of `data` in group `group` (split.within), refused where there are none."""
    if data.groups is None:
        raise DataError(
            refusal(
                data.where,
                f"has no group column, so no group {group!r} to decode within",
                "set split.within to the group column",
            )
        )
    rows = np.flatnonzero(data.groups == group)
    if len(rows) == 0:
        raise DataError(
            refusal(data.where, f"group {group!r} has no rows", "run the sweep again so it plans the groups anew")
        )
    return rows


def within_group(data: Dataset, group: str) -> tuple[Dataset, np.ndarray]:
    """(the rows of one group as a data set without groups, their rows in `data`): what a
    within-subject run (split.within) splits."""
    rows = group_rows(data, group)
    inner = None if data.split_groups is None else data.split_groups[rows]  # runs within the subject
    sub = Dataset(
        data.x[rows], data.y[rows], data.class_names, data.fingerprint, inner, f"{data.where}, group {group!r}"
    )
    return sub, rows


def split_rows(data: Dataset, split: dict, seed: int, fold: int | None = None, *, validation_by_group=True) -> Rows:
    """The rows of a run's three parts (`seed`: the run's; its split seed is used). They depend on
    the labels and groups alone, so the runs of every window of a data set share them."""
    seed = split_seed(split, seed)
    method = split.get("method", "holdout")
    if method == "holdout":
        return Rows(*_holdout(data, split["validation"], split["test"], seed))
    fit_idx, test_idx = _cross_validation_fold(data, split, seed, fold)
    by = data if validation_by_group else replace(data, groups=None)
    train_idx, val_idx = _validation_rows(by, fit_idx, split["validation"], seed)
    return Rows(train_idx, val_idx, test_idx)


def make_splits(
    data: Dataset,
    split: dict,
    seed: int,
    fold: int | None = None,
    permutation: int | None = None,
    *,
    group: str | None = None,
    validation_by_group: bool = True,
) -> Splits:
    """The training, validation and test parts of one run; standardization fitted on its
    training rows alone. A permutation run trains on labels shuffled within its training
    rows (and within groups), and is tested on the true labels. With `group` (split.within),
    the run splits that group's rows alone (its test rows keep their rows in `data`)."""
    base = standardized(data, split, seed, fold, group=group, validation_by_group=validation_by_group)
    return labelled(data, base, split, seed, fold, permutation, group=group)


def standardized(
    data: Dataset,
    split: dict,
    seed: int,
    fold: int | None = None,
    *,
    group: str | None = None,
    validation_by_group: bool = True,
    rows: Rows | None = None,
) -> Splits:
    """make_splits's parts with the true labels, unchecked: what every permutation of a run shares.
    `rows`: split_rows of this data (this group's), split, seed and fold where known (a job reuses
    them across windows)."""
    from sklearn.preprocessing import StandardScaler

    if group is not None:
        sub, at = within_group(data, group)
        # runs within the subject: test rows are whole runs, validation rows trials of the training runs
        out = standardized(sub, split, seed, fold, validation_by_group=False, rows=rows)
        if sub.groups is not None:
            out.held_out = sorted(set(sub.groups[out.test_index].tolist()))
        out.test_index = at[out.test_index]
        out.test_groups = np.array([group] * len(out.test_index), dtype=object)
        return out
    rows = rows or split_rows(data, split, seed, fold, validation_by_group=validation_by_group)
    scaler = StandardScaler().fit(data.x[rows.train])

    def scale(idx):
        return scaler.transform(data.x[idx]).astype(np.float32)

    return Splits(
        scale(rows.train),
        data.y[rows.train],
        scale(rows.val),
        data.y[rows.val],
        scale(rows.test),
        data.y[rows.test],
        data.class_names,
        rows.test,
        None if data.groups is None else data.groups[rows.test],
        scaler.mean_,
        scaler.scale_,
        data.feature_names,
        rows=rows,
    )


def labelled(
    data: Dataset,
    base: Splits,
    split: dict,
    seed: int,
    fold: int | None,
    permutation: int | None,
    *,
    group: str | None = None,
    rows_of_group: np.ndarray | None = None,
) -> Splits:
    """A run's splits from `base` (standardized of the same data, group, seed and fold): its
    training and validation labels shuffled among themselves (within groups, where the split data
    has them) for a permutation run; refused where the training part lacks a class."""
    where, y, groups = data.where, data.y, data.groups
    if group is not None:
        at = group_rows(data, group) if rows_of_group is None else rows_of_group
        where, y = f"{data.where}, group {group!r}", data.y[at]
        groups = None if data.split_groups is None else data.split_groups[at]
    train_idx = base.rows.train
    out, labels = base, y
    if permutation is not None:
        labels = _permuted(y, np.concatenate([train_idx, base.rows.val]), groups, split_seed(split, seed), permutation)
        out = base.permuted(labels[train_idx], labels[base.rows.val])
    missing = sorted(
        set(range(len(data.class_names)))
        - set(labels[train_idx].tolist())
        - set(np.flatnonzero(np.bincount(y, minlength=len(data.class_names)) == 0).tolist())
    )
    if missing:
        names = ", ".join(repr(data.class_names[c]) for c in missing)
        raise DataError(
            refusal(
                where,
                f"the training part of fold {fold} has no row of class {names} (its groups hold other classes only)",
                "use fewer folds, or data where each group holds every class",
            )
        )
    return out


def class_weights(y_train: np.ndarray, n_classes: int, mode: str) -> np.ndarray | None:
    """Per-class loss weights from the training rows (scikit-learn's 'balanced'), or None."""
    if mode == "none":
        return None
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(y_train)
    weights = np.ones(n_classes, np.float32)
    weights[present] = compute_class_weight(mode, classes=present, y=y_train)
    return weights


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype=np.float32)[y]
