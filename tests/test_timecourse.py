"""Decoding over time from fake windowed runs: the time-course table's arithmetic, the cluster
test (MNE) finding a planted interval and nothing in chance data, the figures, temporal
generalization (training side with a stand-in pack, matrices and figures), byte-identical
regeneration."""

import math
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fakes import summarize_fakes, write_run

from mlpsweep import generalization, rundir, timecourse, timecourse_plots
from mlpsweep.stats.chance import chance_threshold
from mlpsweep.stats.cluster import cluster_test

WINDOWS = [round(-0.2 + 0.1 * k, 3) for k in range(10)]  # starts -0.2 .. 0.7, 0.1 s long
EFFECT = range(4, 8)  # windows 4-7 (0.2 .. 0.5 s) hold the effect
OPTIONS = {"cluster_permutations": 1000}


def planted(n_subjects: int, effect: float, seed: int = 0) -> np.ndarray:
    """Subjects x windows accuracies: chance (0.5) plus noise, `effect` above it in windows 4-7."""
    rng = np.random.default_rng(seed)
    acc = 0.5 + rng.normal(0, 0.03, (n_subjects, len(WINDOWS)))
    acc[:, list(EFFECT)] += effect
    return np.clip(acc, 0, 1)


def write_within(results, dataset, accuracies, folds=2, gen=None):
    """Within-subject runs: per subject x fold x window, the subject's accuracy (folds +-0.01)."""
    for s, row in enumerate(accuracies):
        for fold in range(folds):
            for w, start in enumerate(WINDOWS):
                extra = {"generalization": gen(w)} if gen else {}
                write_run(results, dataset, "mlp", "default", seed=0, fold=fold, subject=f"{s + 1:02d}", window=start,
                          accuracy=float(row[w]) + (0.01 if fold else -0.01), class_counts=(10, 10), **extra)  # fmt: skip


def generalization_of(w: int) -> dict:
    """A run trained at window w: 0.85 on its own window inside the effect, 0.75 elsewhere in it, chance outside."""
    inside = w in EFFECT
    return {t: (0.85 if t == WINDOWS[w] else 0.75) if inside and k in EFFECT else 0.5 for k, t in enumerate(WINDOWS)}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """eeg: within-subject, 8 subjects, effect in windows 4-7, with generalization.csv;
    null: within-subject, chance everywhere; loso: cross-subject, leave one subject out;
    tab: a data set without windows."""
    results = tmp_path_factory.mktemp("tc") / "results"
    write_within(results, "eeg", planted(8, 0.25), gen=generalization_of)
    write_within(results, "null", planted(8, 0.0, seed=1))
    acc = planted(6, 0.2, seed=2)
    for s in range(6):
        for w, start in enumerate(WINDOWS):
            correct = round(acc[s, w] * 20)
            write_run(
                results,
                "loso",
                "mlp",
                "default",
                seed=0,
                fold=s,
                window=start,
                accuracy=correct / 20,
                groups={f"{s + 1:02d}": (20, correct)},
                class_counts=(10, 10),
            )
    for seed in range(2):
        write_run(results, "tab", "mlp", "default", seed=seed, accuracy=0.9)
    summarize(results)
    return results


def summarize(results):
    """summary/ of the fake runs (runs.csv: what the time course reads)."""
    return summarize_fakes(results, OPTIONS)


@pytest.fixture(scope="module")
def table(sweep):
    return timecourse_plots.write_timecourse_outputs(sweep, sweep / "summary", sweep / "plots", OPTIONS)


def test_table_arithmetic_from_a_small_grid(tmp_path):
    """Mean/std over (seed, fold) runs, s.e.m. over folds, binomial threshold of one seed's trials."""
    accs = {(0, 0): 0.6, (0, 1): 0.7, (1, 0): 0.8, (1, 1): 0.9}
    for (seed, fold), a in accs.items():
        for start in (0.0, 0.1):
            write_run(
                tmp_path, "p", "mlp", "default", seed=seed, fold=fold, window=start, accuracy=a, class_counts=(20, 20)
            )
    table = timecourse.timecourse_table(timecourse.collect_windows(tmp_path, summarize(tmp_path)), OPTIONS)
    assert table["window"].tolist() == ["+0.000", "+0.100"]
    row = table.iloc[0]
    assert (
        row["protocol"] == "pooled" and row["observations"] == "folds" and row["n"] == 4 and row["n_observations"] == 2
    )
    assert row["test_accuracy_mean"] == pytest.approx(0.75)
    assert row["test_accuracy_std"] == pytest.approx(np.std(list(accs.values()), ddof=1))
    folds = np.array([(0.6 + 0.8) / 2, (0.7 + 0.9) / 2])  # each fold's mean over seeds
    assert row["observation_mean"] == pytest.approx(folds.mean())
    assert row["sem"] == pytest.approx(folds.std(ddof=1) / math.sqrt(2))
    assert row["window_centre"] == pytest.approx(0.05) and row["window_length"] == pytest.approx(0.1)
    from scipy.stats import binom

    assert row["chance_majority"] == pytest.approx(0.5)
    assert row["chance_threshold"] == pytest.approx(binom.ppf(0.95, 80, 0.5) / 80)  # 2 folds x 40 test trials of seed 0
    assert row["chance_threshold"] == pytest.approx(float(chance_threshold(80, 2, 0.05)))
    assert bool(row["above_threshold"])


