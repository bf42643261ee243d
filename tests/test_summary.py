"""The summary over (seed, fold) runs: statistics, paired tests, chance level, permutation
p-values, per-group table, compute accounting, and the runs of release 0.1."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import write_run
from scipy import stats

from mlpsweep.rundir import discover as discover_runs
from mlpsweep.stats import chance, paired
from mlpsweep.stats.chance import chance_threshold
from mlpsweep.tables.cells import compute_accounting, summarize
from mlpsweep.tables.options import options_with_defaults
from mlpsweep.tables.runs import collect_runs
from mlpsweep.tables.summary import render_latex, write_summary

RELEASE_0_1 = Path(__file__).parent / "data" / "release-0.1" / "results"
OUTPUTS = ("runs.csv", "summary.csv", "summary.md", "summary.tex", "by_group.csv", "by_group.md", "compute.json")


@pytest.fixture
def results(tmp_path):
    """ds1: `big` beats `small` on every seed; ds2: one architecture. Holdout, 3 seeds."""
    for seed, (a, b) in enumerate([(0.80, 0.90), (0.82, 0.91), (0.81, 0.93)]):
        write_run(tmp_path, "ds1", "small", seed=seed, accuracy=a, slurm_job_id="42", threads=2)
        write_run(tmp_path, "ds1", "big", seed=seed, accuracy=b, slurm_job_id="42", threads=2)
        write_run(tmp_path, "ds2", "small", seed=seed, accuracy=0.7 + seed / 100, slurm_job_id="42", threads=2)
    return tmp_path


def cell(cells, dataset, architecture, hparams="default"):
    return cells.set_index(["dataset", "architecture", "hparams"]).loc[(dataset, architecture, hparams)]


def md_row(md, *names):
    """The cells of the Markdown table row whose first cells are `names`."""
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[: len(names)] == list(names):
            return cells
    raise AssertionError(f"no row {names} in:\n{md}")


# ---------------------------------------------------------------- cells


def test_mean_std_n_and_best_per_dataset(results):
    cells = summarize(collect_runs(results))
    big = cell(cells, "ds1", "big")
    assert big["n"] == 3 and big["test_accuracy_mean"] == pytest.approx(0.9133333, abs=1e-6)
    assert big["test_accuracy_std"] == pytest.approx(pd.Series([0.90, 0.91, 0.93]).std(), abs=1e-9)
    assert big["best"] and not cell(cells, "ds1", "small")["best"]
    assert cell(cells, "ds2", "small")["best"]
    assert cells["fit_seconds_total"].tolist() == [6.0, 6.0, 6.0]


def test_cells_pool_seeds_and_folds_and_runs_csv_has_fold_and_permutation(tmp_path):
    accuracy = {(s, f): 0.70 + s / 10 + f / 100 for s in range(2) for f in range(3)}
    for (seed, fold), acc in accuracy.items():
        write_run(tmp_path, "d", "a", seed=seed, fold=fold, accuracy=acc)
    write_run(tmp_path, "d", "a", seed=2, fold=0, status="failed")
    runs = collect_runs(tmp_path, discover_runs(tmp_path) + ["runs/d/a/default/seed2_fold1"])
    a = cell(summarize(runs), "d", "a")
    assert (a["n"], a["n_planned"], a["n_failed"], a["n_missing"], a["status"]) == (6, 8, 1, 1, "partial")
    assert a["test_accuracy_mean"] == pytest.approx(np.mean(list(accuracy.values())))
    assert a["test_accuracy_std"] == pytest.approx(np.std(list(accuracy.values()), ddof=1))
    out = write_summary(runs, None, tmp_path / "summary")
    header = (tmp_path / "summary" / "runs.csv").read_text().splitlines()[0].split(",")
    assert header[:7] == ["dataset", "architecture", "hparams", "seed", "fold", "permutation", "status"]
    assert out["runs"][["seed", "fold"]].astype(int).values.tolist()[:4] == [[0, 0], [0, 1], [0, 2], [1, 0]]
    md = (tmp_path / "summary" / "summary.md").read_text()
    assert "Mean ± std over (seed, fold) runs (sample std)" in md and md_row(md, "d", "a")[3] == "6/8"


def test_permutation_runs_stay_out_of_statistics_best_and_tests(tmp_path):
    for seed in range(3):
        write_run(tmp_path, "d", "good", seed=seed, accuracy=0.80 + seed / 100)
        write_run(tmp_path, "d", "poor", seed=seed, accuracy=0.60 + seed * seed / 100)
    for perm in (1, 2):
        write_run(tmp_path, "d", "poor", seed=0, permutation=perm, accuracy=0.99)  # would be best if counted
    cells = summarize(collect_runs(tmp_path))
    poor = cell(cells, "d", "poor")
    assert (poor["n"], poor["n_planned"]) == (3, 3)
    assert poor["test_accuracy_mean"] == pytest.approx((0.60 + 0.61 + 0.64) / 3)
    assert cell(cells, "d", "good")["best"] and not poor["best"]
    assert poor["p_value"] == pytest.approx(stats.ttest_rel([0.80, 0.81, 0.82], [0.60, 0.61, 0.64]).pvalue)
    assert poor["fit_seconds_total"] == 5 * 2.0  # training time counts every run


def test_significance_marks_cells_not_worse_than_best(results):
    write_run(results, "ds1", "twin", seed=0, accuracy=0.905)
    write_run(results, "ds1", "twin", seed=1, accuracy=0.905)
    write_run(results, "ds1", "twin", seed=2, accuracy=0.925)
    cells = summarize(collect_runs(results), {"significance": {"test": "paired_t", "alpha": 0.05}})
    assert cell(cells, "ds1", "twin")["not_worse"]
    assert not cell(cells, "ds1", "small")["not_worse"] and cell(cells, "ds1", "small")["p_value"] < 0.05


def test_paired_test_pairs_runs_by_seed_and_fold(tmp_path):
    rng = np.random.default_rng(1)
    pairs = [(s, f) for s in range(3) for f in range(4)]
    best = dict(zip(pairs, 0.85 + rng.normal(0, 0.01, len(pairs))))
    other = dict(zip(pairs, 0.84 + rng.normal(0, 0.01, len(pairs))))
    for (seed, fold), acc in best.items():
        write_run(tmp_path, "d", "best", seed=seed, fold=fold, accuracy=acc)
    for (seed, fold), acc in other.items():
        if (seed, fold) != (1, 2):  # a run the other cell lacks: compared on the 11 both have
            write_run(tmp_path, "d", "other", seed=seed, fold=fold, accuracy=acc)
    shuffled = collect_runs(tmp_path).sample(frac=1.0, random_state=0)
    shared = [p for p in pairs if p != (1, 2)]
    expected = stats.ttest_rel([best[p] for p in shared], [other[p] for p in shared]).pvalue
    assert cell(summarize(shuffled), "d", "other")["p_value"] == pytest.approx(expected)
    wilcoxon = stats.wilcoxon([best[p] for p in shared], [other[p] for p in shared]).pvalue
    assert cell(summarize(shuffled, {"significance": {"test": "wilcoxon"}}), "d", "other")["p_value"] == pytest.approx(
        wilcoxon
    )


def test_wilcoxon_pvalues_equal_scipy_row_by_row():
    """One scipy call per pattern of signed ranks gives each row scipy's own p-value, ties and zeros included."""
    rng = np.random.default_rng(7)
    best = np.round(rng.normal(0.8, 0.02, 8), 2)
    others = np.round(rng.normal(0.79, 0.02, (40, 8)), 2)  # ties: scipy's slow path (tens of ms a call)
    others[0] = best  # all differences zero
    others[1, :3] = best[:3]  # some zero
    others[2, 4:] = np.nan  # four shared pairs only
    others[3, 1:] = np.nan  # one shared pair: no test
    p = paired.paired_pvalues(best, others, "wilcoxon")
    assert p[0] == 1.0 and math.isnan(p[3])
    for k in [1, 2, *range(4, 40)]:
        shared = np.isfinite(others[k])
        assert p[k] == stats.wilcoxon(best[shared], others[k][shared]).pvalue, k


