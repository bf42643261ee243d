"""A linear baseline (`hidden: []`): multinomial logistic regression trained by the engine in
packs, on the same folds and windows as the MLPs, agrees with scikit-learn's
make_pipeline(StandardScaler(), LogisticRegression(C=...)) at matched regularization; its
complete model exports and predicts; dropout is refused."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from conftest import tiny_config
from mlpsweep.config import validate_config
from mlpsweep.engine import network
from mlpsweep.grid import expand_runs
from mlpsweep.model import build_mlp
from mlpsweep.training import DataCache, JobSettings, configure_backend, train_runs

TRIALS, SFREQ, TMIN, L2 = 60, 50.0, -0.2, 0.01
# Measured: largest |engine - scikit-learn| test accuracy over the 8 windows x 3 folds below
# 0 (every test row predicted alike), largest |probability difference| 4.2e-3; the
# tolerance allows one test row in 20 to flip at a near tie.
TOLERANCE = 1 / 20 + 1e-9


@pytest.fixture(scope="module", autouse=True)
def backend_ready():
    configure_backend(1)


def make_epochs(folder):
    """One subject's epochs: 4 EEG channels, classes a/b differing in 0.2-0.4 s."""
    import mne

    rng = np.random.default_rng(0)
    times = TMIN + np.arange(40) / SFREQ
    inside = (times >= 0.2 - 1e-9) & (times < 0.4 - 1e-9)
    y = np.arange(TRIALS) % 2
    x = rng.normal(0, 1, (TRIALS, 4, len(times)))
    x[:, :, inside] += (0.8 * (2 * y - 1))[:, None, None] * np.array([1.0, 0.5, -0.5, -1.0])[None, :, None]
    info = mne.create_info(["Fz", "Cz", "Pz", "Oz"], SFREQ, "eeg")
    events = np.column_stack([np.arange(TRIALS) * 100, np.zeros(TRIALS, int), y + 1])
    path = folder / "sub-01_epo.fif"
    mne.EpochsArray(x * 1e-6, info, events=events, tmin=TMIN, event_id={"a": 1, "b": 2}, verbose="error").save(
        path, verbose="error"
    )
    return path


def sklearn_accuracy(splits, C: float) -> tuple[float, np.ndarray]:
    """scikit-learn's pipeline fitted on the run's raw training rows, scored on its test rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    raw_train = splits.x_train.astype(np.float64) * splits.scale + splits.mean
    raw_test = splits.x_test.astype(np.float64) * splits.scale + splits.mean
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, tol=1e-10, max_iter=10_000))
    model.fit(raw_train, splits.y_train)
    return float((model.predict(raw_test) == splits.y_test).mean()), model.predict_proba(raw_test)


def linear_sweep(dataset: dict, batch_size: int, **extra) -> list:
    cfg = tiny_config(
        datasets={"d": dataset},
        architectures={"linear": {"hidden": [], "l2": L2}, "mlp": {"hidden": [8]}},
        training={"epochs": 300, "batch_size": batch_size, "optimizer": "adam", "learning_rate": 0.05},
        seeds=[0],
        split={"method": "kfold", "folds": 3, "validation": 0.1},
        **extra,
    )
    return expand_runs(validate_config(cfg))


def test_linear_baseline_agrees_with_scikit_learn_per_window_and_fold(tmp_path):
    """Two classes: Keras's softmax with l2 * ||W||^2 on both output columns is binary logistic
    regression with penalty l2 * ||w||^2 / 2 (w the columns' difference), so C = 1 / (l2 * n)."""
    path = make_epochs(tmp_path)
    runs = linear_sweep({"source": "epochs", "path": str(path), "windows": {"length": 0.1, "step": 0.1}}, batch_size=60)
    linear = [r for r in runs if r.architecture == "linear"]
    mlp_leaves = {(r.seed, r.fold, r.config["window"]) for r in runs if r.architecture == "mlp"}
    assert {(r.seed, r.fold, r.config["window"]) for r in linear} == mlp_leaves and len(
        linear
    ) == 24  # same folds and windows
    assert train_runs(linear, tmp_path / "results", DataCache(), JobSettings()) == {r.path: "finished" for r in linear}
    cache, worst, worst_p = DataCache(), 0.0, 0.0
    for run in linear:
        splits, _ = cache.splits(run.config)
        n = len(splits.y_train)
        ours = json.loads((tmp_path / "results" / run.path / "metrics.json").read_text())["metrics"]["test_accuracy"]
        theirs, p = sklearn_accuracy(splits, C=1 / (L2 * n))
        model = keras.models.load_model(tmp_path / "results" / run.path / "model.keras", safe_mode=True)
        raw_test = splits.x_test.astype(np.float64) * splits.scale + splits.mean
        worst = max(worst, abs(ours - theirs))
        worst_p = max(worst_p, float(np.abs(model.predict(raw_test.astype(np.float32), verbose=0) - p).max()))
    assert worst <= TOLERANCE and worst_p < 0.02, (worst, worst_p)


def test_three_classes_use_c_of_one_over_two_l2_n(tmp_path):
    """Three classes (iris, multinomial in both): C = 1 / (2 * l2 * n)."""
    runs = [
        r for r in linear_sweep({"source": "sklearn", "name": "iris"}, batch_size=150) if r.architecture == "linear"
    ]
    train_runs(runs, tmp_path, DataCache(), JobSettings())
    cache = DataCache()
    for run in runs:
        splits, _ = cache.splits(run.config)
        ours = json.loads((tmp_path / run.path / "metrics.json").read_text())["metrics"]["test_accuracy"]
        theirs, p = sklearn_accuracy(splits, C=1 / (2 * L2 * len(splits.y_train)))
        model = keras.models.load_model(tmp_path / run.path / "model.keras", safe_mode=True)
        raw_test = splits.x_test.astype(np.float64) * splits.scale + splits.mean
        assert abs(ours - theirs) <= TOLERANCE
        assert np.abs(model.predict(raw_test.astype(np.float32), verbose=0) - p).max() < 0.02


def test_linear_shape_penalizes_its_output_kernel_and_keras_does_too():
    shape = network.Shape(5, (), 3)
    assert shape.penalized() == 1 and network.Shape(5, (8, 4), 3).penalized() == 2  # MLPs: hidden kernels only
    model = build_mlp({"hidden": [], "l2": 0.5}, 5, 3)
    model.set_weights(network.initial_weights(shape, 1))
    kernel = model.get_weights()[0]
    assert len(model.layers) == 1 and float(sum(model.losses)) == pytest.approx(
        0.5 * float((kernel**2).sum()), rel=1e-5
    )
    assert not build_mlp({"hidden": [8], "l2": 0.5}, 5, 3).layers[-1].kernel_regularizer  # unchanged for MLPs
