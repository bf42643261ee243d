"""Unbalanced conditions (an oddball: 25 % deviants) without any effect: no window or cell is
called above chance by accuracy, the AUC time course sits at 0.5 with nothing significant;
with an effect, the AUC time course finds it (made-up predictions, scored as training does)."""

import functools

import numpy as np
import pytest

from fakes import write_run

from mlpsweep import auc, rundir, timecourse, timecourse_plots
from mlpsweep.metrics import classification_metrics
from mlpsweep.tables.runs import collect_runs
from mlpsweep.tables.summary import write_summary

WINDOWS = [round(-0.2 + 0.1 * k, 3) for k in range(10)]
EFFECT = range(4, 8)
COUNTS = (30, 10)  # standard, deviant: 25 % deviants
OPTIONS = {"cluster_permutations": 1000}


def scores(rng, effect: float) -> dict:
    """A run's test scores: deviant probabilities from a decoder biased to the majority class,
    `effect` higher for deviants than standards."""
    y = np.repeat([0, 1], COUNTS)
    logit = rng.normal(-1.0, 1.0, len(y)) + effect * y
    p = auc.probabilities(np.c_[np.zeros(len(y)), logit])
    found = classification_metrics(y, p.argmax(axis=1), 2)
    return {
        "accuracy": found["accuracy"],
        "test_balanced_accuracy": found["balanced_accuracy"],
        "test_roc_auc": auc.roc_auc(y, p),
    }


def oddball(results, dataset: str, effect: float, seed: int, subjects: int = 8) -> None:
    rng = np.random.default_rng(seed)
    for s in range(subjects):
        for fold in range(2):
            for w, start in enumerate(WINDOWS):
                found = scores(rng, effect if w in EFFECT else 0.0)
                write_run(results, dataset, "mlp", "default", seed=0, fold=fold, subject=f"{s + 1:02d}", window=start,
                          accuracy=found.pop("accuracy"), metrics=found, class_counts=COUNTS)  # fmt: skip


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    results = tmp_path_factory.mktemp("oddball") / "results"
    oddball(results, "null", 0.0, seed=0)
    oddball(results, "effect", 2.0, seed=1)
    write_summary(collect_runs(results, rundir.discover(results)), OPTIONS, results / "summary")
    return results


def table_of(results, metric: str):
    return timecourse_plots.write_timecourse_outputs(
        results, results / "summary", results / "plots", {**OPTIONS, "timecourse_metric": metric}
    )


def test_accuracy_without_effect_is_never_above_the_majority_rate(results):
    table = table_of(results, "test_accuracy")
    null = table[table["dataset"] == "null"]
    assert (null["chance_majority"] == 0.75).all() and (null["chance_threshold"] >= null["chance_majority"]).all()
    assert not null["above_threshold"].any() and not null["significant"].any()
    md = (results / "summary" / "timecourse.md").read_text()
    assert "null: unbalanced test trials (majority class 0.750)" in md and "test_roc_auc" in md
    cells = (results / "summary" / "summary.csv").read_text()
    assert "above_chance" in cells.splitlines()[0]
    import pandas as pd

    summary = pd.read_csv(results / "summary" / "summary.csv")
    assert not summary.loc[summary["dataset"] == "null", "above_chance"].any()


def test_auc_time_course_sits_at_half_without_effect_and_finds_the_effect(results):
    table = table_of(results, "test_roc_auc")
    assert "test_roc_auc_mean" in table and "chance_level" in table and "test_accuracy_mean" not in table
    null, effect = table[table["dataset"] == "null"], table[table["dataset"] == "effect"]
    assert (null["chance_level"] == 0.5).all() and null["observation_mean"].sub(0.5).abs().max() < 0.06
    assert not null["significant"].any()  # (above_threshold is per window, uncorrected: a false positive in 20 windows)
    assert (null["chance_threshold"] > 0.5).all() and (null["chance_threshold"] < 0.56).all()
    assert effect.loc[effect["significant"], "window"].tolist() == [timecourse.window_label(WINDOWS[w]) for w in EFFECT]
    md = (results / "summary" / "timecourse.md").read_text()
    assert "| Test AUC |" in md and "Mann-Whitney" in md and "unbalanced" not in md
    assert (results / "plots" / "timecourse" / "null.png").is_file()


