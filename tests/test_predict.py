"""Complete models (mlpsweep/export.py) and predictions on new data (mlpsweep/predict.py,
scripts/predict.py): made-up weights, no training."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from mlpsweep import best, export, predict, rundir
from mlpsweep.data import DataError
from mlpsweep.model import build_classifier, build_mlp, compile_mlp
from mlpsweep.record import upgrade
from mlpsweep.tables.options import options_with_defaults

FEATURES = ["c3", "c4", "cz"]
CLASSES = ["left", "right", "rest"]


def complete_run(run_dir, seed=0, mean=(1.0, -2.0, 3e-12), scale=(2.0, 0.5, 1e-12), dataset=None):
    """A run directory with a complete model of made-up weights, as training writes it."""
    rng = np.random.default_rng(seed)
    model = build_classifier({"hidden": [4]}, 3, 3)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in build_mlp({"hidden": [4]}, 3, 3).get_weights()]
    export.set_complete_weights(model, weights, np.array(mean), np.array(scale))
    run_dir.mkdir(parents=True)
    export.save_model(model, run_dir / rundir.MODEL_FILE)
    record = {
        "config": {
            "dataset": dataset or {"source": "file", "path": "eeg.csv", "label": "condition", "name": "eeg"},
            "split": {"group": "subject"},
        },
        "data": {"class_names": CLASSES, "n_features": 3, "fingerprint": "x"},
        "run": {"seed": seed},
        "config_hash": "h",
    }
    stored = {**record, "status": "finished", "metrics": {}}
    (run_dir / rundir.MODEL_INFO_FILE).write_text(json.dumps(export.model_info(upgrade(stored), FEATURES)))
    return weights


def reference(x, weights, mean, scale):
    """The MLP on rows standardized as training does, in float64."""
    h = np.maximum(((x - np.array(mean)) / np.array(scale)) @ weights[0] + weights[1], 0)
    logits = h @ weights[2] + weights[3]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_the_model_standardizes_raw_rows_also_for_tiny_scales(tmp_path):
    """A feature with a training scale of 1e-12 (EEG power in V^2) would be clamped to Keras's
    epsilon 1e-7 by Normalization alone: it is folded into the first kernel instead."""
    weights = complete_run(tmp_path / "run")
    x = np.array([[1.5, -2.2, 4e-12], [0.0, -1.0, 1e-12], [3.0, -2.5, 3.5e-12]], np.float32)
    model = keras.models.load_model(tmp_path / "run" / rundir.MODEL_FILE, safe_mode=True)
    np.testing.assert_allclose(
        model.predict(x, verbose=0),
        reference(x.astype(np.float64), weights, (1.0, -2.0, 3e-12), (2.0, 0.5, 1e-12)),
        rtol=1e-4,
        atol=1e-6,
    )
    assert model.layers[0].name == "standardization" and not model.compiled  # saved without an optimizer


def test_a_compiled_model_warns_on_loading_an_uncompiled_one_does_not(tmp_path):
    """The check of tests/agreement.py can fail: the model files of earlier versions (compiled,
    optimizer never built) warn on loading."""
    import agreement

    old = compile_mlp(build_mlp({"hidden": [4]}, 3, 2), {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9})
    old.save(tmp_path / "old.keras")
    assert any("optimizer" in text for text in agreement.load_quietly(tmp_path / "old.keras")[1])
    complete_run(tmp_path / "new")
    assert agreement.load_quietly(tmp_path / "new" / rundir.MODEL_FILE)[1] == []


def new_rows(tmp_path, frame: pd.DataFrame, name="new.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False) if name.endswith(".csv") else frame.to_csv(path, index=False, sep="\t")
    return path


def test_a_cell_averages_its_runs_probabilities_and_ignores_label_and_group(tmp_path):
    cell = tmp_path / "runs/eeg/a/default"
    for seed in (0, 1):
        complete_run(cell / f"seed{seed}", seed=seed)
    complete_run(cell / "seed0_perm0", seed=7)  # a label-permutation run is no member of the ensemble
    rows = pd.DataFrame(
        {
            "subject": ["s1", "s2"],
            "c4": [-1.0, -3.0],
            "condition": ["left", "rest"],
            "c3": [0.5, 1.5],
            "cz": [2e-12, 5e-12],
        }
    )
    path = new_rows(tmp_path, rows)
    text, done = predict.predict_file(cell, path)
    out = pd.read_csv(pd.io.common.StringIO(text))
    x = rows[FEATURES].to_numpy(np.float32)
    singles = [
        keras.models.load_model(cell / f"seed{s}" / rundir.MODEL_FILE, safe_mode=True).predict(x, verbose=0)
        for s in (0, 1)
    ]
    np.testing.assert_allclose(out[[f"p_{c}" for c in CLASSES]].to_numpy(), (singles[0] + singles[1]) / 2, rtol=1e-5)
    assert out["predicted"].tolist() == [CLASSES[i] for i in ((singles[0] + singles[1]) / 2).argmax(axis=1)]
    assert done["models"] == 2 and done["ignored_columns"] == ["condition", "subject"]


def test_best_reads_its_index_an_export_and_an_earlier_releases_copies(tmp_path):
    results = tmp_path / "results"
    complete_run(results / "runs/eeg/a/default/seed0", seed=0)
    complete_run(results / "runs/eeg/b/default/seed1", seed=1)
    choices = pd.DataFrame(
        {
            "dataset": "eeg",
            "leaf": ["seed0", "seed1"],
            "seed": [0, 1],
            "fold": pd.array([None, None], dtype="Int64"),
            "architecture": ["a", "b"],
            "hparams": "default",
            "path": ["runs/eeg/a/default/seed0", "runs/eeg/b/default/seed1"],
            "select_by": "val_loss",
            "score": [0.2, 0.3],
        }
    )
    best.write_best(results, choices, options_with_defaults({}), results / "best")
    path = new_rows(tmp_path, pd.DataFrame({"c3": [0.5, 1.5], "c4": [-1.0, -3.0], "cz": [2e-12, 5e-12]}))
    x = pd.read_csv(path)[FEATURES].to_numpy(np.float32)
    members = [results / "runs/eeg/a/default/seed0", results / "runs/eeg/b/default/seed1"]
    mean = sum(keras.models.load_model(m / rundir.MODEL_FILE, safe_mode=True).predict(x, verbose=0) for m in members)
    expected = pd.read_csv(pd.io.common.StringIO(predict.predictions_csv(mean / 2, CLASSES)))
    assert predict.find_runs(results / "best/eeg") == [m.absolute() for m in members]
    text, done = predict.predict_file(results / "best/eeg", path)
    assert done["models"] == 2
    pd.testing.assert_frame_equal(pd.read_csv(pd.io.common.StringIO(text)), expected)
    best.export_best(results, tmp_path / "elsewhere")  # the copies taken elsewhere, as an earlier release made them
    (results / "best/eeg/index.csv").rename(tmp_path / "index.csv")
    for leaf, member in zip(("seed0", "seed1"), members):
        for name in (rundir.MODEL_FILE, rundir.MODEL_INFO_FILE):
            (results / "best/eeg" / leaf).mkdir(exist_ok=True)
            (results / "best/eeg" / leaf / name).write_bytes((member / name).read_bytes())
    for folder in (tmp_path / "elsewhere/eeg", results / "best/eeg"):
        assert predict.predict_file(folder, path)[0] == text
    (tmp_path / "index.csv").rename(results / "best/eeg/index.csv")
    (members[1] / rundir.MODEL_FILE).unlink()
    with pytest.raises(predict.PredictError, match=r"index.csv: no model.keras in the chosen run directories .*seed1"):
        predict.find_runs(results / "best/eeg")


def test_the_command_writes_predictions_of_one_run(tmp_path, caplog):
    """scripts/predict.py's main(), in this process (its script is two lines around it)."""
    import logging

    complete_run(tmp_path / "seed0")
    path = new_rows(tmp_path, pd.DataFrame({"c3": [0.5], "c4": [-1.0], "cz": [1e-12]}), "new.tsv")
    with caplog.at_level(logging.INFO, logger="mlpsweep"):
        assert predict.main([str(tmp_path / "seed0"), str(path), "-o", str(tmp_path / "out.csv")]) == 0
    assert (tmp_path / "out.csv").read_text().splitlines()[
        0
    ] == "row,predicted,p_left,p_right,p_rest" and "predicted 1 rows with 1 model" in caplog.text
    with caplog.at_level(logging.INFO, logger="mlpsweep"):
        assert predict.main([str(tmp_path / "seed0"), str(tmp_path / "absent.csv")]) == 2
    assert "absent.csv: not found. Fix: check the path" in caplog.text


