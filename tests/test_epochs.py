"""source: epochs (MNE -epo.fif files), time windows as a sweep dimension, within-subject
decoding: the loader, planning from file headers, run identities and paths, bad inputs, and
one real workflow (leave one subject out over windows, then one window added)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import run_snakemake, write_config
from epochs_data import CHANNELS, EFFECT, PATTERN, make_epochs
from mlpsweep import identity, rundir
from mlpsweep.config import ConfigError, validate_config
from mlpsweep.data import load_dataset, make_splits
from mlpsweep.data import DataError
from mlpsweep.data.epochs import plan, read_features, window_dataset, window_features, window_starts
from mlpsweep.grid import expand_runs, leaf_name, pack_kind, plan_jobs


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("epochs")
    make_epochs(folder)
    return folder


def entry(folder, **keys) -> dict:
    return {"source": "epochs", "path": str(folder / PATTERN), **keys}


def sweep(folder, split=None, seeds=(0,), **keys) -> dict:
    cfg = {
        "datasets": {"odd": entry(folder, **keys)},
        "architectures": {"a": {"hidden": [8]}},
        "seeds": list(seeds),
        "training": {"epochs": 2},
    }
    if split:
        cfg["split"] = split
    return validate_config(cfg)


def spec_of(folder, **keys) -> dict:
    return {**sweep(folder, **keys)["datasets"]["odd"], "name": "odd"}


# ---------------------------------------------------------------- loading


def test_loader_picks_crops_decimates_and_labels_by_condition_tags(folder):
    data = load_dataset(spec_of(folder, conditions=["standard", "deviant"], tmin=0.0, tmax=0.5, decim=2), "subject")
    assert data.class_names == ["standard", "deviant"]  # the '/' tags select standard/left and standard/right, ...
    assert data.x.shape == (3 * 48, 3 * 26)  # EEG channels (the EOG is not picked) x samples 0.00, 0.02, ..., 0.50
    assert np.bincount(data.y).tolist() == [72, 72]
    assert sorted(set(data.groups)) == ["01", "02", "03"] and list(data.groups[:48]) == ["01"] * 48
    assert data.feature_names[:2] == ["Fz@0.000", "Fz@0.020"] and data.feature_names[26] == "Cz@0.000"  # channel-major
    effect = [i for i, n in enumerate(data.feature_names) if EFFECT[0] <= float(n.split("@")[1]) < EFFECT[1]]
    gap = data.x[data.y == 1][:, effect].mean() - data.x[data.y == 0][:, effect].mean()
    assert gap > 1e-6  # the deviants' effect sits where the feature names say


def test_loader_picks_channel_names_and_labels_by_metadata(folder):
    data = load_dataset(spec_of(folder, picks=["Cz", "EOG"], label={"metadata": "response"}, conditions=["deviant"]))
    assert data.class_names == ["left", "right"] and data.groups is None
    assert data.x.shape == (3 * 24, 2 * 81) and data.feature_names[81] == "EOG@-0.200"


def test_fingerprint_covers_every_file(tmp_path, folder):
    shutil.copytree(folder, tmp_path / "d")
    before = load_dataset(spec_of(tmp_path / "d"))
    make_epochs(tmp_path / "d", subjects=("03",), seed=7)  # one subject's file changes
    after = load_dataset(spec_of(tmp_path / "d"))
    assert before.fingerprint != after.fingerprint
    assert (
        before.group_fingerprints["01"] == after.group_fingerprints["01"]
        and before.group_fingerprints["03"] != after.group_fingerprints["03"]
    )


def test_windows_are_slices_of_the_crop_and_do_not_depend_on_it(folder):
    spec = spec_of(folder, tmin=-0.1, tmax=0.5, windows={"length": 0.1, "step": 0.05})
    data = load_dataset(spec)
    starts = window_starts(data)
    assert (
        starts
        == [round(-0.1 + 0.05 * k, 6) + 0.0 for k in range(11)]
        == list(plan(spec, {"method": "holdout"}).windows)
    )
    x = window_features(data, 0.2, 0.1)
    assert x.shape == (144, 3 * 10)
    np.testing.assert_array_equal(
        x[:, :10], data.epochs.trials[:, 0, 30:40]
    )  # Fz at 0.20 ... 0.29 (crop starts at -0.10)
    wider = load_dataset(spec_of(folder, tmin=-0.2, windows={"length": 0.1, "step": 0.05}))
    np.testing.assert_array_equal(window_features(wider, 0.2, 0.1), x)
    between = spec_of(folder, tmin=-0.195, windows={"length": 0.1, "step": 0.05})  # a tmin between samples
    assert (
        window_starts(load_dataset(between))[:2]
        == [-0.195, -0.145]
        == list(plan(between, {"method": "holdout"}).windows[:2])
    )


def test_new_trials_for_a_window_model_are_read_by_feature_name(folder, tmp_path):
    """scripts/predict.py on epochs: the model's window is found in a whole new epochs file."""
    spec = spec_of(folder, tmin=-0.1, tmax=0.5, windows={"length": 0.1, "step": 0.05})
    names = window_dataset(load_dataset(spec), 0.2).feature_names
    new = make_epochs(tmp_path / "new", subjects=("09",), seed=3)[0]
    x = read_features(spec, str(new), names, len(names))
    np.testing.assert_array_equal(x, window_dataset(load_dataset({**spec, "path": str(new)}), 0.2).x)
    other = make_epochs(tmp_path / "other", subjects=("09",), channels=["Oz", "Cz", "Pz", "EOG"])[0]
    with pytest.raises(
        DataError, match=r"channel 'Fz' of the model missing .* Fix: give epochs with the data set's channels"
    ):
        read_features(spec, str(other), names, len(names))
    slow = make_epochs(tmp_path / "slow", subjects=("09",), sfreq=50.0)[0]
    with pytest.raises(
        DataError,
        match=r"samples 'Fz@0.210'.* are not in the file .* at 50 Hz\). Fix: give epochs with the data set's sampling rate",
    ):
        read_features(spec, str(slow), names, len(names))
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"not an MNE epochs file .*Fix: give an MNE epochs file"):
        read_features(spec, str(tmp_path / "rows.csv"), names, len(names))


