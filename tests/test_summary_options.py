"""Each table option of the `summary:` config section changes the tables as documented."""

import re

import pytest
from fakes import write_run
from scipy import stats

from mlpsweep.tables.runs import collect_runs
from mlpsweep.tables.summary import write_summary

SEEDS = range(6)
NOISE = [0.004, -0.003, 0.006, -0.001, 0.002, -0.005]
# data set -> architecture -> test accuracy per seed
ACCURACY = {
    "alpha": {
        "a1": [0.900 + e for e in NOISE],  # best
        "a2": [0.895 + e * (-1) ** k for k, e in enumerate(NOISE)],  # close to a1, differences of both signs
        "a3": [0.700 + e / 2 for e in NOISE],  # worse on every seed
    },
    "beta": {"a1": [0.60 + e / 2 for e in NOISE], "a2": [0.80 + e for e in NOISE]},
}
LOSS_BEST = ("alpha", "a3")  # lowest test loss, although lowest accuracy


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    results = tmp_path_factory.mktemp("options") / "results"
    for dataset, archs in ACCURACY.items():
        for arch, accs in archs.items():
            for seed, acc in zip(SEEDS, accs):
                loss = 0.05 + seed / 100 if (dataset, arch) == LOSS_BEST else 1.0 - acc
                write_run(
                    results,
                    dataset,
                    arch,
                    seed=seed,
                    accuracy=acc,
                    metrics={"test_loss": loss},
                    epochs=4,
                    n_params=1234,
                    seconds=1.0,
                )
    return collect_runs(results)


def tables(runs, outdir, **options):
    """summary.md, summary.tex and the cells for these options (the others at their defaults)."""
    out = write_summary(runs, options, outdir)
    return (outdir / "summary.md").read_text(), (outdir / "summary.tex").read_text(), out["cells"]


def md_rows(md):
    """Table rows of summary.md as lists of cell texts."""
    return [
        [c.strip() for c in line.strip("|").split("|")]
        for line in md.splitlines()
        if line.startswith("| ") and not line.startswith(("| Data set", "| ---"))
    ]


def tex_rows(tex):
    body = tex.split("\\midrule", 1)[1].split("\\bottomrule")[0]
    return [[c.strip() for c in line.rstrip("\\ ").split(" & ")] for line in body.splitlines() if " & " in line]


def row(rows, dataset, arch):
    return next(r for r in rows if r[0] == dataset and r[1] == arch)


def test_metrics_choose_the_columns(runs, tmp_path):
    md, tex, _ = tables(runs, tmp_path, metrics=["test_loss", "n_params"], best_by="test_loss")
    header = md.splitlines()[0]
    assert "Test loss" in header and "Params" in header and "Test acc." not in header
    assert "\\begin{tabular}{lllrrr}" in tex  # data set, architecture, hparams, n + 2 metrics
    assert row(md_rows(md), "alpha", "a1")[5] == "1234 ± 0"


def test_best_by_picks_the_bold_cell_and_lower_is_better_for_losses(runs, tmp_path):
    md, _, cells = tables(runs, tmp_path, metrics=["test_accuracy", "test_loss"], best_by="test_accuracy")
    assert row(md_rows(md), "alpha", "a1")[4].startswith("**")
    md, _, cells = tables(runs, tmp_path, metrics=["test_accuracy", "test_loss"], best_by="test_loss")
    best = cells[cells["best"]].set_index("dataset")["architecture"]
    assert best["alpha"] == "a3" and best["beta"] == "a2"
    a3 = row(md_rows(md), "alpha", "a3")
    assert a3[5].startswith("**") and not a3[4].startswith("**")  # bold only in the best_by column
    assert "**" not in "".join(row(md_rows(md), "alpha", "a1"))


def test_decimals(runs, tmp_path):
    for decimals in (1, 4):
        md, _, _ = tables(runs, tmp_path, decimals=decimals, significance={"test": "none", "alpha": 0.05})
        mean, std = row(md_rows(md), "beta", "a2")[4].strip("*").split(" ± ")
        assert len(mean.split(".")[1]) == decimals and len(std.split(".")[1]) == decimals
        assert float(mean) == pytest.approx(0.8005, abs=10**-decimals)


def test_percent_scales_accuracies_only(runs, tmp_path):
    md, _, _ = tables(runs, tmp_path, metrics=["test_accuracy", "test_loss", "n_params"], percent=True, decimals=2)
    values = row(md_rows(md), "beta", "a2")
    assert values[4] == "**80.05 ± 0.42**" and values[5] == "0.20 ± 0.00" and values[6] == "1234 ± 0"