def test_missing_failed_diverged_incomplete_and_damaged_runs_are_shown(results):
    write_run(results, "ds3", "small", seed=0, status="diverged")
    write_run(results, "ds3", "small", seed=1, status="failed")
    write_run(results, "ds3", "small", seed=3, status="incomplete")
    damaged = results / "runs/ds2/small/default/seed2/metrics.json"
    damaged.write_text(damaged.read_text()[:40])
    (results / "runs/ds2/small/default/seed1/history.csv").unlink()
    expected = discover_runs(results) + ["runs/ds3/small/default/seed2"]
    runs = collect_runs(results, expected).set_index("path")
    status, problem = runs["status"], runs["problem"]
    assert status["runs/ds3/small/default/seed0"] == "diverged"
    assert (status["runs/ds3/small/default/seed1"], problem["runs/ds3/small/default/seed1"]) == (
        "failed",
        "DataError: fake failure",
    )
    assert status["runs/ds3/small/default/seed2"] == "missing"
    assert status["runs/ds3/small/default/seed3"] == "incomplete"
    assert (status["runs/ds2/small/default/seed2"], problem["runs/ds2/small/default/seed2"]) == (
        "damaged",
        "metrics.json unreadable (JSONDecodeError)",
    )
    assert problem["runs/ds2/small/default/seed1"] == "missing history.csv"
    out = write_summary(collect_runs(results, expected), None, results / "summary")
    cells = out["cells"].set_index("dataset")
    assert cells.loc["ds3", "n"] == 0 and cells.loc["ds3", "status"] == "diverged"
    assert cells.loc["ds2", "n"] == 2 and cells.loc["ds2", "status"] == "partial"
    md = (results / "summary" / "summary.md").read_text()
    assert "| ds3 | small | default | 0/4 | diverged |" in md
    assert (
        out["compute"]["failed"],
        out["compute"]["diverged"],
        out["compute"]["missing"],
        out["compute"]["damaged"],
    ) == (1, 1, 2, 1)


