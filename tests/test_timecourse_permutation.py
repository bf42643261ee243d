"""Model-level permutation inference over time (Stelzer et al. 2013) and prevalence (Allefeld et
al. 2016): group p-values and cluster p-values against brute-force enumeration, the rate of
significant windows in null data, prevalence where half the subjects carry the effect, and the
time-course table and figure of within-subject and cross-subject sweeps of fake runs."""

import itertools
import shutil

import numpy as np
import pandas as pd
import pytest

from fakes import summarize_fakes, write_run

from mlpsweep import timecourse, timecourse_null, timecourse_plots
from mlpsweep.stats.group_permutation import draw_permutations, group_permutation_test
from mlpsweep.stats.prevalence import prevalence_bound, prevalence_p


def brute_force(observed, nulls, cluster_alpha):
    """Every combination of one labelling per observation (the observed one or one of its
    permutations), plain Python: per-window p, threshold, clusters and their p."""
    n, w = observed.shape
    options = [[observed[i], *nulls[i]] for i in range(n)]
    values = np.array([np.mean(combo, axis=0) for combo in itertools.product(*options)])
    mean = observed.mean(axis=0)
    p = [sum(v[j] >= mean[j] - 1e-12 for v in values) / len(values) for j in range(w)]
    threshold = np.quantile(values, 1 - cluster_alpha, axis=0)
    centre = np.mean([np.mean(v, axis=0) for v in options], axis=0)  # of the masses: over all labellings

    def clusters(row):
        out, current = [], []
        for j in range(w):
            if row[j] > threshold[j]:
                current.append(j)
            elif current:
                out.append(current)
                current = []
        return out + ([current] if current else [])

    def mass(row, c):
        return sum(row[j] - centre[j] for j in c)

    largest = [max([mass(v, c) for c in clusters(v)], default=0.0) for v in values]
    found = clusters(mean)
    cluster_p = [sum(m >= mass(mean, c) - 1e-12 for m in largest) / len(values) for c in found]
    return np.array(p), threshold, found, np.array(cluster_p)


def padded(nulls):
    """Observations x max permutations x windows, NaN after each observation's own."""
    out = np.full((len(nulls), max(len(v) for v in nulls), nulls[0].shape[1]), np.nan)
    for i, v in enumerate(nulls):
        out[i, : len(v)] = v
    return out


def test_group_p_values_match_brute_force_enumeration():
    """3 observations with 3, 4 and 2 permutations (4 x 5 x 3 labellings: 59 combinations
    besides the observed one, all taken), 6 windows, an effect in windows 2-3."""
    rng = np.random.default_rng(0)
    nulls = [0.5 + rng.normal(0, 0.05, (k, 6)) for k in (3, 4, 2)]
    observed = 0.5 + rng.normal(0, 0.05, (3, 6))
    observed[:, 2:4] += 0.15
    draws, exact = draw_permutations([3, 4, 2], 10_000)
    assert exact and draws.shape == (59, 3) and len({tuple(d) for d in draws}) == 59 and (draws.sum(axis=1) > 0).all()
    test = group_permutation_test(observed, padded(nulls), draws, 0.05, exact)
    p, threshold, found, cluster_p = brute_force(observed, nulls, 0.05)
    assert test.p == pytest.approx(p) and test.threshold == pytest.approx(threshold)
    assert [np.flatnonzero(c).tolist() for c in test.clusters] == found and [2, 3] in found
    assert test.cluster_p == pytest.approx(cluster_p)
    assert test.p[2] == pytest.approx(1 / 60)  # only the observed labelling reaches the effect: the smallest p


def test_drawn_p_values_agree_with_the_exact_ones_within_their_error():
    """6 observations x 4 permutations (5^6 labellings), 2000 draws: each p within 4 standard errors of the exact one."""
    rng = np.random.default_rng(1)
    nulls = [0.5 + rng.normal(0, 0.05, (4, 5)) for _ in range(6)]
    observed = 0.5 + rng.normal(0, 0.05, (6, 5)) + np.array([0, 0.01, 0.02, 0.03, 0.05])
    draws, exact = draw_permutations([4] * 6, 2000)
    assert not exact and draws.shape == (2000, 6)
    assert np.array_equal(draws, draw_permutations([4] * 6, 2000)[0])  # fixed seed
    drawn = group_permutation_test(observed, padded(nulls), draws, 0.05).p
    p = brute_force(observed, nulls, 0.05)[0]
    assert (np.abs(drawn - p) <= 4 * np.sqrt(p * (1 - p) / 2000) + 1e-3).all(), (drawn, p)