def test_bold_best_off(runs, tmp_path):
    md, tex, _ = tables(runs, tmp_path, bold_best=False)
    assert "**" not in md and "\\textbf" not in tex
    md, tex, _ = tables(runs, tmp_path, bold_best=True)
    assert md.count("**") == 2 * 2 and tex.count("\\textbf") == 2  # one best cell per data set


def test_significance_none_marks_nothing(runs, tmp_path):
    md, tex, cells = tables(runs, tmp_path, significance={"test": "none", "alpha": 0.05})
    assert "†" not in md and "\\dagger" not in tex
    assert not cells["not_worse"].any() and cells["p_value"].isna().all()


def test_paired_t_marks_cells_not_significantly_worse(runs, tmp_path):
    md, tex, cells = tables(runs, tmp_path, significance={"test": "paired_t", "alpha": 0.05})
    rows = md_rows(md)
    assert row(rows, "alpha", "a2")[4].endswith("†") and not row(rows, "alpha", "a3")[4].endswith("†")
    assert "paired t-test" in md and "paired $t$-test" in tex
    assert row(tex_rows(tex), "alpha", "a2")[4].endswith("$^\\dagger$")
    a2 = cells.set_index(["dataset", "architecture"]).loc[("alpha", "a2")]
    assert a2["p_value"] == pytest.approx(stats.ttest_rel(ACCURACY["alpha"]["a1"], ACCURACY["alpha"]["a2"]).pvalue)


def test_wilcoxon_and_alpha(runs, tmp_path):
    _, _, cells = tables(runs, tmp_path, significance={"test": "wilcoxon", "alpha": 0.05})
    cells = cells.set_index(["dataset", "architecture"])
    # Six seeds, a3 worse on every one: the exact two-sided p is 2 / 2**6, the smallest possible.
    assert cells.loc[("alpha", "a3"), "p_value"] == pytest.approx(2 / 64)
    assert not cells.loc[("alpha", "a3"), "not_worse"] and cells.loc[("alpha", "a2"), "not_worse"]
    md, _, cells = tables(runs, tmp_path, significance={"test": "wilcoxon", "alpha": 0.01})
    assert cells.set_index(["dataset", "architecture"]).loc[("alpha", "a3"), "not_worse"]
    assert "Wilcoxon signed-rank test" in md and "alpha = 0.01" in md


def test_significance_pairs_runs_by_seed(runs, tmp_path):
    """A cell missing a seed is compared on the seeds both cells have."""
    dropped = runs[~((runs["dataset"] == "alpha") & (runs["architecture"] == "a2") & (runs["seed"] == 0))]
    shuffled = dropped.sample(frac=1.0, random_state=3)
    _, _, cells = tables(shuffled, tmp_path, significance={"test": "paired_t", "alpha": 0.05})
    a2 = cells.set_index(["dataset", "architecture"]).loc[("alpha", "a2")]
    expected = stats.ttest_rel(ACCURACY["alpha"]["a1"][1:], ACCURACY["alpha"]["a2"][1:]).pvalue
    assert a2["n"] == 5 and a2["p_value"] == pytest.approx(expected)


def test_dataset_and_architecture_order(runs, tmp_path):
    md, tex, _ = tables(runs, tmp_path, dataset_order=["beta"], architecture_order=["a3", "a2"])
    order = [(r[0], r[1]) for r in md_rows(md)]
    assert order == [("beta", "a2"), ("beta", "a1"), ("alpha", "a3"), ("alpha", "a2"), ("alpha", "a1")]
    assert [(r[0], r[1]) for r in tex_rows(tex)] == order
    md, _, _ = tables(runs, tmp_path)
    assert [(r[0], r[1]) for r in md_rows(md)][:2] == [("alpha", "a1"), ("alpha", "a2")]  # natural order by default


def test_caption_and_label(runs, tmp_path):
    _, tex, _ = tables(runs, tmp_path, caption="Accuracy of MLPs, mean $\\pm$ std.", label="tab:mlp-results")
    # best_by is a test metric: the caption says so and points to the nested estimate (selection.py)
    peek = " The bold cell is chosen on the test data; Table~\\ref{tab:mlp-results-selected} gives a nested estimate chosen on validation data."
    assert "\\caption{Accuracy of MLPs, mean $\\pm$ std." + peek + "}" in tex and "\\label{tab:mlp-results}" in tex
    assert re.search(r"\\caption\{.*\}\n\\label\{tab:mlp-results\}", tex)
    _, tex, _ = tables(runs, tmp_path, caption="Accuracy.", metrics=["test_accuracy", "val_loss"], best_by="val_loss")
    assert "\\caption{Accuracy.}" in tex  # a cell chosen on validation data needs no warning