def test_outputs_are_byte_identical_on_rerun(results, tmp_path_factory):
    write_run(results, "ds1", "small", seed=0, permutation=1, accuracy=0.6)
    other = tmp_path_factory.mktemp("other")
    write_summary(collect_runs(results), None, results / "s1")
    write_summary(collect_runs(results), None, other)
    for name in OUTPUTS:
        assert (results / "s1" / name).read_bytes() == (other / name).read_bytes()


def test_markdown_and_latex_formatting(results):
    out = write_summary(collect_runs(results), {"decimals": 2, "percent": True}, results / "summary")
    md = (results / "summary" / "summary.md").read_text()
    assert "| ds1 | big | default | 3/3 | **91.33 ± 1.53** |" in md
    tex = (results / "summary" / "summary.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "\\textbf{91.33 $\\pm$ 1.53}" in tex
    assert tex.count("\\begin{tabular}") == 1
    assert "Perm." not in md and "Perm." not in tex  # no permutation runs, no column
    assert out["compute"]["cpu_hours"] == pytest.approx(9 * 2.0 * 2 / 3600, abs=1e-6)


def test_latex_escapes_names():
    cells = pd.DataFrame(
        [
            {
                "dataset": "a_b",
                "architecture": "x&y",
                "hparams": "lr0.1",
                "n": 1,
                "n_planned": 1,
                "status": "complete",
                "best": True,
                "not_worse": False,
                "test_accuracy_mean": 0.5,
                "test_accuracy_std": math.nan,
            }
        ]
    )
    tex = render_latex(cells, options_with_defaults({"metrics": ["test_accuracy"]}))
    assert "a\\_b & x\\&y & lr0.1 & 1/1 & \\textbf{0.500} \\\\" in tex


# ---------------------------------------------------------------- options


def test_options_take_their_defaults_from_the_schema():
    from mlpsweep.config import load_schema

    schema = load_schema()["properties"]["summary"]["properties"]
    options = options_with_defaults({"significance": {"test": "wilcoxon"}})
    assert options["significance"] == {
        "test": "wilcoxon",
        "alpha": schema["significance"]["properties"]["alpha"]["default"],
    }
    assert {k: options[k] for k in ("metrics", "best_by", "decimals", "caption")} == {
        k: schema[k]["default"] for k in ("metrics", "best_by", "decimals", "caption")
    }


def test_invalid_options_are_refused_with_key_and_fix():
    with pytest.raises(ValueError) as error:
        options_with_defaults({"decimals": -1})
    assert str(error.value) == "key 'summary.decimals': value -1 is out of range. Fix: give a value >= 0"


# ---------------------------------------------------------------- chance level


def test_chance_threshold_reproduces_known_binomial_values():
    # Combrisson & Jerbi 2015: 2 classes, 100 trials: 58% is not above chance at p < 0.05; 1,000 trials: 53% is.
    assert chance_threshold(100, 2, 0.05) == 0.58 and not 0.58 > chance_threshold(100, 2, 0.05)
    assert 0.53 > chance_threshold(1000, 2, 0.05) == 0.526


@pytest.mark.parametrize(("n", "classes", "alpha"), [(40, 4, 0.05), (120, 4, 0.01), (37, 3, 0.05)])
def test_chance_threshold_matches_the_binomial_tail_summed_by_hand(n, classes, alpha):
    def tail(k):  # P(X >= k), X ~ Binomial(n, 1 / classes)
        return sum(math.comb(n, j) * (1 / classes) ** j * (1 - 1 / classes) ** (n - j) for j in range(k, n + 1))

    threshold = chance_threshold(n, classes, alpha)
    k = round(threshold * n)
    assert tail(k + 1) <= alpha < tail(k)  # more than k correct is significant, k correct is not


def test_binomial_quantile_is_scipy_binom_ppf_without_importing_scipy_stats():
    # summarize gets the threshold without scipy.stats (0.5 s a process): same values, NaN where scipy gives NaN.
    n = np.arange(0, 2001, dtype=float)
    for alpha in (0.05, 0.01, 0.001, 0.5):
        for classes in (1, 2, 3, 4, 7, 10):
            np.testing.assert_array_equal(
                chance.binomial_quantile(1 - alpha, n, 1 / classes), stats.binom.ppf(1 - alpha, n, 1 / classes)
            )
    odd_n, odd_p = np.array([np.nan, -1, 2.5, 10, 10, 10]), np.array([0.5, 0.5, 0.5, np.inf, np.nan, 1.0])
    np.testing.assert_array_equal(chance.binomial_quantile(0.95, odd_n, odd_p), stats.binom.ppf(0.95, odd_n, odd_p))
    code = "import sys; from mlpsweep.stats.chance import chance_threshold; chance_threshold(80, 2, 0.05); print('scipy.stats' in sys.modules)"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(chance.__file__).parents[2]
    )
    assert found.stdout.strip() == "False"


