"""A run's identity: what changes its numbers, and nothing else; stable across upgrades."""

import copy
import json
from pathlib import Path

import pytest

from conftest import tiny_config
from mlpsweep import identity
from mlpsweep.config import validate_config
from mlpsweep.grid import expand_runs

# Every default that a config may leave out. A run made with a key left out was made with this
# value; changing one here changes what finished runs' configs mean, so it must be deliberate:
# a changed default needs a new identity rule (keep the old value in the canonical form).
PINNED_DEFAULTS = {
    "architecture": {"activation": "relu", "dropout": 0.0, "l2": 0.0, "batch_norm": False},
    "training": {
        "optimizer": "sgd",
        "learning_rate": 0.01,
        "momentum": 0.0,
        "batch_size": 32,
        "epochs": 5,
        "eval_batch_size": 128,
        "class_weight": "none",
    },
    "early_stopping": {"patience": 0, "monitor": "val_loss", "min_delta": 0.0, "restore_best_weights": True},
    "split": {
        "method": "holdout",
        "folds": 5,
        "group": None,
        "within": None,
        "validation": 0.15,
        "test": 0.15,
        "seed": None,
    },
    "sources": {
        "synthetic": {
            "n_samples": 1000,
            "n_features": 20,
            "n_classes": 2,
            "separation": 1.5,
            "noise": 1.0,
            "seed": 0,
            "class_names": None,
        },
        "sklearn": {},
        "file": {
            "format": None,
            "label": None,
            "features": None,
            "drop": None,
            "sep": None,
            "x": "x",
            "y": "y",
            "class_names": None,
        },
        "epochs": {
            "conditions": None,
            "label": None,
            "picks": "eeg",
            "tmin": None,
            "tmax": None,
            "decim": 1,
            "windows": None,
        },
    },
}
RELEASE_01 = Path(__file__).parent / "data" / "release-0.1"


def one_run(**training):
    cfg = tiny_config(
        datasets={"g": {"source": "synthetic", "n_samples": 300}}, architectures={"a": {"hidden": [8]}}, seeds=[0]
    )
    cfg["training"] = {**cfg["training"], **training}
    return expand_runs(validate_config(cfg))[0].config


def test_defaults_are_pinned():
    assert identity.defaults() == PINNED_DEFAULTS


def test_canonical_form_leaves_out_defaults_names_and_paths():
    form = identity.canonical(one_run())
    assert form == {
        "dataset": {"source": "synthetic", "n_samples": 300},
        "architecture": {"hidden": [8]},
        "training": {"epochs": 2},
        "split": {},
        "seed": 0,
    }


@pytest.mark.parametrize(
    "a,b",
    [
        ({"optimizer": "adam", "momentum": 0.0}, {"optimizer": "adam", "momentum": 0.9}),  # Adam has no momentum
        (
            {"early_stopping": {"patience": 0, "monitor": "val_loss"}},
            {"early_stopping": {"patience": 0, "monitor": "val_accuracy", "min_delta": 0.5}},
        ),  # off
        ({"learning_rate": 1}, {"learning_rate": 1.0}),  # one number
    ],
)
def test_keys_that_cannot_change_the_run_leave_its_identity_alone(a, b):
    assert identity.run_hash(one_run(**a)) == identity.run_hash(one_run(**b))


@pytest.mark.parametrize(
    "change",
    [
        {"optimizer": "sgd", "momentum": 0.9},
        {"early_stopping": {"patience": 2}},
        {"class_weight": "balanced"},
        {"eval_batch_size": 64},
    ],
)
def test_keys_that_change_the_run_change_its_identity(change):
    assert identity.run_hash(one_run(**change)) != identity.run_hash(one_run())


def test_a_new_key_at_its_default_changes_no_identity():
    """A config stored before a key existed (here: before class_weight and split.method) has the
    identity of today's config with those keys at their defaults."""
    today = one_run()
    before = copy.deepcopy(today)
    del (
        before["training"]["class_weight"],
        before["split"]["method"],
        before["split"]["folds"],
        before["split"]["group"],
        before["fold"],
        before["permutation"],
    )
    assert identity.run_hash(before) == identity.run_hash(today)


def test_split_keys_count_only_for_the_methods_that_use_them():
    base = one_run()
    kfold = copy.deepcopy(base)
    kfold["split"].update(method="kfold", folds=5, test=0.3)
    kfold2 = copy.deepcopy(kfold)
    kfold2["split"]["test"] = 0.15
    assert identity.run_hash(kfold) == identity.run_hash(kfold2)  # no test share in cross-validation
    assert identity.run_hash(kfold) != identity.run_hash(base)
    fold3 = {**kfold, "fold": 3}
    assert identity.canonical(fold3)["fold"] == 3 and identity.run_hash(fold3) != identity.run_hash(kfold)


def test_file_identity_is_its_format_not_its_path():
    a = {**one_run(), "dataset": {"name": "eeg", "source": "file", "path": "data/eeg.csv", "label": "y"}}
    b = {**a, "dataset": {"name": "eeg", "source": "file", "path": "/scratch/me/eeg.csv", "label": "y"}}
    c = {**a, "dataset": {"name": "eeg", "source": "file", "path": "data/eeg.tsv", "label": "y"}}
    assert identity.run_hash(a) == identity.run_hash(b) != identity.run_hash(c)


def test_seeds_as_a_count_are_the_same_runs_as_the_list():
    cfg = tiny_config(datasets={"g": {"source": "synthetic", "n_samples": 300}}, architectures={"a": {"hidden": [8]}})
    counted = expand_runs(validate_config({**cfg, "seeds": 3}))
    listed = expand_runs(validate_config({**cfg, "seeds": [0, 1, 2]}))
    assert [(r.path, r.hash) for r in counted] == [(r.path, r.hash) for r in listed] and len(counted) == 3


def test_file_keys_drop_and_sep_count_only_where_they_change_the_rows():
    base = {**one_run(), "dataset": {"name": "eeg", "source": "file", "path": "data/eeg.csv", "label": "y"}}
    unset = {**base, "dataset": {**base["dataset"], "drop": None, "sep": None}}
    comma = {**base, "dataset": {**base["dataset"], "sep": ","}}
    semicolon = {**base, "dataset": {**base["dataset"], "sep": ";"}}
    dropped = {**base, "dataset": {**base["dataset"], "drop": ["trial"]}}
    assert identity.run_hash(base) == identity.run_hash(unset) == identity.run_hash(comma)
    assert len({identity.run_hash(base), identity.run_hash(semicolon), identity.run_hash(dropped)}) == 3


def test_runs_of_release_01_keep_their_identity():
    """Each stored config of release 0.1 (whole resolved configs, its defaults included) has the
    identity of the same run expanded today from the same sweep file."""
    import os

    cwd = os.getcwd()
    os.chdir(RELEASE_01)
    try:
        from mlpsweep.config import load_config

        runs = expand_runs(load_config("sweep.yaml"))
    finally:
        os.chdir(cwd)
    assert len(runs) == 8
    for run in runs:
        stored = json.loads((RELEASE_01 / "results" / run.path / "metrics.json").read_text())
        assert identity.run_hash(stored["config"]) == run.hash, run.path
        assert (
            stored["config_hash"] != run.hash
        )  # release 0.1 hashed its whole config: the old hash is not what is compared