# ---------------------------------------------------------------- planning, identity, paths


@pytest.mark.parametrize(
    "leaf,subject,window",
    [
        ("seed0", None, None),
        ("seed0_fold3_perm2", None, None),
        ("sub-01_seed0_fold2", "01", None),
        ("seed1_fold0_t+0.250", None, 0.25),
        ("sub-A7_seed2_fold1_perm3_t-0.100", "A7", -0.1),
    ],
)
def test_leaf_names_parse_back(leaf, subject, window):
    found = rundir.parse(f"runs/d/a/default/{leaf}")
    assert (found["subject"], found["window"]) == (subject, window)
    assert (
        leaf_name(found["seed"], found["fold"], found["permutation"], subject=found["subject"], window=found["window"])
        == leaf
    )


def test_windows_multiply_runs_share_one_pack_kind_and_identities_survive_added_windows(folder):
    split = {"method": "leave_one_group_out", "group": "subject"}
    runs = expand_runs(sweep(folder, split, seeds=(0, 1), tmin=0.0, tmax=0.4, windows={"length": 0.2, "step": 0.1}))
    assert len(runs) == 3 * 2 * 3  # windows 0.0, 0.1, 0.2 x seeds x subjects left out
    assert runs[0].path == "runs/odd/a/default/seed0_fold0_t+0.000" and runs[2].window == 0.2
    assert len({r.kind for r in runs}) == 1 == len({pack_kind(r.config) for r in runs})
    assert [len(p) for job in plan_jobs(runs, 100, 16) for p in job.packs] == [
        16,
        2,
    ]  # windows, folds and seeds of one shape pack together
    assert all(r.hash == identity.run_hash(r.config) for r in runs)  # the cell's fast hasher agrees
    more = expand_runs(sweep(folder, split, seeds=(0, 1, 2), tmin=0.0, tmax=0.6, windows={"length": 0.2, "step": 0.1}))
    assert len(more) == 5 * 3 * 3 and {r.path: r.hash for r in runs}.items() <= {r.path: r.hash for r in more}.items()
    other = expand_runs(sweep(folder, split, tmin=0.0, tmax=0.4, windows={"length": 0.1, "step": 0.1}))
    assert other[0].kind != runs[0].kind  # another length: another shape


def test_a_sweep_without_windows_keeps_its_identities():
    cfg = {
        "datasets": {"g": {"source": "synthetic", "n_samples": 60}},
        "architectures": {"a": {"hidden": [4]}},
        "seeds": [0],
        "split": {"method": "kfold", "folds": 3},
    }
    run = expand_runs(validate_config(cfg))[0]
    assert "window" not in run.config and "subject" not in run.config and run.path.endswith("/seed0_fold0")
    assert identity.canonical(run.config) == {
        "dataset": {"source": "synthetic", "n_samples": 60},
        "architecture": {"hidden": [4]},
        "training": {},
        "split": {"method": "kfold", "folds": 3},
        "seed": 0,
        "fold": 0,
    }


