"""Decoders compared (summary.compare) on made-up runs: a planted difference is found with its
sign, none between two draws of one decoder, the two-sided cluster test and the paired t-test
keep their false-positive rate, pairs are matched by grid point, outputs regenerate byte for byte."""

import shutil

import numpy as np
import pytest
from scipy.stats import binomtest

from fakes import write_run

from mlpsweep import comparison_plots, comparisons, rundir
from mlpsweep.stats.cluster import cluster_test
from mlpsweep.stats.paired import paired_pvalues
from mlpsweep.tables.runs import collect_runs
from mlpsweep.tables.summary import write_summary

WINDOWS = [round(-0.2 + 0.1 * k, 3) for k in range(10)]  # starts -0.2 .. 0.7, 0.1 s long
EFFECT = range(4, 8)  # windows 4-7 hold the effect the MLP decodes and the baseline cannot
SUBJECTS = 10
OPTIONS = {"cluster_permutations": 1000, "compare": {"baseline": "linear"}}
REPEATS = 200  # made-up null draws per false-positive check


def accuracies(effect: float, seed: int) -> np.ndarray:
    """Subjects x windows: a subject's level (shared by every decoder of it) + noise + `effect` in windows 4-7."""
    level = 0.55 + np.random.default_rng(99).normal(0, 0.05, (SUBJECTS, 1))
    acc = level + np.random.default_rng(seed).normal(0, 0.02, (SUBJECTS, len(WINDOWS)))
    acc[:, list(EFFECT)] += effect
    return np.clip(acc, 0, 1)


def write_cell(results, architecture, acc, dataset="eeg", hparams="default"):
    for s, row in enumerate(acc):
        for fold in range(2):
            for w, start in enumerate(WINDOWS):
                write_run(results, dataset, architecture, hparams, seed=0, fold=fold, subject=f"{s + 1:02d}", window=start,
                          accuracy=float(row[w]) + (0.01 if fold else -0.01), class_counts=(10, 10))  # fmt: skip


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """eeg: linear at the subject's level everywhere, mlp +0.15 in windows 4-7, worse -0.15 there,
    twin another draw of linear; other/default without a baseline cell; tab: no windows, 5 folds."""
    results = tmp_path_factory.mktemp("cmp") / "results"
    write_cell(results, "linear", accuracies(0.0, 1))
    write_cell(results, "mlp", accuracies(0.15, 2))
    write_cell(results, "worse", accuracies(-0.15, 3))
    write_cell(results, "twin", accuracies(0.0, 4))
    write_cell(results, "mlp", accuracies(0.15, 5), hparams="lr0.1")  # no linear cell at lr0.1: not compared
    for fold in range(5):
        write_run(results, "tab", "linear", "default", seed=0, fold=fold, accuracy=0.70 + 0.01 * fold)
        write_run(results, "tab", "mlp", "default", seed=0, fold=fold, accuracy=0.80 + 0.01 * fold + 0.002 * (fold % 2))
    write_summary(collect_runs(results, rundir.discover(results)), OPTIONS, results / "summary")
    return results


@pytest.fixture(scope="module")
def table(sweep):
    return comparison_plots.write_comparison_outputs(sweep, sweep / "summary", sweep / "plots", OPTIONS)


def pair(table, architecture, dataset="eeg"):
    return table[(table["dataset"] == dataset) & (table["architecture"] == architecture)].reset_index(drop=True)


def test_pairs_are_cells_with_a_baseline_cell_at_the_same_grid_point(table):
    keys = table[["dataset", "architecture", "hparams", "baseline"]].drop_duplicates().values.tolist()
    assert keys == [
        ["eeg", "mlp", "default", "linear"],
        ["eeg", "twin", "default", "linear"],
        ["eeg", "worse", "default", "linear"],
        ["tab", "mlp", "default", "linear"],
    ]
    mlp = pair(table, "mlp")
    assert (
        len(mlp) == len(WINDOWS)
        and (mlp["n_observations"] == SUBJECTS).all()
        and (mlp["observations"] == "subjects").all()
    )
    assert (mlp["test"] == comparisons.CLUSTER_TEST).all() and mlp["window"].tolist()[0] == "-0.200"
    assert np.allclose(mlp["difference"], mlp["cell_mean"] - mlp["baseline_mean"])