def test_chance_level_of_cells_and_above_chance(tmp_path):
    """2 classes: 100 test trials per seed (58% not above chance) and 1,000 (53% above); 1,000
    unbalanced 60:40 trials: 62% is not above chance (always answering the majority scores 60%)."""
    for seed in range(2):
        write_run(tmp_path, "hundred", "mlp", seed=seed, accuracy=0.58, class_counts=(50, 50))
        write_run(tmp_path, "thousand", "mlp", seed=seed, accuracy=0.53, class_counts=(500, 500))
        write_run(tmp_path, "oddball", "mlp", seed=seed, accuracy=0.62, class_counts=(400, 600))
    cells = summarize(collect_runs(tmp_path))
    hundred, thousand, oddball = (cell(cells, name, "mlp") for name in ("hundred", "thousand", "oddball"))
    assert (
        hundred["n_test_trials"],
        hundred["n_classes"],
        hundred["chance_threshold"],
        hundred["chance_majority"],
    ) == (100, 2, 0.58, 0.5)
    assert not hundred["above_chance"]
    assert (thousand["n_test_trials"], thousand["chance_threshold"], thousand["chance_majority"]) == (1000, 0.526, 0.5)
    assert thousand["above_chance"]
    assert (
        (oddball["chance_majority"], oddball["chance_threshold"])
        == (0.6, stats.binom.ppf(0.95, 1000, 0.6) / 1000)
        == (0.6, 0.625)
    )
    assert not oddball["above_chance"]