def test_within_subject_runs_split_each_subjects_trials(folder, tmp_path):
    split = {"method": "kfold", "folds": 4, "within": "subject"}
    runs = expand_runs(sweep(folder, split, conditions=["standard", "deviant"], windows={"length": 0.4, "step": 0.4}))
    assert len(runs) == 3 * 4 * 2 and runs[0].path == "runs/odd/a/default/sub-01_seed0_fold0_t-0.200"
    assert runs[-1].path == "runs/odd/a/default/sub-03_seed0_fold3_t+0.200" and runs[-1].subject == "03"
    assert all(r.hash == identity.run_hash(r.config) for r in runs)
    data = load_dataset(runs[0].config["dataset"], "subject")
    tests = [make_splits(data, runs[0].config["split"], 0, fold, group="02") for fold in range(4)]
    rows = np.concatenate([s.test_index for s in tests])
    assert sorted(rows.tolist()) == list(range(48, 96))  # subject 02's trials, each tested once
    assert all(np.bincount(s.y_test).tolist() == [6, 6] for s in tests) and set(tests[0].test_groups) == {
        "02"
    }  # stratified

    # a table's group column works too
    import pandas as pd

    table = pd.DataFrame(
        {"f1": np.arange(40.0), "f2": np.arange(40.0) % 3, "label": [0, 1] * 20, "subj": ["a1"] * 20 + ["b2"] * 20}
    )
    table.to_csv(tmp_path / "t.csv", index=False)
    cfg = {
        "datasets": {"t": {"source": "file", "path": str(tmp_path / "t.csv"), "label": "label"}},
        "architectures": {"a": {"hidden": [4]}},
        "seeds": [0],
        "split": {**split, "within": "subj"},
    }
    paths = [r.path for r in expand_runs(validate_config(cfg))]
    assert (
        paths[:2] == ["runs/t/a/default/sub-a1_seed0_fold0", "runs/t/a/default/sub-a1_seed0_fold1"] and len(paths) == 8
    )


def test_a_within_subject_run_records_its_subject_and_protocol(folder, tmp_path):
    from mlpsweep.training import DataCache, train_runs

    split = {"method": "kfold", "folds": 4, "within": "subject"}
    runs = [
        r
        for r in expand_runs(sweep(folder, split, conditions=["standard", "deviant"], tmin=0.2, tmax=0.4))
        if r.subject == "02"
    ][:2]
    assert train_runs(runs, tmp_path, DataCache()) == {r.path: "finished" for r in runs}
    record = json.loads((tmp_path / runs[1].path / rundir.METRICS_FILE).read_text())
    assert (
        record["run"]["subject"] == "02"
        and record["run"]["window"] is None
        and runs[1].path.endswith("/sub-02_seed0_fold1")
    )
    assert (
        record["data"]["protocol"] == "within-subject"
        and "window" not in record["data"]
        and record["data"]["n_test"] == 12
    )
    assert list(record["metrics"]["test_by_group"]) == ["02"]
    rows = [
        int(line.split(",")[0])
        for line in (tmp_path / runs[1].path / rundir.PREDICTIONS_FILE).read_text().splitlines()[1:]
    ]
    assert len(rows) == 12 and all(48 <= r < 96 for r in rows)  # subject 02's trials, by their rows in the data set


def test_adding_a_subject_keeps_the_others_within_subject_runs(folder, tmp_path):
    (tmp_path / "d").mkdir()
    for subject in ("01", "02"):
        shutil.copy(folder / PATTERN.format(subject=subject), tmp_path / "d")
    split = {"method": "kfold", "folds": 3, "within": "subject"}
    before = {r.path: r.hash for r in expand_runs(sweep(tmp_path / "d", split, windows={"length": 0.4, "step": 0.4}))}
    first = load_dataset(spec_of(tmp_path / "d"), "subject").group_fingerprints
    shutil.copy(folder / PATTERN.format(subject="03"), tmp_path / "d")
    after = {r.path: r.hash for r in expand_runs(sweep(tmp_path / "d", split, windows={"length": 0.4, "step": 0.4}))}
    assert before.items() <= after.items() and len(after) == len(before) * 3 // 2
    assert (
        load_dataset(spec_of(tmp_path / "d"), "subject").group_fingerprints.items() >= first.items()
    )  # each subject's runs keep their data fingerprint