@pytest.mark.parametrize(
    "frame, name, message",
    [
        (
            pd.DataFrame({"c3": [1.0], "cz": [0.0]}),
            "new.csv",
            r"new data file .*new.csv: feature column 'c4' missing \(1 of the model's 3\)\. Fix: add them \(model.json lists the model's features\)",
        ),
        (
            pd.DataFrame({"c3": [1.0], "c4": [1.0], "cz": [0.0], "trial": [3]}),
            "new.csv",
            r"column 'trial' is not among the model's features\. Fix: drop it",
        ),
        (
            pd.DataFrame({"c3": [1.0], "c4": [np.nan], "cz": [0.0]}),
            "new.csv",
            r"features contain NaN \(first in column 'c4', data row 1; 1 values in all\)\. Fix: impute or drop those rows",
        ),
        (
            None,
            "new.npz",
            r"is an NPZ archive, but the model was trained on a table with named feature columns\. Fix: give a CSV, TSV or Parquet table with the feature columns 'c3', 'c4', 'cz'",
        ),
        (None, "new.json", r"unknown kind of file\. Fix: give a CSV, TSV or Parquet table"),
        (None, "absent.csv", r"not found\. Fix: check the path"),
    ],
)
def test_new_data_that_does_not_fit_is_refused(tmp_path, frame, name, message):
    complete_run(tmp_path / "seed0")
    path = tmp_path / name
    if frame is not None:
        frame.to_csv(path, index=False)
    elif name.endswith(".npz"):
        np.savez(path, x=np.zeros((2, 3)))
    elif name != "absent.csv":
        path.write_text("{}")
    with pytest.raises(DataError, match=message):
        predict.predict_file(tmp_path / "seed0", path)


