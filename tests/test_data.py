import numpy as np
import pandas as pd
import pytest

from mlpsweep.data import DataError, class_weights, count_groups, load_dataset, make_splits, one_hot
from mlpsweep.data.builtin import make_synthetic

HOLDOUT = {"method": "holdout", "validation": 0.2, "test": 0.2, "seed": None}


def split_and_scale(data, validation, test, seed):
    return make_splits(data, {**HOLDOUT, "validation": validation, "test": test}, seed)


def test_synthetic_is_deterministic_and_named_good_bad():
    a = make_synthetic(n_samples=200, n_features=5, seed=3)
    b = make_synthetic(n_samples=200, n_features=5, seed=3)
    c = make_synthetic(n_samples=200, n_features=5, seed=4)
    assert a.x.dtype == np.float32 and a.x.shape == (200, 5)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y) and a.fingerprint == b.fingerprint
    assert not np.array_equal(a.x, c.x)
    assert a.class_names == ["good", "bad"]
    assert np.bincount(a.y).tolist() == [100, 100]


def test_synthetic_separation_makes_it_easier():
    far = make_synthetic(n_samples=400, n_features=4, separation=6.0, noise=0.5, seed=0)
    centroid_gap = np.linalg.norm(far.x[far.y == 0].mean(0) - far.x[far.y == 1].mean(0))
    assert centroid_gap > 4


@pytest.mark.parametrize("name,n_classes", [("digits", 10), ("wine", 3), ("breast_cancer", 2), ("iris", 3)])
def test_sklearn_datasets_load_offline(name, n_classes):
    data = load_dataset({"source": "sklearn", "name": name})
    assert len(data.class_names) == n_classes
    assert data.x.dtype == np.float32 and len(data.x) == len(data.y)