# ---------------------------------------------------------------- bad inputs, refused when planning


def _refused(cfg_or_folder, match, split=None, **keys):
    with pytest.raises(ConfigError, match=match):
        expand_runs(sweep(cfg_or_folder, split, **keys))


def test_no_file_matching_the_pattern_is_refused(tmp_path):
    _refused(tmp_path, r"key 'datasets.odd.path': no file matches the pattern .*Fix: check the path")


def test_a_file_that_is_no_epochs_file_is_refused(tmp_path, folder):
    shutil.copytree(folder, tmp_path / "d")
    (tmp_path / "d" / PATTERN.format(subject="04")).write_text("not fif")
    _refused(
        tmp_path / "d", r"sub-04_task-odd_epo.fif: not an MNE epochs file .*Fix: point the path at MNE epochs files"
    )


def test_files_that_differ_in_channels_or_rate_are_refused(tmp_path):
    make_epochs(tmp_path / "c", subjects=("01", "02"))
    make_epochs(tmp_path / "c", subjects=("03",), channels=["Fz", "C3", "Pz", "EOG"])
    _refused(
        tmp_path / "c",
        r"sub-03_task-odd_epo.fif differs in its picked channels from .*sub-01_task-odd_epo.fif: channel 2 is 'C3' there, 'Cz'.*Fix: pick the same channels",
    )
    make_epochs(tmp_path / "r", subjects=("01",))
    make_epochs(tmp_path / "r", subjects=("02",), sfreq=50.0)
    _refused(
        tmp_path / "r",
        r"sub-02_task-odd_epo.fif is sampled at 50 Hz, .*sub-01_task-odd_epo.fif at 100 Hz. Fix: resample",
    )


@pytest.mark.parametrize(
    "keys,match",
    [
        (
            {"conditions": ["standard", "oddball"]},
            r"key 'datasets.odd.conditions': condition 'oddball' is not in the event_id of any of the 3 files \(e.g. .*sub-03_task-odd_epo.fif\) \(events: deviant/left, deviant/right, standard/left, standard/right\). Fix: use event names",
        ),
        (
            {"label": {"metadata": "answer"}},
            r"key 'datasets.odd.label': metadata column 'answer' is not in .*\(columns: response, rt\). Fix: name an existing metadata column",
        ),
        (
            {"tmin": -0.5},
            r"key 'datasets.odd.tmin': -0.5 s is outside the epochs of .*sub-01_task-odd_epo.fif \(-0.200 to \+0.600 s\). Fix",
        ),
        ({"tmax": 0.9}, r"key 'datasets.odd.tmax': 0.9 s is outside the epochs"),
        ({"picks": ["Cz", "Oz"]}, r"key 'datasets.odd.picks': 'Oz' is neither a channel nor a channel type"),
        (
            {"tmin": 0.0, "tmax": 0.2, "windows": {"length": 0.3, "step": 0.1}},
            r"key 'datasets.odd.windows.length': a window of 0.3 s is longer than the crop",
        ),
        (
            {"windows": {"length": 0.9, "step": 0.1}},
            r"key 'datasets.odd.windows.length': a window of 0.9 s is longer than the crop \(-0.200 to \+0.600 s",
        ),
        (
            {"windows": {"length": 0.004, "step": 0.1}},
            r"key 'datasets.odd.windows.length': 0.004 s holds no sample at 100 Hz.*Fix: give a length of at least 0.01 s",
        ),
    ],
)
def test_bad_entries_are_refused_with_key_and_fix(folder, keys, match):
    _refused(folder, match, **keys)


def test_a_subject_with_one_condition_is_refused_for_within_subject_decoding(tmp_path):
    make_epochs(tmp_path / "o", subjects=("01",))
    make_epochs(tmp_path / "o", subjects=("02",), codes=[1, 2])  # standards only
    split = {"method": "kfold", "folds": 3, "within": "subject"}
    _refused(
        tmp_path / "o",
        r"key 'split.within': subject '02' \(.*sub-02_task-odd_epo.fif\) has trials of one class only \('standard'\).*Fix: remove that subject's file",
        split,
        conditions=["standard", "deviant"],
    )
    expand_runs(
        sweep(tmp_path / "o", {"method": "leave_one_group_out", "group": "subject"}, conditions=["standard", "deviant"])
    )  # across subjects it may


