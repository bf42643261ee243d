"""Snakemake for real on a tiny grid: outputs, incremental re-runs, determinism, partial sweeps."""

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest

from conftest import REPO, SNAKEMAKE, run_snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow


NO_PLOTS = ("--omit-from", "plots")  # for tests of what trains: drawing is not under test there (test_regenerate's is)


def metrics_mtimes(workdir):
    return {
        p.parent.relative_to(workdir / "results").as_posix(): p.stat().st_mtime_ns
        for p in (workdir / "results" / "runs").glob("*/*/*/seed*/metrics.json")
    }


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sweep")
    write_config(workdir, tiny_config())
    proc = run_snakemake(workdir)
    return workdir, proc


def test_sweep_produces_runs_and_summary(finished_sweep):
    workdir, _ = finished_sweep
    results = workdir / "results"
    assert len(metrics_mtimes(workdir)) == 2 * 2 * 2
    for name in ("runs.csv", "summary.csv", "summary.md", "summary.tex"):
        assert (results / "summary" / name).stat().st_size > 0
    cells = pd.read_csv(results / "summary" / "summary.csv")
    assert len(cells) == 4 and set(cells["n"]) == {2}
    assert cells.groupby("dataset")["best"].sum().tolist() == [1, 1]
    record = json.loads((results / "runs/iris/deep/default/seed1/metrics.json").read_text())
    assert record["status"] == "finished" and record["config"]["architecture"]["hidden"] == [16, 8]
    assert record["provenance"]["versions"]["snakemake"].startswith("9.")
    assert list((results / "logs" / "train").glob("chunk*.log")) and list(
        (results / "benchmarks" / "train").glob("chunk*.tsv")
    )
    assert (results / "runs/iris/deep/default/seed1/train.log").read_text().count("finished") == 1


def test_nothing_to_do_on_rerun(finished_sweep):
    workdir, _ = finished_sweep
    before = metrics_mtimes(workdir)
    proc = run_snakemake(workdir)
    assert "Nothing to be done" in proc.stdout + proc.stderr
    assert metrics_mtimes(workdir) == before


def test_new_seed_and_grid_value_train_only_new_runs(tmp_path):
    # One data set (7 training processes, not 14): the same cases as with two, jobs of 2 runs
    # that mix finished and new runs, and a job of finished runs only that re-runs because its
    # number moved (goodbad/deep/lr0.01, chunk1 -> chunk2) and must train nothing.
    one = {"goodbad": tiny_config()["datasets"]["goodbad"]}
    write_config(tmp_path, tiny_config(datasets=one, seeds=[0], grid={"learning_rate": [0.01]}))
    run_snakemake(tmp_path, *NO_PLOTS)
    before = metrics_mtimes(tmp_path)
    assert len(before) == 2
    write_config(tmp_path, tiny_config(datasets=one, seeds=[0, 1], grid={"learning_rate": [0.01]}))
    run_snakemake(tmp_path, *NO_PLOTS)
    after = metrics_mtimes(tmp_path)
    assert len(after) == 4 and all(after[p] == t for p, t in before.items())
    write_config(tmp_path, tiny_config(datasets=one, seeds=[0, 1], grid={"learning_rate": [0.01, 0.05]}))
    proc = run_snakemake(tmp_path, *NO_PLOTS)
    grown = metrics_mtimes(tmp_path)
    assert len(grown) == 8 and all(grown[p] == t for p, t in after.items())
    assert len([p for p in grown if "/lr0.05/" in p]) == 4
    assert "jobs/chunk2.json" in proc.stdout + proc.stderr  # the job of finished runs did re-run


def test_changing_one_architecture_retrains_only_its_runs(finished_sweep, tmp_path):
    shutil.copytree(finished_sweep[0], tmp_path, dirs_exist_ok=True)  # with .snakemake/ and mtimes: nothing to redo
    before = metrics_mtimes(tmp_path)
    cfg = tiny_config()
    cfg["architectures"]["deep"]["hidden"] = [16, 4]
    write_config(tmp_path, cfg)
    run_snakemake(tmp_path, *NO_PLOTS)
    after = metrics_mtimes(tmp_path)
    changed = {p for p in after if after[p] != before[p]}
    assert changed == {p for p in before if "/deep/" in p}
    record = json.loads((tmp_path / "results/runs/goodbad/deep/default/seed0/metrics.json").read_text())
    assert record["config"]["architecture"]["hidden"] == [16, 4]


def test_same_config_gives_same_numbers(finished_sweep, tmp_path):
    workdir, _ = finished_sweep
    write_config(tmp_path, tiny_config())
    run_snakemake(tmp_path, *NO_PLOTS)
    cols = ["path", "status", "test_accuracy", "test_loss", "val_loss", "train_loss", "confusion_matrix"]
    a = pd.read_csv(workdir / "results/summary/runs.csv")[cols]
    b = pd.read_csv(tmp_path / "results/summary/runs.csv")[cols]
    pd.testing.assert_frame_equal(a, b)


