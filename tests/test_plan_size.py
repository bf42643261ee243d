"""The size of a sweep printed at planning (plan_size), and the design warnings (design)."""

from __future__ import annotations

import pytest

from conftest import tiny_config
from epochs_data import make_epochs
from mlpsweep import design, plan_size
from mlpsweep.config import validate_config
from mlpsweep.grid import expand_runs, plan_jobs


def planned(cfg: dict, pack_size: int = 4):
    sweep = validate_config(cfg)
    runs = expand_runs(sweep)
    return sweep, runs, plan_jobs(runs, sweep["execution"]["runs_per_job"], pack_size)


def test_counts_per_data_set_and_total():
    # 2 data sets x 2 architectures x 2 learning rates x 2 seeds, 3-fold, 2 permutations per fold
    cfg = tiny_config(
        grid={"learning_rate": [0.01, 0.1]},
        split={"method": "kfold", "folds": 3},
        summary={"permutations": 2},
        execution={"runs_per_job": 8},
    )
    _, runs, jobs = planned(cfg)
    goodbad, iris, total = plan_size.sweep_size(runs, jobs)
    # per cell: 2 seeds x 3 folds real, 2 permutations x 3 folds (first seed only)
    assert (goodbad.cells, goodbad.runs, goodbad.real_runs, goodbad.permutation_runs) == (4, 48, 24, 24)
    assert (iris.cells, iris.runs, total.cells, total.runs, total.permutation_runs) == (4, 48, 8, 96, 48)
    # packs of 4 of one kind (kind: data set and shape; learning rates share packs): 24 runs per kind
    assert (goodbad.packs, total.packs, total.jobs) == (12, 24, 12)
    assert goodbad.windows == 0 and total.files == 96 * plan_size.FILES_PER_RUN
    assert goodbad.device_seconds is None and goodbad.megabytes is None
    line = plan_size.describe(goodbad)
    assert line == "goodbad: 4 cells, 48 runs (24 + 24 permutation), no windows, 12 packs, 6 jobs, 288 files"


def test_device_hours_and_disk_from_stored_figures():
    cfg = tiny_config(execution={"runs_per_job": 4})  # 2 epochs, 8 runs in 2 jobs
    _, runs, jobs = planned(cfg, pack_size=2)
    kinds = {run.kind for run in runs}
    figures = {
        "startup_seconds": 10.0,
        "kinds": {kind: {"seconds_per_run_epoch": 0.5, "bytes_per_run": 250_000} for kind in kinds},
    }
    *_, total = plan_size.sweep_size(runs, jobs, figures)
    assert len(runs) == 8 and len(jobs) == 2
    assert total.device_seconds == pytest.approx(8 * 2 * 0.5 + 10.0 * 2)
    assert total.megabytes == pytest.approx(8 * 0.25)
    assert plan_size.describe(total).endswith(", 0.00778 device-hours, 2 MB")
    lines = plan_size.render(plan_size.sweep_size(runs, jobs, figures), "r/estimates/figures.json")
    assert lines[-1].startswith("mlpsweep: sweep size: device-hours and MB of all planned runs")
    one_missing = {"startup_seconds": 10.0, "kinds": dict(list(figures["kinds"].items())[:1])}
    *_, total = plan_size.sweep_size(runs, jobs, one_missing)
    assert total.device_seconds is None and "--config estimate=calibrate" in plan_size.render([total], "f.json")[-1]


def test_an_estimate_stores_figures_that_keep_other_kinds(tmp_path):
    from mlpsweep.estimate import figures, merge_figures

    est = {
        "startup_seconds_per_job": 7.0,
        "measured_per_run_epoch": {"a": 0.2},
        "by_kind": [{"kind": "b", "per_run_epoch": 0.3}, {"kind": "c", "per_run_epoch": float("nan")}],
        "bytes_per_run": {"a": 1000.0},
    }
    new = figures(est)
    assert new == {
        "startup_seconds": 7.0,
        "kinds": {"a": {"seconds_per_run_epoch": 0.2, "bytes_per_run": 1000.0}, "b": {"seconds_per_run_epoch": 0.3}},
    }
    (tmp_path / "f.json").write_text(
        '{"startup_seconds": 1.0, "kinds": {"old": {"seconds_per_run_epoch": 9.0}, "b": {"bytes_per_run": 5.0}}}'
    )
    merged = merge_figures(tmp_path / "f.json", new)
    assert merged["startup_seconds"] == 7.0 and merged["kinds"]["old"] == {"seconds_per_run_epoch": 9.0}
    assert merged["kinds"]["b"] == {"seconds_per_run_epoch": 0.3, "bytes_per_run": 5.0}
    assert merge_figures(tmp_path / "missing.json", new) == new


def test_read_figures_of_no_estimate_is_empty(tmp_path):
    assert plan_size.read_figures(tmp_path / "nothing.json") == {}
    (tmp_path / "bad.json").write_text("not json")
    assert plan_size.read_figures(tmp_path / "bad.json") == {}


