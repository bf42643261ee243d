import numpy as np
import pandas as pd
import pytest

from mlpsweep.data import DataError, load_dataset, make_synthetic, one_hot, split_and_scale


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