def test_failed_data_keeps_siblings_and_writes_partial_summary(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n" + "".join(f"{i},{'nan' if i == 7 else i},{i % 2}\n" for i in range(40)))
    cfg = tiny_config(
        datasets={
            "goodbad": {"source": "synthetic", "n_samples": 300, "n_features": 8, "seed": 1},
            "bad": {"source": "file", "path": "bad.csv", "label": "label"},
        }
    )
    cfg["execution"]["runs_per_job"] = 8
    write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, "--keep-going", check=False)
    assert proc.returncode != 0
    runs = tmp_path / "results" / "runs"
    assert len(list(runs.glob("goodbad/*/*/seed*/metrics.json"))) == 4
    assert not list(runs.glob("bad/*/*/seed*/metrics.json"))
    failed = json.loads((runs / "bad/small/default/seed0/failed.json").read_text())
    assert "NaN" in failed["error"] and "bad.csv" in failed["error"]
    assert not (tmp_path / "results/summary/summary.md").exists()
    md = (tmp_path / "results/summary/partial/summary.md").read_text()
    assert (tmp_path / "results/summary/partial/plots/heatmap.png").is_file()
    assert "| bad | small | default | 0/2 | failed |" in md and "| goodbad | small | default | 2/2 |" in md
    assert "partial summary" in proc.stderr
    log = (tmp_path / "results/logs/train/chunk0.log").read_text()
    assert "features contain NaN" in log


def test_lint_and_format_are_clean():
    lint = subprocess.run(
        [SNAKEMAKE, "--lint", "--snakefile", "workflow/Snakefile"], cwd=REPO, capture_output=True, text=True
    )
    assert lint.returncode == 0 and "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run(
        [SNAKEMAKE.replace("snakemake", "snakefmt"), "--check", "workflow"], cwd=REPO, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_configfile_replaces_the_default_sweep_instead_of_merging(tmp_path):
    write_config(tmp_path, tiny_config())
    (tmp_path / "mine.yaml").write_text(
        "datasets:\n  only: {source: synthetic, n_samples: 200, n_features: 4}\narchitectures:\n  a: {hidden: [4]}\nseeds: [0]\ntraining: {epochs: 1}\n"
    )
    proc = run_snakemake(tmp_path, "--configfile", "mine.yaml", "-n", "--printshellcmds")
    out = proc.stdout + proc.stderr
    assert "extended by additional config" not in out
    assert re.search(r"^train\s+1$", out, flags=re.M), out[-2000:]
    proc = run_snakemake(tmp_path, "--configfile", "mine.yaml", "--config", "seeds=[5]", "-n", check=False)
    assert proc.returncode != 0 and "mine.yaml (with --config overrides): key 'seeds[0]'" in proc.stdout + proc.stderr


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_every_saved_model_reproduces_its_predictions_from_raw_rows(finished_sweep, backend):
    """model.keras alone (keras.models.load_model, safe mode, no warning) maps the data's raw
    test rows to the classes predictions.csv records; a row may flip only where its two top
    probabilities are within agreement.NEAR_TIE (float32 rounding of the standardization)."""
    import importlib.util
    import os
    import sys

    if backend == "jax" and importlib.util.find_spec("jax") is None:
        if os.environ.get("MLPSWEEP_REQUIRE_JAX", "") not in ("", "0"):
            pytest.fail("MLPSWEEP_REQUIRE_JAX is set but JAX is not installed")
        pytest.skip("JAX is not installed")
    import keras

    import agreement

    workdir, _ = finished_sweep
    if keras.backend.backend() == backend:
        out = agreement.check(workdir / "results")
    else:  # a process has one backend
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO / "scripts")}
        proc = subprocess.run(
            [sys.executable, agreement.__file__, str(workdir / "results")],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["backend"] == backend and out["runs"] == 8 and out["rows"] > 8 * 20
    assert out["problems"] == [] and out["warnings"] == []
    assert out["disagree"] <= out["near_ties"] <= 2, out  # measured: 0 of 272 rows, on both backends


def test_selected_table_best_models_and_predictions_on_new_rows(finished_sweep, tmp_path):
    """The summary step chooses per seed on validation loss, lists the chosen runs in
    best/<dataset>/index.csv (no copies), and scripts/predict.py's logic applies them to new rows as an ensemble."""
    from sklearn.datasets import load_iris

    from mlpsweep import predict

    workdir, _ = finished_sweep
    results = workdir / "results"
    choices = pd.read_csv(results / "summary" / "selected.csv")
    assert choices[["dataset", "leaf"]].values.tolist() == [
        ["goodbad", "seed0"],
        ["goodbad", "seed1"],
        ["iris", "seed0"],
        ["iris", "seed1"],
    ]
    runs = pd.read_csv(results / "summary" / "runs.csv").set_index("path")
    for row in choices.to_dict("records"):
        cell = runs[(runs["dataset"] == row["dataset"]) & (runs["seed"] == row["seed"])]
        assert row["score"] == cell["val_loss"].min() and row["test_accuracy"] == runs.loc[row["path"], "test_accuracy"]
    for dataset, mine in choices.groupby("dataset"):
        index = pd.read_csv(results / "best" / dataset / "index.csv")
        assert index["path"].tolist() == mine["path"].tolist() and not [
            p for p in (results / "best" / dataset).iterdir() if p.is_dir()
        ]
    assert (
        "Nested estimate" in (results / "summary" / "selected.md").read_text()
        and "scripts/predict.py results/best/iris" in (results / "best" / "iris" / "README.txt").read_text()
    )
    iris = load_iris(as_frame=True).frame.rename(columns={"target": "species"}).head(10)
    iris.to_csv(tmp_path / "new.csv", index=False)
    with pytest.raises(predict.DataError, match="column 'species' is not among the model's features"):
        predict.predict_file(
            results / "best" / "iris", tmp_path / "new.csv"
        )  # iris is a scikit-learn set: no label column to ignore
    iris.drop(columns="species").to_csv(tmp_path / "new.csv", index=False)
    text, done = predict.predict_file(results / "best" / "iris", tmp_path / "new.csv")
    assert (
        done["models"] == 2
        and len(text.splitlines()) == 11
        and text.splitlines()[0] == "row,predicted,p_setosa,p_versicolor,p_virginica"
    )