def test_a_planted_difference_is_found_where_it_is_with_its_sign(table):
    for name, sign in (("mlp", 1), ("worse", -1)):
        rows = pair(table, name)
        inside = rows.index.isin(list(EFFECT))
        assert rows.loc[inside, "significant"].all() and not rows.loc[~inside, "significant"].any(), name
        assert (np.sign(rows.loc[inside, "difference"]) == sign).all() and rows.loc[inside, "p_value"].max() < 0.01


def test_no_difference_between_two_draws_of_one_decoder(table):
    assert not pair(table, "twin")["significant"].any()


def test_a_data_set_without_windows_gets_one_paired_t_test_per_pair(table):
    from scipy.stats import ttest_rel

    row = pair(table, "mlp", "tab")
    assert (
        len(row) == 1
        and row["test"][0] == comparisons.PAIRED_TEST
        and row["observations"][0] == "folds"
        and row["window"][0] == ""
    )
    mlp = [0.80 + 0.01 * f + 0.002 * (f % 2) for f in range(5)]
    linear = [0.70 + 0.01 * f for f in range(5)]
    assert row["p_value"][0] == pytest.approx(ttest_rel(mlp, linear).pvalue) and row["significant"][0]
    assert row["difference"][0] == pytest.approx(np.mean(np.subtract(mlp, linear)))


def test_false_positives_at_the_nominal_rate_over_repeated_null_draws():
    """200 draws of 10 subjects x 10 windows of null differences: the share with any significant
    cluster (two-sided, p < 0.05), and of paired t-tests with p < 0.05, is binomially consistent with 0.05."""
    rng = np.random.default_rng(2026)
    clusters, paired = 0, 0
    for _ in range(REPEATS):
        d = rng.normal(0, 0.02, (SUBJECTS, len(WINDOWS)))
        _, p, _ = cluster_test(d, 200, 0.05, tail=0)
        clusters += bool((p < 0.05).any())
        a = rng.normal(0.7, 0.05, SUBJECTS)
        paired += bool(paired_pvalues(a, (a + rng.normal(0, 0.02, SUBJECTS))[None, :], "paired_t")[0] < 0.05)
    for hits in (clusters, paired):
        assert binomtest(hits, REPEATS, 0.05).pvalue > 0.01, (clusters, paired)


def test_two_sided_finds_a_drop_the_one_sided_test_cannot_and_one_sided_is_unchanged():
    d = -np.abs(np.random.default_rng(0).normal(0.05, 0.01, (SUBJECTS, 6)))
    assert cluster_test(d, 500, 0.05)[0] == [] and len(cluster_test(d, 500, 0.05, tail=0)[0]) == 1
    x = np.random.default_rng(1).normal(0.02, 0.02, (SUBJECTS, 6))
    one, explicit = cluster_test(x, 500, 0.05), cluster_test(x, 500, 0.05, tail=1)
    assert np.array_equal(one[1], explicit[1]) and one[2] == explicit[2]
    with pytest.raises(ValueError, match="tail"):
        cluster_test(x, 500, 0.05, tail=-1)


def test_markdown_says_what_each_test_tests(sweep, table):
    text = (sweep / "summary" / "comparisons.md").read_text()
    assert "permutation_cluster_1samp_test, tail=0" in text and "scipy.stats.ttest_rel" in text and "best cell" in text
    assert "| eeg | mlp | default | linear | +0.200 |" in text and " *" in text


def test_figures_are_drawn_for_windowed_data_sets_only(sweep, table):
    assert sorted(p.name for p in (sweep / "plots" / "comparisons").iterdir()) == ["eeg.pdf", "eeg.png"]


def test_outputs_regenerate_byte_identically(sweep, table, tmp_path):
    first = {
        p: p.read_bytes()
        for p in [
            sweep / "summary" / "comparisons.csv",
            sweep / "summary" / "comparisons.md",
            *(sweep / "plots" / "comparisons").iterdir(),
        ]
    }
    comparison_plots.write_comparison_outputs(sweep, sweep / "summary", sweep / "plots", OPTIONS)
    assert all(p.read_bytes() == data for p, data in first.items())


def test_without_a_baseline_cell_the_files_say_so(tmp_path):
    results = tmp_path / "results"
    write_run(results, "tab", "mlp", "default", seed=0, fold=0)
    write_summary(collect_runs(results, rundir.discover(results)), OPTIONS, results / "summary")
    table = comparison_plots.write_comparison_outputs(results, results / "summary", results / "plots", OPTIONS)
    assert table.empty and "No comparisons" in (results / "summary" / "comparisons.md").read_text()
    shutil.rmtree(results)
