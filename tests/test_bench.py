"""The benchmark harness (bench/): its generated inputs are what they claim, its verdicts
follow its targets, and tiny runs of bench/run.py and bench/gpu.py work end to end.

No timing is asserted: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlpsweep.config import validate_config
from mlpsweep.data import load_dataset, make_splits
from mlpsweep.grid import expand_runs, plan_jobs

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import fit_speed  # noqa: E402
import planning_time  # noqa: E402
import run as bench_run  # noqa: E402
import sweep_overhead  # noqa: E402

CORES = len(os.sched_getaffinity(0))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_bench(script: str, *args: str, timeout: int) -> subprocess.CompletedProcess:
    """A bench/ script run as a user runs it, in a fresh process; its output captured."""
    cmd = [sys.executable, str(REPO / "bench" / script), *args]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout, env=ENV)


@pytest.mark.parametrize("n_train", [300, 20000])
def test_fit_data_has_exactly_the_requested_training_rows(n_train):
    cfg = validate_config(
        fit_speed.sweep_config({"n_train": n_train, "n_features": 4, "n_classes": 4, "epochs": 1, "seeds": [0, 1, 2]})
    )
    for run in expand_runs(cfg):  # every seed, the same rows (split.seed 0)
        splits = make_splits(load_dataset(run.config["dataset"]), run.config["split"], run.seed)
        assert len(splits.y_train) == n_train


def test_fit_seeds_of_a_pack_side_plan_as_two_packs_of_one_kind():
    cfg = validate_config(
        fit_speed.sweep_config({"n_train": 300, "n_features": 4, "n_classes": 4, "epochs": 1}, list(range(16)))
    )
    (job,) = plan_jobs(expand_runs(cfg), 16, 8)
    assert [[r.seed for r in p] for p in job.packs] == [list(range(8)), list(range(8, 16))]


def test_sweep_config_is_3_datasets_by_4_architectures_by_3_seeds_one_job_per_core_in_packs_of_3():
    cfg = validate_config(sweep_overhead.sweep_config({"n_samples": 300, "epochs": 1, "seeds": [0, 1, 2]}, cores=2))
    runs = expand_runs(cfg)
    assert len(runs) == 36 and len({r.dataset for r in runs}) == 3 and len({r.architecture for r in runs}) == 4
    assert cfg["execution"]["runs_per_job"] == 18
    jobs = plan_jobs(runs, cfg["execution"]["runs_per_job"], cfg["execution"]["pack_size"])
    assert len(jobs) == 2 and [len(p) for j in jobs for p in j.packs] == [3] * 12


@pytest.mark.parametrize("n_runs", [100, 160, 1000, 10000])
def test_planning_grid_has_exactly_n_runs(n_runs):
    assert len(expand_runs(validate_config(planning_time.grid_config(n_runs)))) == n_runs


def test_planning_grid_of_100000_runs_is_10_by_10_by_5_by_200_seeds():
    cfg = planning_time.grid_config(100000)
    assert (len(cfg["datasets"]), len(cfg["architectures"]), len(cfg["grid"]["learning_rate"]), len(cfg["seeds"])) == (
        10,
        10,
        5,
        200,
    )


def test_planning_grid_refuses_a_size_it_cannot_make():
    with pytest.raises(ValueError, match="not a multiple"):
        planning_time.grid_config(10001)


def test_generated_run_directories_read_as_finished_runs(tmp_path):
    summary_time = pytest.importorskip("summary_time")
    from mlpsweep.tables.runs import collect_runs

    paths = summary_time.generate(tmp_path, 160)
    runs = collect_runs(tmp_path, paths)
    assert len(runs) == 160
    assert (runs["status"] == "finished").all() and (runs["problem"] == "").all()
    assert runs["test_accuracy"].between(0, 1).all() and runs["confusion_matrix"].str.len().gt(0).all()


def _fit_figures(per_run: dict[int, float], notebook_s: float, gap: float) -> dict:
    packs = {
        str(k): {
            "per_run_s": s,
            "cold_per_run_s": 2 * s,
            "speedup_vs_pack1": per_run[1] / s,
            "speedup_vs_notebook": notebook_s / s,
            "accuracy": 0.7,
            "accuracy_gap_points": gap,
            "warm_fit_per_run_s": s / 2,
        }
        for k, s in per_run.items()
    }
    return {
        "notebook": {"per_run_s": notebook_s, "accuracy": 0.7},
        "packs": packs,
        "release_0_1_fit_run": fit_speed.RELEASE_0_1,
    }


@pytest.mark.parametrize(
    "per_run, gap, met",
    [
        ({1: 0.70, 8: 0.20}, 0.1, [True, True, True]),  # 3.5x, 0.70 s <= 0.72 s, 5.0 / 0.2 = 25x
        ({1: 0.75, 8: 0.35}, 0.1, [False, False, False]),  # 2.1x, slower than 0.72 s, 14.3x
        ({1: 0.70, 8: 0.20}, 0.6, [True, True, False]),  # accuracy 0.6 points apart
    ],
)
def test_verdicts_follow_the_targets(per_run, gap, met):
    found = {
        "a": _fit_figures(per_run, 5.0, gap),
        "e": {"pack_size": 32, "max_rss_mb": 1025.0, "import_only_rss_mb": 700.0, "by_pack_size_mb": {}},
        "c": {
            "growth": 1.6,
            "sizes": {
                "1000": {"runs": 1000, "seconds": 2.0, "per_run_ms": 2.0},
                "100000": {"runs": 100000, "seconds": 320.0, "per_run_ms": 3.2},
            },
        },
    }
    verdicts = [m for *_, m in bench_run.rows(found)]
    assert verdicts == [*met, False, False]  # (c) 1.6x > 1.5x; (e) 1025 MB > 1 GB


@pytest.mark.workflow
def test_quick_run_measures_every_figure(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = run_bench("run.py", "--quick", "--output", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = out.read_text()
    assert f"; cores {CORES};" in text
    figures = [
        "(a) pack of 4 ÷ pack size 1",
        "(a) pack size 1 vs release 0.1",
        "(a) notebook `model.fit` ÷ pack of 4",
        "(b) sweep",
        "(c) planning",
        "(e) memory",
        "(f) estimate",
    ]
    if bench_run.summary_time is not None:
        figures.append("(d) summary")
    for figure in figures:
        row = next((line for line in text.splitlines() if line.startswith(f"| {figure}")), None)
        assert row is not None, f"no row {figure!r} in\n{text}"
        assert row.rstrip().endswith(("| yes |", "| no |")), row
    found = json.loads(text.split("```json")[1].split("```")[0])

    a = found["a"]
    assert set(a["packs"]) == {"1", "4"}
    for side in ("notebook", "spe"):
        assert a[side]["per_run_s"] > a[side]["fit_only_s"] > 0 and 0 <= a[side]["accuracy"] <= 1
        assert [r["seed"] for r in a[side]["per_seed"]] == [0]
    assert a["spe"]["steps_per_execution"] == 64
    for k, p in a["packs"].items():
        assert p["per_run_s"] > 0 and p["cold_per_run_s"] > 0 and 0 < p["warm_fit_per_run_s"] < p["per_run_s"]
        assert p["seeds"] == 2 * int(k) and 0 <= p["accuracy"] <= 1
        assert p["speedup_vs_pack1"] == pytest.approx(a["packs"]["1"]["per_run_s"] / p["per_run_s"])
        assert p["speedup_vs_notebook"] == pytest.approx(a["notebook"]["per_run_s"] / p["per_run_s"])
        assert 100 < p["max_rss_mb"] < 10_000 and p["threads"] == 1 and p["steps_per_execution"] == 256

    b = found["b"]
    assert b["runs"] == 4 and sum(b["pack_members"]) == 4 and b["pack_size"] == 16
    assert b["lower_bound_s"] > 0 and b["snakemake_s"] >= b["snakemake_to_tables_s"] > 0
    assert b["ratio_to_tables"] == pytest.approx(b["snakemake_to_tables_s"] / b["lower_bound_s"])
    assert 100 < b["job_max_rss_mb"] < 10_000

    c = found["c"]
    assert set(c["sizes"]) == {"100", "200"}
    for n, s in c["sizes"].items():
        assert s["runs"] == int(n) and s["jobs"] >= 1 and s["seconds"] > 0
        assert s["per_run_ms"] == pytest.approx(1000 * s["seconds"] / s["runs"])
        assert set(s["steps_s"]) == {"validate_config", "expand_runs", "plan_jobs", "job_params"}
    assert c["growth"] == pytest.approx(c["sizes"]["200"]["per_run_ms"] / c["sizes"]["100"]["per_run_ms"])

    if "d" in found:
        assert set(found["d"]["sizes"]) == {"80", "160"}
        for n, d in found["d"]["sizes"].items():
            assert d["runs"] == int(n) and d["aggregate_s"] > 0 and d["json_load_s"] > 0
            assert d["ratio_to_json_load"] == pytest.approx(d["aggregate_s"] / d["json_load_s"])
            assert 0 < d["collect_s"] < d["aggregate_s"] and d["cells"] == 20  # 2 x 2 x 5 learning rates
    for phase, source in (("calibrated", "calibrated on"), ("measured", "measured: 2 finished runs in packs of 2")):
        f = found["f"][phase]
        assert f["runs"] == 2 and f["from"].startswith(source), f
        assert f["recorded_training_s"] > 0 and f["recorded_device_s"] > f["recorded_training_s"]
        assert f["training_ratio"] == pytest.approx(f["estimated_training_s"] / f["recorded_training_s"])
        assert f["device_ratio"] == pytest.approx(f["estimated_device_s"] / f["recorded_device_s"])
    e = found["e"]
    assert e["pack_size"] == 4 and e["max_rss_mb"] == a["packs"]["4"]["max_rss_mb"]
    assert 100 < e["import_only_rss_mb"] < 10_000


needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")


@needs_jax
def test_gpu_check_runs_on_cpu_without_tensorflow_sklearn_or_pandas(tmp_path):
    out = tmp_path / "GPU.md"
    proc = run_bench("gpu.py", "--quick", "--output", str(out), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert sum(line.startswith("| Pack size |") for line in lines) == 1  # one table
    sizes = [
        int(line.split("|")[1]) for line in lines if line.startswith("| ") and line.split("|")[1].strip().isdigit()
    ]
    assert sizes == [1, 2, 4]
    assert any(
        line.startswith(
            "Fidelity (the engine's full float32 matrix products): seed 0 alone vs member 0 of a pack of 64"
        )
        and line.endswith("PASS")
        for line in lines
    )
    assert any(line.startswith("Devices: jax.devices() = ") for line in lines)
    assert "Imports: TensorFlow, scikit-learn and pandas never imported; SciPy only by jax." in proc.stdout
    assert out.read_text().strip() == proc.stdout.strip()


@needs_jax
def test_gpu_check_refuses_what_the_gpu_machine_lacks():
    code = "import sys; sys.argv = ['gpu.py']; sys.path.insert(0, 'bench'); import gpu; import sklearn"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode != 0 and "No module named 'sklearn' (bench/gpu.py refuses it" in proc.stderr


def test_permutation_records_are_compact_rows_read_as_finished_runs(tmp_path):
    import permutation_records
    from mlpsweep import compact, record
    from mlpsweep.tables.runs import collect_runs

    size = permutation_records.Size(subjects=2, folds=1, windows=2, permutations=40)
    paths, generated = permutation_records.generate(tmp_path / "results", size)
    assert (
        len(paths) == size.real + size.permuted == 164 and generated["compact_files"] == 4
    )  # 3 packs of 64, 1 names file
    runs = collect_runs(tmp_path / "results", paths)
    assert (runs["status"] == "finished").all() and (runs["problem"] == "").all()
    assert runs["permutation"].notna().sum() == 160 and runs["test_accuracy"].between(0, 1).all()
    rec = record.read(tmp_path / "results" / paths[-1])
    assert rec.stored["layout"] == compact.LAYOUT and rec.window["start"] == 0.01 and rec.run["subject"] == "02"


def test_permutation_records_quick_run_times_every_part(tmp_path):
    out, figures = tmp_path / "PERMUTATIONS.md", tmp_path / "figures.json"
    proc = run_bench("permutation_records.py", "--quick", "--output", str(out), "--json", str(figures), timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    found = json.loads(figures.read_text())["quick"]
    assert found["summary"]["rows"] == found["real"] + found["permuted"] == 144
    assert found["summary"]["statuses"] == {"finished": 144}
    assert "reading the records (collect_runs)" in found["summary"]["parts"]
    parts = found["timecourse"]["parts"]
    assert {"reading the permutation records (collect_null)", "model-level group null (add_null_columns)"} <= set(parts)
    assert found["timecourse"]["draws"] == 6**3 - 1  # 3 subjects, 5 permutations + the real labelling each
    assert 0 < found["peak_gb"] < 4 and found["total_s"] > 0
    assert "### quick: 120 permutation records + 24 real runs" in out.read_text()


@pytest.mark.slow  # a real Snakemake sweep (two training jobs, the summary, plots and time course)
@pytest.mark.workflow
def test_permutation_scale_quick_run_accounts_for_every_part_of_the_jobs(tmp_path):
    out = tmp_path / "SCALE.md"
    proc = run_bench("permutation_scale.py", "--size", "quick", "--output", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = out.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| quick | 8 + 16 |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[6] == "6.0" and cells[8] == "0.2500"  # 6 files per real run; one compact file per pack of 4
    parts = next(line for line in text.splitlines() if line.startswith("| quick | 2 |"))  # two training jobs
    assert "(" in parts and float(parts.split("|")[-3]) > 0  # the jobs' wall time, from their manifests
