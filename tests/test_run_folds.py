"""Folds over recording runs within subjects (split: {method: leave_one_group_out | group_kfold,
group: run, within: subject}): each subject's runs left out in turn, no run's trials on both
sides, the held-out run recorded; refusals at planning name the file, key and fix."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from conftest import tiny_config
from make_demo import PATTERN, make_demo
from mlpsweep import identity
from mlpsweep.config import ConfigError, validate_config
from mlpsweep.grid import expand_runs
from mlpsweep.training import DataCache

SPLIT = {"method": "leave_one_group_out", "group": "run", "within": "subject"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    make_demo(root, subjects=2, runs=3, trials_per_run=12, deviant_share=0.25)
    return root


def config(root, split=None, **dataset):
    entry = {
        "source": "epochs",
        "path": str(root / PATTERN),
        "conditions": ["standard", "deviant"],
        "decim": 5,
        **dataset,
    }
    return tiny_config(
        datasets={"odd": entry}, architectures={"a": {"hidden": [4]}}, seeds=[0], split={**SPLIT, **(split or {})}
    )


def plan(cfg):
    return expand_runs(validate_config(copy.deepcopy(cfg)))


def test_each_subjects_runs_are_left_out_in_turn_and_never_on_both_sides(demo):
    runs = plan(config(demo))
    assert sorted((r.subject, r.fold) for r in runs) == [(s, f) for s in ("01", "02") for f in range(3)]
    assert runs[0].path.endswith("sub-01_seed0_fold0_out-1")
    cache = DataCache()
    data = cache.dataset(runs[0].config)
    assert data.split_groups is not None and len(data.split_groups) == len(data.y) == 2 * 36
    held = {}
    for run in runs:
        s, _ = cache.splits(run.config)
        subject_rows = np.flatnonzero(data.groups == run.subject)
        test_runs = set(data.split_groups[s.test_index].tolist())
        assert len(test_runs) == 1 and set(s.test_index) <= set(subject_rows)
        train_and_val = len(subject_rows) - len(s.test_index)
        assert len(s.y_train) + len(s.y_val) == train_and_val == 24  # the other two runs' trials, all of them
        others = np.setdiff1d(subject_rows, s.test_index)
        assert test_runs.isdisjoint(data.split_groups[others].tolist())
        assert s.held_out == sorted(test_runs)
        held.setdefault(run.subject, []).append(s.held_out[0])
    assert held == {"01": ["1", "2", "3"], "02": ["1", "2", "3"]}


def test_metrics_json_names_the_held_out_run_and_export_adds_auc_to_earlier_runs(demo, tmp_path, monkeypatch):
    import json

    from mlpsweep.training import train_runs

    run = [r for r in plan(config(demo)) if r.fold == 1][0]
    train_runs([run], tmp_path, DataCache())
    data = json.loads((tmp_path / run.path / "metrics.json").read_text())["data"]
    assert data["held_out"] == ["2"] and data["protocol"] == "within-subject" and data["n_test"] == 12

    # a run recorded before ROC AUC (no test_roc_auc, no p_<class>) gets both from its saved model
    from mlpsweep import export

    path = tmp_path / run.path / "metrics.json"
    stored = json.loads(path.read_text())
    expected = {k: stored["metrics"].pop(k) for k in ("test_roc_auc", "val_roc_auc")}
    path.write_text(json.dumps(stored))
    predictions = tmp_path / run.path / "predictions.csv"
    predictions.write_text(
        "\n".join(",".join(line.split(",")[:4]) for line in predictions.read_text().splitlines()) + "\n"
    )
    monkeypatch.chdir(demo)
    assert export.upgrade_results(tmp_path) == {run.path: "upgraded"}
    metrics = json.loads(path.read_text())["metrics"]
    assert metrics["test_roc_auc"] == pytest.approx(expected["test_roc_auc"], abs=1e-6)
    assert metrics["val_roc_auc"] == pytest.approx(expected["val_roc_auc"], abs=1e-6)
    assert predictions.read_text().splitlines()[0] == "row,group,true,predicted,p_standard,p_deviant"
    assert export.upgrade_results(tmp_path) == {run.path: "complete"}


def test_group_kfold_over_runs_and_existing_identities_unchanged(demo):
    runs = plan(config(demo, {"method": "group_kfold", "folds": 3}))
    assert len(runs) == 6
    within = config(demo, {"method": "kfold", "folds": 3, "group": None})
    before = {r.path: r.hash for r in plan(within)}
    assert all(identity.run_hash(r.config) == h for r in plan(within) for h in [before[r.path]])


@pytest.mark.parametrize(
    "split, message",
    [
        ({"group": "block"}, "has no metadata column 'block'"),
        ({"group": "response"}, None),  # a column that varies: plans
        ({"method": "group_kfold", "folds": 4}, "has 3 groups in column 'run', fewer than 4 folds"),
    ],
)
def test_refusals_name_file_key_and_fix(demo, split, message):
    if message is None:
        assert plan(config(demo, split))
        return
    with pytest.raises(ConfigError) as err:
        plan(config(demo, split))
    text = str(err.value)
    assert message in text and "split." in text and "Fix: " in text


def test_constant_column_and_one_condition_runs_are_refused(tmp_path):
    make_demo(tmp_path / "one", subjects=1, runs=1, trials_per_run=12, deviant_share=0.25)
    with pytest.raises(ConfigError, match="constant within subject '01'.*Fix: "):
        plan(config(tmp_path / "one"))
    write_epochs(
        tmp_path / "few", runs=[1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3], codes=[1, 2, 3, 3, 1, 3, 2, 4, 1, 2, 1, 2]
    )
    with pytest.raises(ConfigError, match="group '3' of subject '01' .* holds one condition only .*Fix: "):
        plan(config(tmp_path / "few"))


def write_epochs(root, runs, codes):
    """One subject's epochs file with the demo's layout: these runs and event codes (1, 2 standard, 3, 4 deviant)."""
    import mne
    import pandas as pd

    from make_demo import EVENT_ID

    info = mne.create_info(["Cz", "Pz"], 100.0, "eeg")
    events = np.c_[np.arange(len(codes)) * 100, np.zeros(len(codes), int), codes]
    x = np.random.default_rng(0).normal(size=(len(codes), 2, 21)) * 1e-6
    epochs = mne.EpochsArray(
        x, info, events=events, tmin=-0.1, event_id=EVENT_ID, metadata=pd.DataFrame({"run": runs}), verbose="error"
    )
    path = root / PATTERN.format(subject="01")
    path.parent.mkdir(parents=True, exist_ok=True)
    epochs.save(path, fmt="single", overwrite=True, verbose="error")


def test_run_paths_name_the_held_out_run_that_metrics_json_records(demo, tmp_path):
    import json

    from mlpsweep import rundir
    from mlpsweep.tables.runs import read_run
    from mlpsweep.training import train_runs

    logo = plan(config(demo))
    assert [r.path.rsplit("/", 1)[1] for r in logo[:3]] == [f"sub-01_seed0_fold{f}_out-{f + 1}" for f in range(3)]
    cfg = config(demo, {"method": "group_kfold", "folds": 2})
    cfg["seeds"] = [0, 1]
    runs = plan(cfg)
    assert len(runs) == 8 and all("_out-" in r.path for r in runs)
    train_runs(runs, tmp_path, DataCache())
    for run in runs:
        held = json.loads((tmp_path / run.path / "metrics.json").read_text())["data"]["held_out"]
        assert rundir.parse(run.path)["held_out"] == "+".join(held), run.path
        assert rundir.parse(run.path)["fold"] == run.fold and run.hash == identity.run_hash(run.config)
        assert "held_out" not in read_run(tmp_path, run.path)  # runs.csv keeps its columns
    assert {len(json.loads((tmp_path / r.path / "metrics.json").read_text())["data"]["held_out"]) for r in runs} >= {2}