def test_null_data_give_significant_windows_at_the_nominal_rate():
    """400 null data sets (8 observations, 20 permutations, 10 windows correlated over time; the
    observed score is one more draw of the same distribution), 1000 draws each: the share of
    windows with p < 0.05 and the share of data sets with a significant cluster are both near 0.05
    (measured: 0.046 of windows, 0.055 of data sets)."""
    rng = np.random.default_rng(2)
    kernel = np.array([0.25, 0.5, 0.25])
    windows, clusters = [], []
    for _ in range(400):
        noise = rng.normal(0, 0.05, (8, 21, 12))
        scores = 0.5 + np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), 2, noise)
        draws, exact = draw_permutations([20] * 8, 1000, seed=int(rng.integers(1 << 30)))
        test = group_permutation_test(scores[:, 0], scores[:, 1:], draws, 0.05, exact)
        windows.append(test.p < 0.05)
        clusters.append(bool((test.cluster_p < 0.05).any()))
    per_window, family = float(np.mean(windows)), float(np.mean(clusters))
    assert 0.035 <= per_window <= 0.065, per_window
    assert 0.02 <= family <= 0.085, family  # 400 data sets: standard error 0.011


def test_prevalence_where_half_the_subjects_carry_the_effect():
    """12 subjects, 6 of them 0.2 above chance at windows 3-5: the group test finds the windows,
    the prevalence bound never claims more than half of the population; all 12 carrying it
    gives a bound above one half. The bound is where the prevalence p-value reaches alpha."""
    rng = np.random.default_rng(3)
    null = 0.5 + rng.normal(0, 0.04, (12, 50, 8))
    observed = 0.5 + rng.normal(0, 0.04, (12, 8))
    half = observed.copy()
    half[:6, 3:6] += 0.2
    everyone = observed.copy()
    everyone[:, 3:6] += 0.2
    draws, exact = draw_permutations([50] * 12, 10_000)
    test = group_permutation_test(half, null, draws, 0.05, exact)
    assert [np.flatnonzero(c).tolist() for c, p in zip(test.clusters, test.cluster_p) if p < 0.05] == [[3, 4, 5]]
    _, _, gamma_half = prevalence_bound(half, null, draws, 0.05)
    assert np.all(np.isnan(gamma_half) | (gamma_half < 0.5))
    p_u, p_c, gamma_all = prevalence_bound(everyone, null, draws, 0.05)
    assert (gamma_all[3:6] > 0.5).all() and np.isnan(gamma_all[[0, 1, 2, 6, 7]]).all()
    for j in range(3, 6):  # the largest gamma0 rejected at 0.05, by a search over a grid
        grid = np.linspace(0, 1, 100_001)
        rejected = grid[prevalence_p(grid, p_u[j], p_c[j], 12) <= 0.05]
        assert gamma_all[j] == pytest.approx(rejected.max(), abs=1e-4)


# ---------------------------------------------------------------- the table and figure from fake runs

WINDOWS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
EFFECT = (2, 3)
OPTIONS = {"cluster_permutations": 100}


def accuracy(rng, w, effect):
    return float(np.clip(0.5 + rng.normal(0, 0.03) + (effect if w in EFFECT else 0.0), 0, 1))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """within: 6 subjects x 2 folds x 6 windows, 3 permutations each; loso: leave one of 6
    subjects out, 3 permutations each; both 0.25 above chance at windows 2-3, chance in their
    permutation runs; plain: within-subject without permutation runs."""
    results = tmp_path_factory.mktemp("perm") / "results"
    rng = np.random.default_rng(0)
    for s in range(6):
        for fold in range(2):
            for w, start in enumerate(WINDOWS):
                for perm in (None, 1, 2, 3):
                    a = accuracy(rng, w, 0.25 if perm is None else 0.0)
                    write_run(
                        results,
                        "within",
                        "mlp",
                        "default",
                        fold=fold,
                        permutation=perm,
                        subject=f"{s + 1:02d}",
                        window=start,
                        accuracy=a,
                        class_counts=(20, 20),
                    )
                write_run(
                    results,
                    "plain",
                    "mlp",
                    "default",
                    fold=fold,
                    subject=f"{s + 1:02d}",
                    window=start,
                    accuracy=accuracy(rng, w, 0.25),
                    class_counts=(20, 20),
                )
        for w, start in enumerate(WINDOWS):
            for perm in (None, 1, 2, 3):
                correct = round(40 * accuracy(rng, w, 0.25 if perm is None else 0.0))
                write_run(
                    results,
                    "loso",
                    "mlp",
                    "default",
                    fold=s,
                    permutation=perm,
                    window=start,
                    accuracy=correct / 40,
                    groups={f"{s + 1:02d}": (40, correct)},
                    class_counts=(20, 20),
                )
    summarize_fakes(results, OPTIONS)
    return results