def test_an_npz_model_takes_npz_rows_of_its_width(tmp_path):
    complete_run(tmp_path / "seed0", dataset={"source": "file", "path": "eeg.npz", "x": "features", "name": "eeg"})
    np.savez(tmp_path / "ok.npz", features=np.zeros((4, 3)))
    np.savez(tmp_path / "wide.npz", features=np.zeros((4, 5)))
    assert len(predict.predict_file(tmp_path / "seed0", tmp_path / "ok.npz")[0].splitlines()) == 5
    with pytest.raises(
        DataError, match=r"array 'features' has 5 features per row, the model takes 3\. Fix: give the same features"
    ):
        predict.predict_file(tmp_path / "seed0", tmp_path / "wide.npz")
    pd.DataFrame({"c3": [1.0]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(
        DataError,
        match=r"is a table, but the model was trained on an NPZ array\. Fix: save the rows as an NPZ file with array 'features' \(rows x 3 features\)",
    ):
        predict.predict_file(tmp_path / "seed0", tmp_path / "t.csv")


def test_models_without_model_json_or_of_other_data_are_refused(tmp_path):
    complete_run(tmp_path / "cell/seed0")
    complete_run(tmp_path / "cell/seed1")
    (tmp_path / "cell/seed1" / rundir.MODEL_INFO_FILE).unlink()
    with pytest.raises(
        predict.PredictError,
        match=r"seed1: model.keras is not a complete model .* Fix: .venv/bin/python scripts/export_models.py",
    ):
        predict.find_runs(tmp_path / "cell") and predict.model_infos(predict.find_runs(tmp_path / "cell"))
    with pytest.raises(
        predict.PredictError, match=r"no model.keras in it or in its sub-folders\. Fix: give a run directory"
    ):
        predict.find_runs(tmp_path)


def test_the_script_runs_its_command():
    import subprocess
    import sys

    from conftest import REPO

    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "predict.py"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "a run directory" in proc.stdout, proc.stderr