def test_csv_tsv_parquet_and_npz_files(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    frame["label"] = ["left", "right", "up"] * 20
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_csv(tmp_path / "d.tsv", index=False, sep="\t")
    frame.to_parquet(tmp_path / "d.parquet")
    np.savez(tmp_path / "d.npz", feats=frame[["a", "b", "c"]].to_numpy(), labels=np.arange(60) % 3)
    for name in ("d.csv", "d.tsv", "d.parquet"):
        data = load_dataset({"source": "file", "path": str(tmp_path / name), "label": "label"})
        assert data.x.shape == (60, 3) and data.class_names == ["left", "right", "up"]
    data = load_dataset({"source": "file", "path": str(tmp_path / "d.npz"), "x": "feats", "y": "labels"})
    assert data.x.shape == (60, 3) and data.class_names == ["0", "1", "2"]
    chosen = load_dataset({"source": "file", "path": str(tmp_path / "d.csv"), "label": "label", "features": ["a", "c"]})
    assert chosen.x.shape == (60, 2)


def test_npz_with_objects_is_refused_without_pickle(tmp_path):
    np.savez(tmp_path / "o.npz", x=np.array([[1, "a"]], dtype=object), y=np.array([0]))
    with pytest.raises(DataError, match="pickle"):
        load_dataset({"source": "file", "path": str(tmp_path / "o.npz")})


def test_split_is_stratified_seeded_and_scaled_on_train_only():
    data = make_synthetic(n_samples=1000, n_features=6, n_classes=4, seed=0)
    s1 = split_and_scale(data, 0.2, 0.2, seed=1)
    s2 = split_and_scale(data, 0.2, 0.2, seed=1)
    s3 = split_and_scale(data, 0.2, 0.2, seed=2)
    assert np.array_equal(s1.x_test, s2.x_test) and not np.array_equal(s1.y_train, s3.y_train)
    assert len(s1.y_test) == 200 and len(s1.y_val) == 160 and len(s1.y_train) == 640
    for y in (s1.y_train, s1.y_val, s1.y_test):
        assert np.bincount(y, minlength=4).min() >= len(y) // 4 - 1
    np.testing.assert_allclose(s1.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(s1.x_train.std(0), 1, atol=1e-4)
    assert abs(float(s1.x_test.mean())) > 1e-6  # test rows are scaled with training statistics


def test_constant_feature_does_not_divide_by_zero():
    data = make_synthetic(n_samples=100, n_features=3, seed=0)
    data.x[:, 1] = 7.0
    s = split_and_scale(data, 0.2, 0.2, seed=0)
    assert np.isfinite(s.x_train).all() and np.all(s.x_train[:, 1] == 0)


def test_one_hot():
    assert one_hot(np.array([0, 2]), 3).tolist() == [[1, 0, 0], [0, 0, 1]]


# ---------------------------------------------------------------- cross-validation and groups


def subjects_table(tmp_path, n_subjects=12, trials=20, n_classes=2, one_class_subject=None):
    """A multi-subject EEG-like table: 'subject' column, 4 features, 'condition' label."""
    rng = np.random.default_rng(3)
    rows = []
    for subject in range(n_subjects):
        for t in range(trials):
            label = 0 if subject == one_class_subject else t % n_classes
            rows.append(
                {
                    "subject": f"s{subject:02d}",
                    "f1": rng.normal() + label,
                    "f2": rng.normal(),
                    "f3": rng.normal(),
                    "f4": rng.normal() + subject,
                    "condition": f"c{label}",
                }
            )
    path = tmp_path / "subjects.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return {"source": "file", "path": str(path), "label": "condition", "name": "eeg"}


def folds_of(data, split, seed=0, n_folds=None):
    n_folds = n_folds or split.get("folds")
    return [make_splits(data, split, seed, fold) for fold in range(n_folds)]


def test_group_column_is_read_but_is_not_a_feature(tmp_path):
    spec = subjects_table(tmp_path)
    data = load_dataset(spec, group="subject")
    assert data.x.shape == (240, 4) and len(data.groups) == 240
    assert sorted(set(data.groups)) == [f"s{i:02d}" for i in range(12)]
    with pytest.raises(DataError, match="feature column 'subject' is not numeric"):
        load_dataset(spec)  # without split.group, every column but the label is a feature
    assert count_groups(spec, "subject") == 12


@pytest.mark.parametrize("method", ["kfold", "group_kfold", "leave_one_group_out"])
def test_folds_test_every_row_exactly_once_per_seed(tmp_path, method):
    spec = subjects_table(tmp_path)
    data = (
        load_dataset({**spec, "features": ["f1", "f2", "f3", "f4"]})
        if method == "kfold"
        else load_dataset(spec, group="subject")
    )
    split = {
        "method": method,
        "folds": 4,
        "group": None if method == "kfold" else "subject",
        "validation": 0.2,
        "seed": None,
    }
    n_folds = 12 if method == "leave_one_group_out" else 4
    for seed in (0, 1):
        folds = folds_of(data, split, seed, n_folds)
        tested = np.concatenate([f.test_index for f in folds])
        assert sorted(tested.tolist()) == list(range(240))
        for f in folds:
            assert len(f.y_train) + len(f.y_val) + len(f.y_test) == 240
    assert (
        not np.array_equal(
            folds_of(data, split, 0, n_folds)[0].test_index, folds_of(data, split, 1, n_folds)[0].test_index
        )
        or method == "leave_one_group_out"
    )


@pytest.mark.parametrize("method", ["group_kfold", "leave_one_group_out"])
def test_no_group_is_in_two_parts(tmp_path, method):
    spec = subjects_table(tmp_path)
    data = load_dataset(spec, group="subject")
    split = {"method": method, "folds": 3, "group": "subject", "validation": 0.25, "seed": None}
    for fold in folds_of(data, split, 0, 3 if method == "group_kfold" else 12):
        test = set(fold.test_groups)
        rows = np.setdiff1d(np.arange(240), fold.test_index)
        assert not test & set(data.groups[rows])
        # the validation part is whole groups cut from the training rows
        train_groups = {g for g in data.groups if g not in test}
        assert train_groups  # something left to train on
    if method == "leave_one_group_out":
        assert [sorted(set(f.test_groups)) for f in folds_of(data, split, 0, 12)] == [[f"s{i:02d}"] for i in range(12)]


def test_validation_rows_are_whole_groups_from_the_training_part(tmp_path):
    data = load_dataset(subjects_table(tmp_path), group="subject")
    split = {"method": "group_kfold", "folds": 3, "group": "subject", "validation": 0.25, "seed": None}
    fold = make_splits(data, split, 0, 0)
    # standardized features differ from the raw ones, so find the rows by their subject feature f4 (= subject + noise)
    assert len(fold.y_val) > 0 and len(fold.y_val) % 20 == 0  # whole subjects of 20 trials


def test_kfold_is_stratified():
    data = make_synthetic(n_samples=400, n_features=3, n_classes=4, seed=1)
    for fold in folds_of(data, {"method": "kfold", "folds": 5, "group": None, "validation": 0.2, "seed": None}):
        assert np.bincount(fold.y_test, minlength=4).tolist() == [20, 20, 20, 20]


def test_standardization_is_fitted_on_the_folds_training_rows():
    data = make_synthetic(n_samples=300, n_features=3, seed=2)
    fold = make_splits(data, {"method": "kfold", "folds": 3, "group": None, "validation": 0.2, "seed": None}, 0, 1)
    np.testing.assert_allclose(fold.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(fold.x_train.std(0), 1, atol=1e-4)


def test_permutation_shuffles_training_labels_only_and_within_groups(tmp_path):
    data = load_dataset(subjects_table(tmp_path), group="subject")
    split = {"method": "group_kfold", "folds": 3, "group": "subject", "validation": 0.25, "seed": None}
    real = make_splits(data, split, 0, 0)
    null = make_splits(data, split, 0, 0, permutation=1)
    other = make_splits(data, split, 0, 0, permutation=2)
    assert np.array_equal(real.y_test, null.y_test)  # tested on the true labels
    assert not np.array_equal(real.y_train, null.y_train) and not np.array_equal(null.y_train, other.y_train)
    assert np.bincount(real.y_train).tolist() == np.bincount(null.y_train).tolist()  # a permutation: same counts
    np.testing.assert_array_equal(real.x_train, null.x_train)
    # within groups: each subject keeps its own label counts
    rows = np.setdiff1d(np.arange(240), real.test_index)
    ys = np.concatenate([real.y_train, real.y_val]), np.concatenate([null.y_train, null.y_val])
    assert sorted(ys[0].tolist()) == sorted(ys[1].tolist()) and len(rows) == len(ys[0])


def test_permutation_without_groups_keeps_each_class_count():
    data = make_synthetic(n_samples=200, n_features=3, seed=0)
    real, null = (make_splits(data, HOLDOUT, 0, permutation=p) for p in (None, 3))
    fit = [np.concatenate([s.y_train, s.y_val]) for s in (real, null)]  # training and validation rows
    assert np.bincount(fit[0]).tolist() == np.bincount(fit[1]).tolist()
    assert np.mean(fit[0] == fit[1]) < 0.8 and np.array_equal(real.y_test, null.y_test)


def test_balanced_class_weights_come_from_the_training_rows():
    y = np.array([0] * 30 + [1] * 10)
    assert class_weights(y, 2, "balanced").tolist() == pytest.approx([40 / 60, 40 / 20])
    assert class_weights(y, 2, "none") is None
    assert class_weights(y, 3, "balanced")[2] == 1.0  # a class absent from training rows keeps weight 1


DATA_PROBLEMS = {
    "missing_group_column": (
        {"method": "group_kfold", "folds": 3, "group": "session", "validation": 0.2, "seed": None},
        {},
        "group column 'session' is missing (columns: subject, f1, f2, f3, f4, condition). Fix: set split.group to an existing column",
    ),
    "fewer_groups_than_folds": (
        {"method": "group_kfold", "folds": 5, "group": "subject", "validation": 0.2, "seed": None},
        {"n_subjects": 4},
        "group column 'subject' holds 4 groups, fewer than the 5 folds. Fix: lower split.folds or use data with more groups",
    ),
    "one_group_for_logo": (
        {"method": "leave_one_group_out", "group": "subject", "validation": 0.2, "seed": None, "folds": 5},
        {"n_subjects": 1},
        "group column 'subject' holds 1 groups, fewer than the 2 a leave-one-group-out split needs",
    ),
    "fold_without_a_class": (
        {"method": "leave_one_group_out", "group": "subject", "validation": 0.2, "seed": None, "folds": 5},
        {"n_subjects": 3, "n_classes": 2, "one_class_subject": 0},
        "has no row of class",
    ),
}


@pytest.mark.parametrize("split,table,message", DATA_PROBLEMS.values(), ids=DATA_PROBLEMS.keys())
def test_data_that_cannot_be_split_fails_with_file_and_column(tmp_path, split, table, message):
    spec = subjects_table(tmp_path, **table)
    with pytest.raises(DataError) as err:
        data = load_dataset(spec, group=split["group"])
        n = {"group_kfold": split["folds"], "leave_one_group_out": table.get("n_subjects", 12)}[split["method"]]
        folds_of(data, split, 0, n)
    where = f"data file {spec['path']}" if "missing" in message else f"dataset 'eeg' (file {spec['path']})"
    assert str(err.value).startswith(f"{where}: ") and message in str(err.value), str(err.value)


# ---------------------------------------------------------------- table options: drop, sep; BIDS groups


def test_drop_leaves_columns_out_of_the_features(tmp_path):
    spec = subjects_table(tmp_path)
    frame = pd.read_csv(spec["path"])
    frame.insert(0, "trial", range(len(frame)))
    frame.to_csv(spec["path"], index=False)
    data = load_dataset({**spec, "drop": ["trial"]}, group="subject")
    assert data.feature_names == ["f1", "f2", "f3", "f4"]
    assert load_dataset(spec, group="subject").feature_names[0] == "trial"  # without drop, an index is a feature


@pytest.mark.parametrize("sep,suffix", [(";", "csv"), ("|", "txt"), ("\t", "csv")])
def test_sep_reads_tables_with_another_separator(tmp_path, sep, suffix):
    spec = subjects_table(tmp_path)
    path = tmp_path / f"other.{suffix}"
    pd.read_csv(spec["path"]).to_csv(path, index=False, sep=sep)
    data = load_dataset({**spec, "path": str(path), "sep": sep}, group="subject")
    assert data.feature_names == ["f1", "f2", "f3", "f4"] and len(data.x) == 240
    assert count_groups({**spec, "path": str(path), "sep": sep}, "subject") == 12


def test_bids_subject_values_decode_within_subjects_in_safe_directories(tmp_path):
    from mlpsweep.config import ConfigError, validate_config
    from mlpsweep.grid import expand_runs
    from mlpsweep.rundir import RUN_DIR_RE, parse

    spec = subjects_table(tmp_path, n_subjects=3)
    frame = pd.read_csv(spec["path"])
    frame["subject"] = frame["subject"].str.replace("s", "sub-")
    frame.to_csv(spec["path"], index=False)
    entry = {k: v for k, v in spec.items() if k != "name"}
    split = {"method": "kfold", "folds": 2, "within": "subject"}
    cfg = {"datasets": {"eeg": entry}, "architectures": {"a": {"hidden": [4]}}, "seeds": 1, "split": split}
    runs = expand_runs(validate_config(cfg))
    leaves = [r.path.rsplit("/", 1)[1] for r in runs[:3]]
    assert leaves == ["sub-00_seed0_fold0", "sub-00_seed0_fold1", "sub-01_seed0_fold0"]
    assert runs[0].subject == runs[0].config["subject"] == "sub-00" and all(RUN_DIR_RE.match(r.path) for r in runs)
    assert parse(runs[0].path)["subject"] == "00"
    data = load_dataset(runs[0].config["dataset"], "subject")
    split = make_splits(data, runs[0].config["split"], 0, 0, group="sub-00")
    assert set(split.test_groups) == {"sub-00"} and set(split.test_index.tolist()) <= set(range(20))
    frame.loc[0:9, "subject"] = "00"  # 00 and sub-00 would share sub-00_seed0...
    frame.to_csv(spec["path"], index=False)
    with pytest.raises(ConfigError, match=r"groups '00' and 'sub-00' of column 'subject' .* would share run"):
        expand_runs(validate_config(cfg))
    frame.loc[0:19, "subject"] = "sub-0_0"
    frame.to_csv(spec["path"], index=False)
    with pytest.raises(ConfigError, match=r"group 'sub-0_0' of column 'subject' .* cannot name a run directory"):
        expand_runs(validate_config(cfg))