def test_config_checks_need_no_file(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"key 'split.within': within-group decoding splits each group's own rows, but method 'leave_one_group_out'",
    ):
        sweep(tmp_path, {"method": "leave_one_group_out", "group": "subject", "within": "subject"})
    with pytest.raises(
        ConfigError, match=r"key 'split.group': data set 'odd' \(epochs\) has one group column, 'subject'"
    ):
        sweep(tmp_path, {"method": "leave_one_group_out", "group": "participant"})
    with pytest.raises(ConfigError, match=r"key 'datasets.odd.tmax': tmax 0.1 is not after tmin 0.2"):
        sweep(tmp_path, tmin=0.2, tmax=0.1)
    with pytest.raises(ConfigError, match=r"key 'split.within': data set 'g' \(source synthetic\) has no group column"):
        validate_config(
            {
                "datasets": {"g": {"source": "synthetic"}},
                "architectures": {"a": {"hidden": [4]}},
                "seeds": [0],
                "split": {"method": "kfold", "within": "subject"},
            }
        )
    with pytest.raises(
        ConfigError, match=r"key 'datasets.odd.path': split.within is 'subject', but .* has no \{subject\}"
    ):
        sweep(tmp_path, {"method": "kfold", "within": "subject"}, path=str(tmp_path / "one_epo.fif"))


def test_planning_an_ordinary_sweep_does_not_import_mne():
    import subprocess
    import sys

    code = "import sys; sys.path.insert(0, 'scripts'); from conftest import tiny_config; from mlpsweep.config import validate_config; from mlpsweep.grid import expand_runs; expand_runs(validate_config(tiny_config())); print('mne' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(Path(__file__).parent)},
        check=True,
    )
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- the workflow, for real


@pytest.fixture(scope="module")
def decoded(tmp_path_factory):
    """Leave one subject out over three windows; then the crop widened by one window."""
    workdir = tmp_path_factory.mktemp("decoding")
    make_epochs(workdir / "derivatives", amp=2.5)
    cfg = {
        "datasets": {
            "odd": {
                "source": "epochs",
                "path": f"derivatives/{PATTERN}",
                "conditions": ["standard", "deviant"],
                "tmin": -0.2,
                "tmax": 0.4,
                "windows": {"length": 0.2, "step": 0.2},
            }
        },
        "architectures": {"a": {"hidden": [16]}},
        "training": {"epochs": 8, "optimizer": "adam", "learning_rate": 0.01, "batch_size": 16},
        "split": {"method": "leave_one_group_out", "group": "subject"},
        "seeds": [0],
        "execution": {"runs_per_job": 64, "threads": 1},
    }
    write_config(workdir, cfg)
    run_snakemake(workdir, "--until", "train")
    first = {p.parent.name: p.stat().st_mtime_ns for p in (workdir / "results" / "runs").rglob("metrics.json")}
    cfg["datasets"]["odd"]["tmax"] = 0.6
    write_config(workdir, cfg)
    run_snakemake(workdir, "--until", "train")
    return workdir / "results", first


@pytest.mark.workflow
def test_leave_one_subject_out_over_windows_trains_each_window_and_decodes_the_effect(decoded):
    results, first = decoded
    assert sorted(first) == sorted(f"seed0_fold{f}_t{t}" for f in range(3) for t in ("-0.200", "+0.000", "+0.200"))
    records = {p.parent.name: json.loads(p.read_text()) for p in (results / "runs").rglob("metrics.json")}
    record = records["seed0_fold1_t+0.200"]
    assert record["run"]["window"] == 0.2 and record["run"]["subject"] is None
    assert record["data"]["protocol"] == "cross-subject" and record["data"]["window"] == {
        "start": 0.2,
        "stop": 0.4,
        "centre": 0.3,
        "length": 0.2,
    }
    held_out = record["metrics"]["test_by_group"]  # one subject, tested whole: its AUC is the run's
    assert record["data"]["n_features"] == 3 * 20 and set(held_out) == {"02"}
    assert held_out["02"]["n"] == 48 and held_out["02"]["correct"] == round(48 * record["metrics"]["test_accuracy"])
    assert held_out["02"]["roc_auc"] == pytest.approx(record["metrics"]["test_roc_auc"])
    assert (
        len({r["provenance"]["pack"]["key"] for r in records.values() if r["provenance"]["pack"]["size"] == 9}) == 1
    )  # the first nine: one pack
    accuracy = {
        t: np.mean([r["metrics"]["test_accuracy"] for n, r in records.items() if n.endswith(t)])
        for t in ("-0.200", "+0.000", "+0.200", "+0.400")
    }
    assert (
        accuracy["+0.200"] > 0.85 and accuracy["-0.200"] < 0.75 and accuracy["+0.400"] < 0.75
    )  # above chance inside the effect alone


