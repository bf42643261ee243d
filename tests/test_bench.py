"""The benchmark harness (bench/): its generated inputs are what they claim, and a tiny run works end to end.

No timing is asserted: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlpsweep.config import validate_config
from mlpsweep.data import load_dataset, split_and_scale
from mlpsweep.grid import expand_runs
from mlpsweep.summary import collect_runs

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import fit_speed  # noqa: E402
import planning_time  # noqa: E402
import summary_time  # noqa: E402
import sweep_overhead  # noqa: E402


@pytest.mark.parametrize("n_train", [300, 20000])
def test_fit_data_has_exactly_the_requested_training_rows(n_train):
    cfg = validate_config(fit_speed.sweep_config({"n_train": n_train, "n_features": 4, "n_classes": 4, "epochs": 1, "seeds": [0, 1, 2]}))
    run = expand_runs(cfg)[0]
    split = run.config["split"]
    splits = split_and_scale(load_dataset(run.config["dataset"]), split["validation"], split["test"], split["seed"])
    assert len(splits.y_train) == n_train


def test_sweep_config_is_3_datasets_by_4_architectures_by_3_seeds_one_job_per_core():
    cfg = validate_config(sweep_overhead.sweep_config({"n_samples": 300, "epochs": 1, "seeds": [0, 1, 2]}, cores=2))
    runs = expand_runs(cfg)
    assert len(runs) == 36 and len({r.dataset for r in runs}) == 3 and len({r.architecture for r in runs}) == 4
    assert cfg["execution"]["runs_per_job"] == 18


@pytest.mark.parametrize("n_runs", [160, 10000])
def test_planning_grid_has_exactly_n_runs(n_runs):
    assert len(expand_runs(validate_config(planning_time.grid_config(n_runs)))) == n_runs


def test_planning_grid_refuses_a_size_it_cannot_make():
    with pytest.raises(ValueError, match="not a multiple"):
        planning_time.grid_config(10001)


def test_generated_run_directories_read_as_finished_runs(tmp_path):
    paths = summary_time.generate(tmp_path, 160)
    runs = collect_runs(tmp_path, paths)
    assert len(runs) == 160
    assert (runs["status"] == "finished").all() and (runs["problem"] == "").all()
    assert runs["test_accuracy"].between(0, 1).all() and runs["confusion_matrix"].str.len().gt(0).all()


@pytest.mark.workflow
def test_quick_run_measures_every_figure(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--output", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = out.read_text()
    for figure in ("(a) fit", "(b) sweep", "(c) planning", "(d) summary", "(e) memory"):
        assert f"| {figure}" in text
    assert "cores 2" in text or "cores " in text
    found = json.loads(text.split("```json")[1].split("```")[0])
    a, b, c, d = found["a"], found["b"], found["c"], found["d"]
    assert len(a["per_seed"]["project"]) == len(a["per_seed"]["notebook"]) == 3
    assert 0 <= a["notebook_accuracy"] <= 1 and 0 <= a["project_accuracy"] <= 1
    assert b["runs"] == 4 and b["lower_bound_s"] > 0 and b["snakemake_s"] > 0
    assert 100 < b["job_max_rss_mb"] < 10_000
    assert c["runs"] == 160 and c["jobs"] == 20
    assert d["runs"] == 160
