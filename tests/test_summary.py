import json
import math

import pandas as pd
import pytest

from mlpsweep.storage import write_json_atomic
from mlpsweep.summary import collect_runs, compute_accounting, discover_runs, render_latex, summarize, write_summary


def fake_run(results, dataset, arch, seed, acc, status="finished", hparams="default", device="CPU", seconds=2.0):
    run_dir = results / "runs" / dataset / arch / hparams / f"seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics = {"test_accuracy": acc, "test_balanced_accuracy": acc, "test_macro_f1": acc, "test_loss": 1 - acc, "fit_seconds": seconds, "epochs_run": 5, "n_params": 100, "test_confusion_matrix": [[3, 1], [0, 4]]}
    if status == "diverged":
        metrics = {"fit_seconds": seconds, "epochs_run": 2}
    write_json_atomic(run_dir / "metrics.json", {"status": status, "metrics": metrics, "config_hash": "x", "data": {"class_names": ["good", "bad"]}, "provenance": {"device": {"type": device, "gpus": []}, "threads": 2, "slurm": {"job_id": "42"}}})
    (run_dir / "history.csv").write_text("epoch,loss\n1,0.5\n")
    if status == "finished":
        (run_dir / "model.keras").write_bytes(b"x")
    return run_dir.relative_to(results).as_posix()


@pytest.fixture
def results(tmp_path):
    for seed, (a, b) in enumerate([(0.80, 0.90), (0.82, 0.91), (0.81, 0.93)]):
        fake_run(tmp_path, "ds1", "small", seed, a)
        fake_run(tmp_path, "ds1", "big", seed, b)
        fake_run(tmp_path, "ds2", "small", seed, 0.7 + seed / 100)
    return tmp_path


def test_mean_std_n_and_best_per_dataset(results):
    cells = summarize(collect_runs(results))
    big = cells[(cells.dataset == "ds1") & (cells.architecture == "big")].iloc[0]
    assert big["n"] == 3 and big["test_accuracy_mean"] == pytest.approx(0.9133333, abs=1e-6)
    assert big["test_accuracy_std"] == pytest.approx(pd.Series([0.90, 0.91, 0.93]).std(), abs=1e-9)
    assert big["best"] and not cells[(cells.dataset == "ds1") & (cells.architecture == "small")].iloc[0]["best"]
    assert cells[cells.dataset == "ds2"].iloc[0]["best"]
    assert cells["fit_seconds_total"].tolist() == [6.0, 6.0, 6.0]


def test_significance_marks_cells_not_worse_than_best(results):
    fake_run(results, "ds1", "twin", 0, 0.905)
    fake_run(results, "ds1", "twin", 1, 0.905)
    fake_run(results, "ds1", "twin", 2, 0.925)
    cells = summarize(collect_runs(results), {"significance": {"test": "paired_t", "alpha": 0.05}}).set_index(["dataset", "architecture"])
    assert cells.loc[("ds1", "twin"), "not_worse"]
    assert not cells.loc[("ds1", "small"), "not_worse"] and cells.loc[("ds1", "small"), "p_value"] < 0.05


def test_missing_failed_diverged_and_damaged_runs_are_shown(results):
    fake_run(results, "ds3", "small", 0, 0, status="diverged")
    (results / "runs/ds3/small/default/seed1").mkdir(parents=True)
    write_json_atomic(results / "runs/ds3/small/default/seed1/failed.json", {"error": "DataError: NaN"})
    damaged = results / "runs/ds2/small/default/seed2/metrics.json"
    damaged.write_text(damaged.read_text()[:40])
    (results / "runs/ds2/small/default/seed1/history.csv").unlink()
    expected = discover_runs(results) + ["runs/ds3/small/default/seed2"]
    runs = collect_runs(results, expected)
    status = runs.set_index("path")["status"]
    assert status["runs/ds3/small/default/seed0"] == "diverged"
    assert status["runs/ds3/small/default/seed1"] == "failed"
    assert status["runs/ds3/small/default/seed2"] == "missing"
    assert status["runs/ds2/small/default/seed2"] == "damaged"
    assert "history.csv" in runs.set_index("path").loc["runs/ds2/small/default/seed1", "problem"]
    out = write_summary(runs, None, results / "summary")
    cells = out["cells"].set_index("dataset")
    assert cells.loc["ds3", "n"] == 0 and cells.loc["ds3", "status"] == "diverged"
    assert cells.loc["ds2", "n"] == 2 and cells.loc["ds2", "status"] == "partial"
    md = (results / "summary" / "summary.md").read_text()
    assert "| ds3 | small | default | 0/3 | diverged |" in md
    assert out["compute"]["failed"] == 1 and out["compute"]["diverged"] == 1 and out["compute"]["missing"] == 1


def test_outputs_are_byte_identical_on_rerun(results, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    write_summary(collect_runs(results), None, results / "s1")
    write_summary(collect_runs(results), None, other)
    for name in ("runs.csv", "summary.csv", "summary.md", "summary.tex", "compute.json"):
        assert (results / "s1" / name).read_bytes() == (other / name).read_bytes()


def test_markdown_and_latex_formatting(results):
    out = write_summary(collect_runs(results), {"decimals": 2, "percent": True}, results / "summary")
    md = (results / "summary" / "summary.md").read_text()
    assert "| ds1 | big | default | 3/3 | **91.33 ± 1.53** |" in md
    tex = (results / "summary" / "summary.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "\\textbf{91.33 $\\pm$ 1.53}" in tex
    assert tex.count("\\begin{tabular}") == 1
    assert out["compute"]["cpu_hours"] == pytest.approx(9 * 2.0 * 2 / 3600, abs=1e-6)


def test_latex_escapes_names():
    cells = pd.DataFrame([{"dataset": "a_b", "architecture": "x&y", "hparams": "lr0.1", "n": 1, "n_planned": 1, "status": "complete", "best": True, "not_worse": False, "test_accuracy_mean": 0.5, "test_accuracy_std": math.nan}])
    tex = render_latex(cells, {**__import__("mlpsweep.summary", fromlist=["DEFAULT_OPTIONS"]).DEFAULT_OPTIONS, "metrics": ["test_accuracy"]})
    assert "a\\_b & x\\&y" in tex


def test_compute_accounting_splits_cpu_and_gpu(tmp_path):
    fake_run(tmp_path, "d", "a", 0, 0.5, device="GPU", seconds=3600)
    fake_run(tmp_path, "d", "a", 1, 0.5, device="CPU", seconds=1800)
    acc = compute_accounting(collect_runs(tmp_path))
    assert acc["gpu_hours"] == 1.0 and acc["cpu_hours"] == 1.0 and acc["fit_hours"] == 1.5


def test_runs_csv_keeps_provenance_columns(results):
    runs = collect_runs(results)
    assert set(runs["slurm_job_id"]) == {"42"} and set(runs["device"]) == {"CPU"}
    assert json.loads(runs["confusion_matrix"][0]) == [[3, 1], [0, 4]]