def test_cluster_test_finds_a_planted_interval_and_nothing_in_chance():
    x = planted(10, 0.15) - 0.5
    clusters, p, threshold = cluster_test(x, 1000, 0.05)
    significant = [np.flatnonzero(c).tolist() for c, pv in zip(clusters, p) if pv < 0.05]
    assert significant == [list(EFFECT)]
    assert threshold == pytest.approx(1.833, abs=1e-3)  # t(0.95, 9)
    clusters, p, _ = cluster_test(planted(10, 0.0, seed=3) - 0.5, 1000, 0.05)
    assert not (p < 0.05).any()
    again = cluster_test(x, 1000, 0.05)
    assert np.array_equal(again[1], cluster_test(x, 1000, 0.05)[1])  # fixed seed


def test_within_subject_time_course_is_at_chance_before_and_significant_inside(table):
    eeg = table[table["dataset"] == "eeg"]
    assert eeg["protocol"].unique().tolist() == ["within-subject"] and (eeg["observations"] == "subjects").all()
    assert (eeg["n_observations"] == 8).all() and (eeg["n"] == 16).all()  # 8 subjects x 2 folds
    assert eeg["significant"].tolist() == [k in EFFECT for k in range(10)]
    assert (eeg.loc[eeg["significant"], "cluster_p"] < 0.05).all()
    assert eeg["above_threshold"].tolist() == [k in EFFECT for k in range(10)]
    null = table[table["dataset"] == "null"]
    assert len(null) == 10 and not null["significant"].any()


def test_cross_subject_observations_are_the_held_out_subjects(table, sweep):
    loso = table[table["dataset"] == "loso"]
    assert loso["protocol"].unique().tolist() == ["cross-subject"] and (loso["n_observations"] == 6).all()
    assert loso["significant"].tolist() == [k in EFFECT for k in range(10)]
    acc = np.round(planted(6, 0.2, seed=2) * 20) / 20
    assert loso["observation_mean"].to_numpy() == pytest.approx(acc.mean(axis=0))
    assert "tab" not in set(table["dataset"])  # no windows, no rows


def test_markdown_names_the_method(sweep, table):
    md = (sweep / "summary" / "timecourse.md").read_text()
    assert "mne.stats.permutation_cluster_1samp_test" in md and "tail=1" in md and "1000 sign-flip permutations" in md
    assert "eeg: within-subject decoding, 8 subjects as observations." in md
    assert "| eeg | mlp | default | within-subject | +0.200 |" in md
    csv = pd.read_csv(sweep / "summary" / "timecourse.csv")
    assert list(csv.columns) == timecourse.TABLE_COLUMNS and len(csv) == 30
    empty = timecourse.render_markdown(timecourse.timecourse_table(pd.DataFrame(columns=timecourse.WINDOW_COLUMNS)), {})
    assert empty.startswith("No time-course rows")


def test_time_course_figures_are_drawn(sweep, table):
    names = sorted(p.name for p in (sweep / "plots" / "timecourse").iterdir())
    assert names == ["eeg.pdf", "eeg.png", "loso.pdf", "loso.png", "null.pdf", "null.png"]
    assert (sweep / "plots" / "timecourse" / "eeg.png").read_bytes().startswith(b"\x89PNG")


def test_generalization_matrix_diagonal_inside_the_effect_beats_corners(sweep, table):
    matrices = timecourse_plots.write_generalization_outputs(sweep, sweep / "summary", sweep / "plots", OPTIONS)
    assert list(matrices) == [("eeg", "mlp", "default")]
    text = (sweep / "summary" / "generalization" / "eeg_mlp_default.csv").read_text()
    matrix = pd.read_csv(pd.io.common.StringIO(text), index_col="train_window")
    assert matrix.shape == (10, 10) and list(matrix.columns)[:2] == ["-0.200", "-0.100"]
    values = matrix.to_numpy()
    inside = [values[k, k] for k in EFFECT]
    corners = [values[0, 0], values[0, -1], values[-1, 0], values[-1, -1]]
    assert min(inside) > max(corners)
    assert (
        values[5, 5] == pytest.approx(0.85)
        and values[4, 6] == pytest.approx(0.75)
        and values[0, 5] == pytest.approx(0.5)
    )
    assert sorted(p.name for p in (sweep / "plots" / "generalization").iterdir()) == [
        "eeg_mlp_default.pdf",
        "eeg_mlp_default.png",
    ]