def test_chance_level_sums_the_folds_of_one_seed(tmp_path):
    counts = {0: (10, 6), 1: (9, 7), 2: (11, 5)}  # 48 test rows per seed, 30 of class 0
    for seed in range(2):
        for fold, fold_counts in counts.items():
            if (seed, fold) != (0, 2):  # seed 0 lacks a fold: seed 1 is counted
                write_run(tmp_path, "d", "a", seed=seed, fold=fold, accuracy=0.7, class_counts=fold_counts)
    write_run(tmp_path, "d", "a", seed=0, fold=0, permutation=1, accuracy=0.5, class_counts=(100, 1))  # not counted
    a = cell(summarize(collect_runs(tmp_path)), "d", "a")
    assert (a["n_test_trials"], a["chance_majority"]) == (48, 30 / 48)
    assert a["chance_threshold"] == stats.binom.ppf(0.95, 48, 30 / 48) / 48


def test_tables_mark_cells_at_chance_and_give_a_chance_line_per_dataset(tmp_path):
    for seed in range(2):
        write_run(tmp_path, "eeg", "good", seed=seed, accuracy=0.70 + seed / 100, class_counts=(50, 50))
        write_run(tmp_path, "eeg", "weak", seed=seed, accuracy=0.55 + seed / 100, class_counts=(50, 50))
        write_run(tmp_path, "eeg", "weak", "n200", seed=seed, accuracy=0.60, class_counts=(120, 80))
    write_summary(collect_runs(tmp_path), {"significance": {"test": "none", "alpha": 0.05}}, tmp_path / "summary")
    md = (tmp_path / "summary" / "summary.md").read_text()
    assert md_row(md, "eeg", "weak", "default")[4] == "0.555 ± 0.007 ‡"
    assert md_row(md, "eeg", "good", "default")[4] == "**0.705 ± 0.007**"
    assert md_row(md, "eeg", "weak", "n200")[4] == "0.600 ± 0.000 ‡"  # 200 trials, 60% of one class: threshold 0.655
    assert (
        "Chance level of eeg: majority class 0.500–0.600; above chance (p < 0.05) means above 0.580–0.655 (100–200 test trials per seed, 2 classes)."
        in md.splitlines()
    )
    tex = (tmp_path / "summary" / "summary.tex").read_text()
    assert "eeg & weak & default & 2/2 & 0.555 $\\pm$ 0.007$^\\ddagger$ &" in tex
    assert (
        "Chance level of eeg: majority class 0.500--0.600; above chance ($p < 0.05$) means above 0.580--0.655 (100--200 test trials per seed, 2 classes)."
        in tex
    )


def test_chance_mark_goes_on_the_cell_name_when_test_accuracy_is_not_shown(tmp_path):
    write_run(tmp_path, "eeg", "weak", "lr_0.1", seed=0, accuracy=0.5)
    write_summary(collect_runs(tmp_path), {"metrics": ["test_loss"], "best_by": "test_loss"}, tmp_path / "summary")
    assert md_row((tmp_path / "summary" / "summary.md").read_text(), "eeg", "weak")[2] == "lr_0.1 ‡"
    assert "eeg & weak & lr\\_0.1$^\\ddagger$ & 1/1 &" in (tmp_path / "summary" / "summary.tex").read_text()