def test_balanced_accuracy_threshold_from_permutation_runs_where_the_sweep_has_them(tmp_path):
    for fold in range(2):
        run = functools.partial(write_run, tmp_path, "d", "mlp", seed=0, fold=fold, window=0.0, accuracy=0.7,
                                class_counts=COUNTS)  # fmt: skip
        run(metrics={"test_balanced_accuracy": 0.6})
        for perm in range(1, 21):
            run(permutation=perm, metrics={"test_balanced_accuracy": 0.45 + perm / 100})
    write_summary(collect_runs(tmp_path, rundir.discover(tmp_path)), OPTIONS, tmp_path / "summary")
    table = table_of(tmp_path, "test_balanced_accuracy")
    assert table["chance_level"].tolist() == [0.5]
    assert table["chance_threshold"].iloc[0] == pytest.approx(np.quantile(0.45 + np.arange(1, 21) / 100, 0.95))
    assert "label-permutation runs" in (tmp_path / "summary" / "timecourse.md").read_text()


SCORE_OPTIONS = {**OPTIONS, "metrics": ["test_accuracy", "test_balanced_accuracy", "test_roc_auc"]}


def test_summary_marks_auc_and_balanced_accuracy_against_their_own_thresholds(results):
    import pandas as pd

    from mlpsweep.selection import write_selection
    from mlpsweep.tables.options import options_with_defaults

    out = write_summary(collect_runs(results, rundir.discover(results)), SCORE_OPTIONS, results / "scores")
    cells = out["cells"].set_index("dataset")
    for metric in ("test_balanced_accuracy", "test_roc_auc"):
        assert (cells[f"chance_method_{metric}"] == "normal").all()
        assert 0.5 < cells.at["null", f"chance_threshold_{metric}"] < 0.52  # 6400 test trials of one seed
        assert not cells.at["null", f"above_chance_{metric}"] and cells.at["effect", f"above_chance_{metric}"]
    assert not cells["above_chance"].any()  # accuracy: no cell beats always answering "standard"
    saved = pd.read_csv(results / "scores" / "summary.csv")
    assert saved.columns[-3:].tolist() == ["chance_threshold_test_roc_auc", "chance_method_test_roc_auc",
                                           "above_chance_test_roc_auc"]  # fmt: skip
    md = (results / "scores" / "summary.md").read_text()
    null, effect = (next(line for line in md.splitlines() if line.startswith(f"| {d} |")) for d in ("null", "effect"))
    assert null.split(" | ")[5:7] == ["0.508 ± 0.066 ‡", "0.511 ± 0.111 ‡ |"]
    assert "‡" not in "".join(effect.split(" | ")[5:])
    assert "Hanley & McNeil 1982; Mason & Graham 2002" in md and "Test AUC of null: chance level 0.500" in md
    assert "Test bal. acc.: chance level 1 / classes whatever the class balance" in md
    tex = (results / "scores" / "summary.tex").read_text()
    assert "0.511 $\\pm$ 0.111$^\\ddagger$" in tex and "Hanley \\& McNeil 1982" in tex
    write_selection(out["runs"], out["cells"], options_with_defaults(SCORE_OPTIONS), results / "scores")
    selected = (results / "scores" / "selected.md").read_text()
    assert "Test AUC of effect: chance level 0.500; above chance (p < 0.05) means above 0.514" in selected


def test_auc_threshold_of_a_cell_from_its_permutation_runs(tmp_path):
    for fold in range(2):
        write_run(tmp_path, "d", "mlp", fold=fold, metrics={"test_roc_auc": 0.6}, class_counts=COUNTS)
        for perm in range(1, 21):
            write_run(tmp_path, "d", "mlp", fold=fold, permutation=perm, metrics={"test_roc_auc": 0.45 + perm / 100},
                      class_counts=COUNTS)  # fmt: skip
    options = {"metrics": ["test_accuracy", "test_roc_auc"]}
    cells = write_summary(collect_runs(tmp_path, rundir.discover(tmp_path)), options, tmp_path / "summary")["cells"]
    expected = np.quantile(0.45 + np.arange(1, 21) / 100, 0.95)
    assert cells.at[0, "chance_threshold_test_roc_auc"] == pytest.approx(expected)
    assert cells.at[0, "chance_method_test_roc_auc"] == "permutation" and not cells.at[0, "above_chance_test_roc_auc"]
    md = (tmp_path / "summary" / "summary.md").read_text()
    assert "0.600 ± 0.000 ‡" in md and "the 0.95 quantile of the cell's label-permutation runs" in md


def test_no_score_threshold_columns_where_the_scores_are_not_shown(results):
    from mlpsweep.tables.cells import cell_dtypes

    write_summary(collect_runs(results, rundir.discover(results)), {"metrics": ["test_accuracy"]}, results / "plain")
    header = (results / "plain" / "summary.csv").read_text().splitlines()[0]
    assert header == ",".join(cell_dtypes()) and "Test AUC" not in (results / "plain" / "summary.md").read_text()