def test_outputs_regenerate_byte_identically(sweep, table, tmp_path):
    moved = tmp_path / "elsewhere" / "results"
    shutil.copytree(sweep, moved)
    shutil.rmtree(moved / "plots")
    timecourse_plots.write_timecourse_outputs(moved, moved / "summary", moved / "plots", OPTIONS)
    timecourse_plots.write_generalization_outputs(moved, moved / "summary", moved / "plots", OPTIONS)
    timecourse_plots.write_generalization_outputs(sweep, sweep / "summary", sweep / "plots", OPTIONS)
    files = [
        p.relative_to(sweep)
        for folder in ("plots/timecourse", "plots/generalization", "summary/generalization")
        for p in (sweep / folder).iterdir()
    ]
    files += [sweep.joinpath("summary", n).relative_to(sweep) for n in ("timecourse.csv", "timecourse.md")]
    assert len(files) == 11  # 3 time courses, 1 matrix (png, pdf), its CSV, the table (csv, md)
    for rel in files:
        assert (sweep / rel).read_bytes() == (moved / rel).read_bytes(), rel


def test_no_generalization_files_leave_a_note(tmp_path):
    write_run(tmp_path, "p", "mlp", "default", seed=0, window=0.0, accuracy=0.7)
    summarize(tmp_path)
    assert (
        timecourse_plots.write_generalization_outputs(tmp_path, tmp_path / "summary", tmp_path / "plots", OPTIONS) == {}
    )
    assert "summary.generalization: true" in (tmp_path / "summary" / "generalization" / "README.md").read_text()


class StandInPack:
    """The engine Pack's evaluate(): each member predicts class 1 where its first feature > 0."""

    def evaluate(self, xs, ys, weights):
        acc = [float(((x[:, 0] > 0).astype(int) == y.argmax(1)).mean()) if len(y) else math.nan for x, y in zip(xs, ys)]
        return {"accuracy": acc, "logits": [np.c_[np.zeros(len(x)), x[:, 0]] for x in xs]}


def test_generalization_evaluates_every_window_with_the_members_own_standardization():
    """Trials x 1 channel x 5 samples; class 1 has +1 at samples 2-3 only; windows of 1 sample."""
    y = np.array([0, 1] * 10)
    x = np.zeros((20, 1, 5)) + 3.0  # a raw offset of 3: only standardizing with the mean 3 reveals the effect
    x[:, 0, 2:4] += np.where(y == 1, 1.0, -1.0)[:, None]
    data = SimpleNamespace(x3=x, starts=[0.0, 0.1, 0.2, 0.3, 0.4])

    def features(d, start, length):
        return d.x3[:, :, int(round(start * 10))].reshape(len(d.x3), -1)

    test = np.arange(10, 20)
    member = lambda mean: SimpleNamespace(  # noqa: E731
        run=SimpleNamespace(config={"dataset": {"windows": {"length": 0.1}}, "window": 0.2}),
        splits=SimpleNamespace(
            test_index=test, y_test=y[test], n_classes=2, n_features=1, mean=np.array([mean]), scale=np.array([1.0])
        ),
    )
    unwindowed = SimpleNamespace(run=SimpleNamespace(config={"dataset": {}}), splits=member(3.0).splits)
    group = [member(3.0), member(0.0), unwindowed]
    out = generalization.evaluate(
        StandInPack(), None, group, [data, data, data], features=features, starts=lambda d: d.starts
    )
    assert out[2] is None
    assert [r[0] for r in out[0]] == data.starts and all(r[2] == 10 for r in out[0])
    assert [r[1] for r in out[0]] == [0.5, 0.5, 1.0, 1.0, 0.5]  # only windows 2-3 decode
    assert [r[4] for r in out[0]] == [0.5, 0.5, 1.0, 1.0, 0.5] == [r[3] for r in out[0]]  # AUC and balanced accuracy
    assert [r[1] for r in out[1]] == [0.5] * 5  # unstandardized (mean 0): everything is class 1
    assert [r[4] for r in out[1]] == [0.5, 0.5, 1.0, 1.0, 0.5]  # AUC does not depend on the offset's threshold
    text = rundir.generalization_csv(out[0])
    assert text.splitlines()[:2] == ["test_window,accuracy,n_test,balanced_accuracy,roc_auc", "+0.000,0.5,10,0.5,0.5"]
    assert rundir.generalization_csv([r[:3] for r in out[0]]).splitlines()[1] == "+0.000,0.5,10"  # runs before AUC