@pytest.fixture(scope="module")
def table(sweep):
    return timecourse_plots.write_timecourse_outputs(sweep, sweep / "summary", sweep / "plots", OPTIONS)


@pytest.mark.parametrize("dataset", ["within", "loso"])
def test_model_level_test_finds_the_effect_windows(table, dataset):
    mine = table[table["dataset"] == dataset]
    assert list(table.columns) == timecourse.TABLE_COLUMNS + timecourse_null.NULL_COLUMNS
    assert (mine["n_observations"] == 6).all() and (mine["observations"] == "subjects").all()
    assert (mine["perm_n"] == 3).all() and (mine["perm_draws"] == 4**6 - 1).all()  # every combination of 4 labellings
    assert mine["perm_significant"].tolist() == [k in EFFECT for k in range(6)]
    assert mine["perm_p"].to_numpy()[list(EFFECT)] == pytest.approx(1 / 4096)
    outside = [k not in EFFECT for k in range(6)]
    assert ((mine["perm_threshold"] > 0.5) & (mine["perm_threshold"] < 0.55))[outside].all()
    assert (mine["perm_threshold"] < mine["observation_mean"])[~np.array(outside)].all()
    assert (mine["perm_null_mean"] - 0.5).abs().max() < 0.03
    bound = mine["prevalence_bound"].to_numpy()
    assert (bound[list(EFFECT)] > 0.3).all() and np.isnan(np.delete(bound, list(EFFECT))).all()


def test_within_subject_null_is_the_subjects_mean_over_folds(sweep, table):
    null = timecourse_null.collect_null(sweep, pd.read_csv(sweep / "summary" / "runs.csv"))
    mine = null[(null["dataset"] == "within") & (null["permutation"] == 2) & (null["subject"] == "03")]
    scores, counts = timecourse_null.null_scores(
        null[null["dataset"] == "within"], "within-subject", WINDOWS, [f"{s:02d}" for s in range(1, 7)]
    )
    assert counts.tolist() == [3] * 6
    assert scores[2, 1] == pytest.approx(mine.groupby("window_start")["test_accuracy"].mean().to_numpy())


def test_without_permutation_runs_nothing_changes(sweep, table):
    plain = table[table["dataset"] == "plain"]
    assert plain["perm_p"].isna().all() and not plain["perm_significant"].any()
    windows = timecourse.collect_windows(sweep, pd.read_csv(sweep / "summary" / "runs.csv"))
    alone = timecourse.timecourse_table(windows[windows["dataset"] == "plain"], OPTIONS)
    empty = timecourse_null.collect_null(sweep, pd.read_csv(sweep / "summary" / "runs.csv")).iloc[:0]
    assert timecourse_null.add_null_columns(alone, windows, empty, OPTIONS) is alone
    assert list(alone.columns) == timecourse.TABLE_COLUMNS


def test_markdown_and_figure_say_which_test_marks_what(sweep, table):
    md = (sweep / "summary" / "timecourse.md").read_text()
    assert "Stelzer et al. 2013" in md and "Allefeld et al. 2016" in md and "Perm. cluster p" in md and " †" in md
    assert (
        "within: within-subject decoding, 6 subjects as observations. Model-level test: 3 permutations per observation, 4095 draws (every combination)."
        in md
    )
    assert (sweep / "plots" / "timecourse" / "within.png").read_bytes().startswith(b"\x89PNG")


def test_outputs_regenerate_byte_identically(sweep, table, tmp_path):
    moved = tmp_path / "results"
    shutil.copytree(sweep, moved)
    shutil.rmtree(moved / "plots")
    timecourse_plots.write_timecourse_outputs(moved, moved / "summary", moved / "plots", OPTIONS)
    for rel in [
        "summary/timecourse.csv",
        "summary/timecourse.md",
        "plots/timecourse/within.png",
        "plots/timecourse/loso.pdf",
    ]:
        assert (sweep / rel).read_bytes() == (moved / rel).read_bytes(), rel