@pytest.mark.workflow
def test_a_window_added_trains_only_that_window(decoded):
    results, first = decoded
    now = {p.parent.name: p.stat().st_mtime_ns for p in (results / "runs").rglob("metrics.json")}
    assert set(now) - set(first) == {f"seed0_fold{f}_t+0.400" for f in range(3)}
    assert {k: now[k] for k in first} == first  # the finished windows were not trained again


@pytest.mark.workflow
def test_a_window_model_predicts_its_test_subject_from_the_raw_epochs_file(decoded):
    """scripts/predict.py with a window's run: the held-out subject's own -epo.fif file gives
    the run's recorded predictions (predictions.csv)."""
    import csv

    from mlpsweep.predict import predict_file

    results, _ = decoded
    run = next((results / "runs").rglob("seed0_fold1_t+0.200"))
    text, done = predict_file(run, results.parent / "derivatives" / PATTERN.format(subject="02"))
    predicted = [row["predicted"] for row in csv.DictReader(text.splitlines())]
    recorded = [row for row in csv.DictReader((run / rundir.PREDICTIONS_FILE).read_text().splitlines())]
    assert {row["group"] for row in recorded} == {"02"} and done["rows"] == len(recorded) == 48
    assert predicted == [row["predicted"] for row in recorded]


def test_sizing_reads_the_shape_of_one_window_from_the_headers(folder):
    """Pre-flight sizing of an epochs data set (data/probe.py): trials, one window's features
    and the classes, from the files' headers; a typo width is refused before any job."""
    from mlpsweep import sizing
    from mlpsweep.data.probe import shape_of

    spec = spec_of(
        folder, conditions=["standard", "deviant"], tmin=-0.1, tmax=0.5, windows={"length": 0.1, "step": 0.05}
    )
    found = shape_of(spec, "subject")
    assert (found.rows, found.features, found.classes) == (3 * 48, 3 * 10, 2)
    cfg = sweep(
        folder,
        split={"method": "leave_one_group_out", "group": "subject"},
        conditions=["standard", "deviant"],
        windows={"length": 0.1, "step": 0.05},
    )
    cfg["architectures"] = {"typo": {**cfg["architectures"]["a"], "hidden": [100_000_000]}}
    with pytest.raises(
        ConfigError,
        match=r"architecture 'typo' \(hidden \[100000000\]\) on data set 'odd'.*"
        + f"{sizing.n_params(30, [100_000_000], 2):,} parameters",
    ):
        sizing.plan(expand_runs(cfg), cfg["execution"])


def test_a_jobs_cache_gives_every_window_the_splits_made_from_scratch(folder):
    """DataCache.splits over a within-subject time course with permutation runs (in a job's order):
    each run's arrays equal make_splits of its window from scratch, and a permutation's labels,
    the same at every window of its split, are drawn once and shared."""
    from mlpsweep.training import DataCache

    cfg = sweep(
        folder, {"method": "kfold", "folds": 3, "within": "subject"}, conditions=["standard", "deviant"],
        windows={"length": 0.2, "step": 0.2},
    )  # fmt: skip
    cfg["summary"]["permutations"] = 2
    runs = [r for r in expand_runs(cfg) if r.subject in ("01", "02")]
    cache, data = DataCache(), load_dataset(runs[0].config["dataset"], "subject")
    found = {}
    for run in runs:
        got, _ = cache.splits(run.config)
        expected = make_splits(
            window_dataset(data, run.window),
            run.config["split"],
            run.seed,
            run.fold,
            run.permutation,
            group=run.subject,
        )
        for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "test_index"):
            assert np.array_equal(getattr(got, name), getattr(expected, name)), (run.path, name)
        found[run.path] = got
    by_split: dict = {}
    for run in runs:
        if run.permutation is not None:
            by_split.setdefault((run.subject, run.fold, run.permutation), []).append(found[run.path].y_train)
    assert len(by_split) == 2 * 3 * 2 and all(len(ys) > 1 for ys in by_split.values())
    assert all(all(y is ys[0] for y in ys) for ys in by_split.values())  # drawn once per split
    first = {k: ys[0] for k, ys in by_split.items()}
    assert not np.array_equal(first[("01", 0, 1)], first[("01", 0, 2)])  # other permutations, other labels