# ---------------------------------------------------------------- permutation p-values


def test_permutation_pvalue_counts_nulls_at_least_as_high(tmp_path):
    for seed in range(2):
        for fold in range(2):
            write_run(tmp_path, "d", "a", seed=seed, fold=fold, accuracy=0.70)
    nulls = {1: (0.5, 0.6), 2: (0.7, 0.7), 3: (0.8, 0.65), 4: (0.4, 0.5), 5: (0.9, 0.4)}  # means .55 .70 .725 .45 .65
    for perm, accs in nulls.items():
        for fold, acc in enumerate(accs):
            write_run(tmp_path, "d", "a", seed=0, fold=fold, permutation=perm, accuracy=acc)
    a = cell(summarize(collect_runs(tmp_path)), "d", "a")
    assert (a["perm_p_value"], a["n_permutations"], a["n_permutations_planned"]) == ((1 + 2) / (1 + 5), 5, 5)


def test_permutation_pvalue_uses_finished_permutations_and_says_how_many(tmp_path):
    for seed in range(2):
        write_run(tmp_path, "d", "a", seed=seed, accuracy=0.80)
        write_run(tmp_path, "d", "b", seed=seed, accuracy=0.60)
    for perm in range(1, 5):
        write_run(
            tmp_path,
            "d",
            "a",
            seed=0,
            permutation=perm,
            accuracy=0.5 + perm / 100,
            status="failed" if perm == 4 else "finished",
        )
    expected = discover_runs(tmp_path) + ["runs/d/a/default/seed0_perm5"]
    out = write_summary(collect_runs(tmp_path, expected), None, tmp_path / "summary")
    a, b = cell(out["cells"], "d", "a"), cell(out["cells"], "d", "b")
    assert (a["perm_p_value"], a["n_permutations"], a["n_permutations_planned"]) == (1 / 4, 3, 5)
    assert math.isnan(b["perm_p_value"]) and b["n_permutations"] == 0
    md = (tmp_path / "summary" / "summary.md").read_text()
    assert md.splitlines()[0].endswith("| Test macro F1 | Perm. p |")
    assert md_row(md, "d", "a")[-1] == "0.250 (3/5)" and md_row(md, "d", "b")[-1] == ""
    tex = (tmp_path / "summary" / "summary.tex").read_text()
    assert "\\begin{tabular}{lllrrrrr}" in tex and "& Perm.~$p$ \\\\" in tex


# ---------------------------------------------------------------- per-group table