def test_generalization_adds_a_file_per_windowed_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_epochs(tmp_path / "eeg")
    epochs = {
        "source": "epochs",
        "path": "eeg/sub-{subject}_task-odd_epo.fif",
        "conditions": ["standard", "deviant"],
        "windows": {"length": 0.2, "step": 0.2},
    }
    cfg = tiny_config(
        datasets={"odd": epochs},
        architectures={"small": {"hidden": [8]}},
        split={"method": "leave_one_group_out", "group": "subject"},
        summary={"generalization": True},
    )
    _, runs, jobs = planned(cfg)
    (size, _) = plan_size.sweep_size(runs, jobs, generalization=True)
    assert size.windows == 4 and size.runs == 2 * 3 * 4 and size.files == size.runs * (plan_size.FILES_PER_RUN + 1)


# ---------------------------------------------------------------- design warnings


def epochs_sweep(tmp_path, split, subjects=("01", "02", "03"), seeds=(0, 1), **summary):
    make_epochs(tmp_path / "eeg", subjects=subjects)
    epochs = {
        "source": "epochs",
        "path": str(tmp_path / "eeg" / "sub-{subject}_task-odd_epo.fif"),
        "conditions": ["standard", "deviant"],
        "windows": {"length": 0.2, "step": 0.2},
    }
    cfg = tiny_config(
        datasets={"odd": epochs},
        architectures={"small": {"hidden": [8]}},
        split=split,
        seeds=list(seeds),
        summary=summary,
    )
    sweep, runs, _ = planned(cfg)
    return design.warnings_of(sweep, runs, "my.yaml")


def test_pooled_subjects_are_warned_with_the_fix(tmp_path):
    found = epochs_sweep(tmp_path, {"method": "holdout"})
    pooled = [w for w in found if "pools their trials" in w]
    assert (
        len(pooled) == 1
        and "split.method holdout" in pooled[0]
        and "group_kfold" in pooled[0]
        and "split.within: subject" in pooled[0]
    )
    # and its time course has 2 seeds as observations: p >= 1/4
    weak = [w for w in found if "cluster test" in w]
    assert len(weak) == 1 and "2 seeds as observations" in weak[0] and "0.25" in weak[0]


def test_a_time_course_with_too_few_subjects_is_warned(tmp_path):
    found = epochs_sweep(
        tmp_path, {"method": "leave_one_group_out", "group": "subject"}, subjects=("01", "02", "03", "04")
    )
    assert (
        len(found) == 1
        and "4 subjects as observations" in found[0]
        and "0.0625" in found[0]
        and "at least 5" in found[0]
    )
    assert (
        epochs_sweep(
            tmp_path / "five",
            {"method": "leave_one_group_out", "group": "subject"},
            subjects=("01", "02", "03", "04", "05"),
        )
        == []
    )


def test_too_few_cluster_permutations_are_warned(tmp_path):
    found = epochs_sweep(
        tmp_path,
        {"method": "leave_one_group_out", "group": "subject"},
        subjects=tuple(f"{k:02d}" for k in range(1, 7)),
        cluster_permutations=10,
    )
    assert len(found) == 1 and "raise summary.cluster_permutations" in found[0]


def test_options_without_effect_are_warned():
    sweep, runs, _ = planned(tiny_config(summary={"generalization": True}))
    (found,) = design.warnings_of(sweep, runs, "my.yaml")
    assert "summary.generalization" in found and "no data set has time windows" in found
    sweep, runs, _ = planned(tiny_config(training={"optimizer": "adam", "epochs": 2}, grid={"momentum": [0.0, 0.9]}))
    (found,) = design.warnings_of(sweep, runs, "my.yaml")
    assert "grid.momentum" in found and "adam" in found and "identical runs" in found
    sweep, runs, _ = planned(tiny_config(training={"optimizer": "sgd", "epochs": 2}, grid={"momentum": [0.0, 0.9]}))
    assert design.warnings_of(sweep, runs, "my.yaml") == []


def test_cells_that_train_identical_runs_are_warned():
    # early stopping settings without patience change nothing (identity.py)
    sweep, runs, _ = planned(tiny_config(grid={"early_stopping.min_delta": [0.0, 0.1]}))
    (found,) = design.warnings_of(sweep, runs, "my.yaml")
    assert "train identical runs" in found


def test_smallest_cluster_p():
    assert design.smallest_cluster_p(5, 1000) == 1 / 32
    assert design.smallest_cluster_p(9, 1000) == 1 / 512  # all 512 flips enumerated
    assert design.smallest_cluster_p(10, 1000) == 1 / 1000  # 2^10 > 1000: 1000 flips drawn, the observed among them
    assert design.smallest_cluster_p(12, 1000) == 1 / 1000
    assert design.smallest_cluster_p(1, 1000) == 1.0