def test_group_table_averages_each_group_over_seeds(tmp_path):
    # Two seeds x two folds; each fold tests two of the four subjects.
    folds = {0: {"s1": 10, "s2": 12}, 1: {"s3": 8, "s4": 10}}
    correct = {0: {"s1": 7, "s2": 9, "s3": 8, "s4": 5}, 1: {"s1": 9, "s2": 6, "s3": 4, "s4": 10}}
    for seed in range(2):
        for fold, rows in folds.items():
            groups = {g: (n, correct[seed][g]) for g, n in rows.items()}
            write_run(
                tmp_path,
                "eeg",
                "mlp",
                seed=seed,
                fold=fold,
                accuracy=0.7,
                class_counts=(sum(rows.values()) // 2,) * 2,
                groups=groups,
            )
    write_run(tmp_path, "eeg", "mlp", seed=0, fold=0, permutation=1, groups={"s1": (10, 0)})  # not counted
    write_run(tmp_path, "plain", "mlp", seed=0)
    out = write_summary(collect_runs(tmp_path), {"decimals": 2}, tmp_path / "summary")
    table = out["groups"].set_index("group")
    assert table.index.tolist() == ["s1", "s2", "s3", "s4"] and set(table["dataset"]) == {"eeg"}
    assert table.loc["s1", "test_accuracy_mean"] == pytest.approx((0.7 + 0.9) / 2)
    assert table.loc["s4", "test_accuracy_std"] == pytest.approx(np.std([0.5, 1.0], ddof=1))
    assert table.loc["s2", ["n_seeds", "n_test_rows"]].tolist() == [2, 24]
    md = (tmp_path / "summary" / "by_group.md").read_text()
    assert "| eeg | mlp | default | s3 | 0.75 ± 0.35 | 2 | 16 |" in md
    csv = (tmp_path / "summary" / "by_group.csv").read_text().splitlines()
    assert csv[0] == "dataset,architecture,hparams,group,test_accuracy_mean,test_accuracy_std,n_seeds,n_test_rows"
    assert csv[1] == "eeg,mlp,default,s1,0.8,0.1414213562,2,20"


def test_group_table_without_groups_says_so(results):
    write_summary(collect_runs(results), None, results / "summary")
    assert (
        (results / "summary" / "by_group.md").read_text()
        == "No per-group results: no finished run of this sweep recorded test groups (they are recorded with `split.group`).\n"
    )
    assert (
        results / "summary" / "by_group.csv"
    ).read_text() == "dataset,architecture,hparams,group,test_accuracy_mean,test_accuracy_std,n_seeds,n_test_rows\n"


# ---------------------------------------------------------------- compute and provenance


def test_compute_accounting_counts_gpu_hours_of_gpu_runs_only(tmp_path):
    write_run(tmp_path, "d", "a", seed=0, device="GPU", seconds=3600)
    write_run(tmp_path, "d", "a", seed=1, device="CPU", seconds=1800)
    write_run(tmp_path, "d", "a", seed=0, permutation=1, device="GPU", seconds=1800)
    acc = compute_accounting(collect_runs(tmp_path))
    assert (acc["gpu_hours"], acc["cpu_hours"], acc["fit_hours"], acc["runs"]) == (1.5, 0.5, 2.0, 3)


def test_runs_csv_keeps_provenance_columns(results):
    write_run(results, "ds1", "gpu", seed=0, device="GPU")
    runs = collect_runs(results).set_index("path")
    assert (
        runs.loc["runs/ds1/small/default/seed2", "slurm_job_id"] == "42"
        and runs.loc["runs/ds1/gpu/default/seed0", "slurm_job_id"] == ""
    )
    assert runs.loc["runs/ds1/gpu/default/seed0", ["device", "gpu"]].tolist() == ["GPU", "NVIDIA H100 80GB HBM3"]
    first = runs.loc["runs/ds1/big/default/seed0"]
    assert json.loads(first["confusion_matrix"]) == [[18, 2], [2, 18]]
    assert json.loads(first["class_names"]) == ["c0", "c1"] and json.loads(first["test_class_counts"]) == [20, 20]
    assert (
        first["n_test"] == 40
        and first["config_hash"]
        == json.loads((results / "runs/ds1/big/default/seed0/metrics.json").read_text())["config_hash"]
    )


def test_runs_of_release_0_1_are_summarized(tmp_path):
    """Their records lack run, identity, fold and test class counts: the path and the confusion matrix give them."""
    shutil.copytree(RELEASE_0_1, tmp_path / "results")
    out = write_summary(collect_runs(tmp_path / "results"), None, tmp_path / "summary")
    runs = out["runs"].set_index("path")
    assert (
        len(runs) == 8
        and (runs["status"] == "finished").all()
        and runs["fold"].isna().all()
        and runs["permutation"].isna().all()
    )
    record = json.loads((RELEASE_0_1 / "runs/goodbad/small/optadam/seed0/metrics.json").read_text())
    assert (
        json.loads(runs.loc["runs/goodbad/small/optadam/seed0", "test_class_counts"])
        == [sum(row) for row in record["metrics"]["test_confusion_matrix"]]
        == [23, 22]
    )
    cells = out["cells"]
    assert cells["n_test_trials"].tolist() == [45] * 4 + [18] * 4
    assert cell(cells, "goodbad", "small", "optadam")["chance_majority"] == pytest.approx(23 / 45)
