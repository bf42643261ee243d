"""Figures from summary tables and run histories: content, missing cells, byte-reproducibility."""

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from fakes import confusion, write_run

from mlpsweep import plots
from mlpsweep.progress import Progress
from mlpsweep.tables.cells import summarize
from mlpsweep.tables.options import options_with_defaults
from mlpsweep.tables.runs import collect_runs
from mlpsweep.tables.summary import write_summary

OPTIONS = {"best_by": "test_accuracy", "decimals": 3, "percent": False}


def fake_run(results, dataset, arch, seed, acc, hparams="default", status="finished", classes=("good", "bad")):
    """A run as training leaves it; 3 epochs, test classes of 4, 5, ... rows."""
    counts = tuple(4 + k for k in range(len(classes)))
    write_run(
        results,
        dataset,
        arch,
        hparams,
        seed=seed,
        accuracy=acc,
        status=status,
        class_counts=counts,
        class_names=classes,
        seconds=2.0 + seed,
        n_params=50,
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """ds1: two architectures, `big` with two learning rates; ds2: `small` fine, `big` all failed."""
    root = tmp_path_factory.mktemp("sweep") / "results"
    for seed in range(3):
        fake_run(root, "ds1", "small", seed, 0.80 + seed * seed / 100, hparams="lr0.1")
        fake_run(root, "ds1", "big", seed, 0.90 + seed / 100, hparams="lr0.1")
        fake_run(root, "ds1", "big", seed, 0.70 + seed * seed / 100, hparams="lr0.01")
        fake_run(root, "ds2", "small", seed, 0.60 + seed / 50, hparams="lr0.1", classes=("a", "b", "c"))
        fake_run(root, "ds2", "big", seed, 0.0, hparams="lr0.1", status="failed")
    fake_run(root, "ds1", "small", 1, 0.0, hparams="lr0.1", status="diverged")
    write_summary(collect_runs(root), OPTIONS, root / "summary")
    return root


def draw(results, outdir, options=OPTIONS):
    written = plots.write_plots(results, results / "summary", outdir, options)
    return sorted(p.relative_to(outdir).as_posix() for p in written)


@pytest.fixture(scope="module")
def drawn(results):
    outdir = results.parent / "plots"
    return outdir, draw(results, outdir)


def test_every_figure_is_written_as_png_and_pdf(drawn):
    outdir, names = drawn
    stems = sorted({n.rsplit(".", 1)[0] for n in names})
    assert stems == [
        "bars/ds1",
        "bars/ds2",
        "compute",
        "confusion/ds1",
        "confusion/ds2",
        "heatmap",
        "learning_curves/ds1/big/lr0.1",
        "learning_curves/ds2/small/lr0.1",
    ]  # fmt: skip  (learning curves of the best cell of each data set, by default)
    assert len(names) == 2 * len(stems)
    for name in names:
        head = (outdir / name).read_bytes()[:8]
        assert head.startswith(b"\x89PNG" if name.endswith(".png") else b"%PDF")


def test_learning_curves_of_every_cell_on_request(results, tmp_path):
    lines = []
    progress = Progress("drew", "figures", clock=lambda: 0.0, emit=lines.append)  # counts the figures (one process)
    written = plots.write_plots(
        results, results / "summary", tmp_path / "plots", {**OPTIONS, "learning_curves": "all"}, progress=progress
    )
    names = sorted(p.relative_to(tmp_path / "plots").as_posix() for p in written)
    curves = sorted({n.rsplit(".", 1)[0] for n in names if n.startswith("learning_curves/")})
    assert curves == [
        "learning_curves/ds1/big/lr0.01",
        "learning_curves/ds1/big/lr0.1",
        "learning_curves/ds1/small/lr0.1",
        "learning_curves/ds2/small/lr0.1",
    ]
    # 11 figures planned: ds2/big failed in every run, so its learning curves have nothing to draw
    assert lines == ["drew 11 of 11 figures (100 %), 0.0 s"] and len(names) == 2 * 10


def test_figures_are_byte_identical_from_another_directory(results, drawn, tmp_path):
    first, _ = drawn
    moved = tmp_path / "elsewhere" / "deeper" / "results"
    shutil.copytree(results, moved)
    second = tmp_path / "b" / "plots"
    names = draw(moved, second)
    for name in names:
        data = (first / name).read_bytes()
        assert data == (second / name).read_bytes(), name
        assert str(tmp_path).encode() not in data and str(results).encode() not in data
    pdf = (first / "heatmap.pdf").read_bytes()
    assert b"CreationDate" not in pdf and b"Matplotlib" not in pdf
    assert b"Software" not in (first / "heatmap.png").read_bytes()


def test_forked_workers_write_the_same_files(results, drawn, tmp_path):
    first, names = drawn
    lines = []
    progress = Progress("drew", "figures", clock=lambda: 0.0, emit=lines.append)  # counts the workers' figures
    written = plots.write_plots(results, results / "summary", tmp_path / "plots", OPTIONS, workers=2, progress=progress)
    assert sorted(p.relative_to(tmp_path / "plots").as_posix() for p in written) == names
    assert lines == [f"drew {len(names) // 2} of {len(names) // 2} figures (100 %), 0.0 s"]
    for name in names:
        assert (first / name).read_bytes() == (tmp_path / "plots" / name).read_bytes(), name


def test_heatmap_shows_best_hparams_failed_and_absent_pairs(results):
    _, cells, _ = plots.read_tables(results / "summary")
    cells = cells[~((cells["dataset"] == "ds1") & (cells["architecture"] == "small"))]  # as if excluded from the grid
    grid = plots.heatmap_grid(cells, options_with_defaults(OPTIONS))
    assert grid["datasets"] == ["ds1", "ds2"] and grid["architectures"] == ["big", "small"]
    assert grid["several_hparams"]
    assert grid["text"][0][0] == "0.910 ± 0.010\nlr0.1"  # lr0.1 beats lr0.01 on ds1/big
    assert grid["text"][1][0] == "failed" and math.isnan(grid["values"][1, 0])
    assert grid["text"][0][1] == "n/a" and math.isnan(grid["values"][0, 1])
    fig = plots.heatmap_figure(grid, options_with_defaults(OPTIONS))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "failed" in texts and "n/a" in texts
    assert "best hyperparameters per pair" in fig.axes[0].get_title()
    assert fig.axes[0].get_xlabel() == "Architecture" and fig.axes[0].get_ylabel() == "Data set"


def test_heatmap_marks_partial_cells_and_uses_percent(results):
    _, cells, _ = plots.read_tables(results / "summary")
    grid = plots.heatmap_grid(cells, options_with_defaults({**OPTIONS, "percent": True, "decimals": 1}))
    small = grid["text"][0][grid["architectures"].index("small")]
    assert small == "82.0 ± 2.8\nlr0.1\nn = 2/3"  # seed 1 diverged: mean of 0.80 and 0.84
    assert np.nanmax(grid["values"]) == pytest.approx(91.0)


def test_best_per_pair_respects_lower_is_better(results):
    _, cells, _ = plots.read_tables(results / "summary")
    pairs = plots.best_per_pair(cells, options_with_defaults({"best_by": "test_loss"})).set_index(
        ["dataset", "architecture"]
    )
    assert pairs.loc[("ds1", "big"), "hparams"] == "lr0.1"
    assert pairs.loc[("ds2", "big"), "status"] == "failed"


def test_confidence_interval_uses_t_distribution():
    assert plots.ci95_halfwidth(1.0, 3) == pytest.approx(4.302652729911275 / math.sqrt(3))
    assert plots.ci95_halfwidth(0.5, 10) == pytest.approx(2.2621571627409915 * 0.5 / math.sqrt(10))
    assert math.isnan(plots.ci95_halfwidth(1.0, 1)) and math.isnan(plots.ci95_halfwidth(float("nan"), 3))


def test_bar_chart_labels_metric_ci_and_failed_cells(results):
    _, cells, _ = plots.read_tables(results / "summary")
    fig = plots.bars_figure(cells, "ds2", options_with_defaults(OPTIONS))
    ax = fig.axes[0]
    assert "95% CI" in ax.get_ylabel() and "(fraction)" in ax.get_ylabel()
    assert "t-distribution" in ax.get_title()
    assert "failed" in [t.get_text() for t in ax.texts]
    heights = [round(p.get_height(), 6) for p in ax.patches]
    assert heights == [0.0, 0.62]  # ds2/big: failed; ds2/small: mean of 0.60, 0.62, 0.64
    err = plots.ci95_halfwidth(0.02, 3)
    failed_segment, bar_segment = ax.collections[0].get_segments()
    assert bar_segment[:, 1].tolist() == pytest.approx([0.62 - err, 0.62 + err])
    assert failed_segment[:, 1].tolist() == [0.0, 0.0]


def test_learning_curves_average_seeds_of_unequal_length():
    short = pd.DataFrame(
        {
            "epoch": [1, 2],
            "loss": [1.0, 0.5],
            "accuracy": [0.5, 0.6],
            "val_loss": [1.0, 0.8],
            "val_accuracy": [0.4, 0.5],
        }
    )
    longer = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "loss": [0.8, 0.3, 0.2],
            "accuracy": [0.7, 0.8, 0.9],
            "val_loss": [0.9, 0.7, 0.6],
            "val_accuracy": [0.6, 0.7, 0.8],
        }
    )
    curves = plots.mean_curves([short, longer])
    assert curves["epoch"].tolist() == [1, 2, 3] and curves["n"].tolist() == [2, 2, 1]
    assert curves["loss_mean"].tolist() == pytest.approx([0.9, 0.4, 0.2])
    assert curves["loss_std"].iloc[0] == pytest.approx(np.std([1.0, 0.8], ddof=1))
    assert math.isnan(curves["loss_std"].iloc[2])
    fig = plots.learning_curves_figure(curves, "t", options_with_defaults(OPTIONS))
    assert [ax.get_xlabel() for ax in fig.axes] == ["Epoch", "Epoch"]
    assert (
        fig.axes[0].get_ylabel() == "Loss (cross-entropy, nats)" and fig.axes[1].get_ylabel() == "Accuracy (fraction)"
    )
    assert len(fig.axes[0].lines) == 2  # train and validation


def test_learning_curves_skip_diverged_runs_and_say_how_many_seeds(results):
    runs, cells, _ = plots.read_tables(results / "summary")
    small = cells[(cells["dataset"] == "ds1") & (cells["architecture"] == "small")].iloc[0]
    finished = plots.finished_by_cell(runs)
    curves, title, over = plots.cell_curves(results, finished.get(tuple(small[plots.KEYS])), small)
    assert (title, over) == ("ds1 / small / lr0.1: n = 2 of 3 seeds", "seeds")
    assert curves["n"].tolist() == [2, 2, 2]
    assert curves["loss_mean"].iloc[0] == pytest.approx((1.0 + 1.2) / 2)  # seeds 0 and 2
    failed = cells[(cells["dataset"] == "ds2") & (cells["architecture"] == "big")].iloc[0]
    assert plots.cell_curves(results, finished.get(tuple(failed[plots.KEYS])), failed) is None


def test_confusion_matrix_sums_finished_seeds_with_class_names(results):
    runs, cells, _ = plots.read_tables(results / "summary")
    best = cells[(cells["dataset"] == "ds2") & cells["best"]].iloc[0]
    matrix, names, n = plots.summed_confusion(plots.finished_by_cell(runs)[tuple(best[plots.KEYS])])
    assert names == ["a", "b", "c"] and n == 3
    assert matrix.tolist() == np.sum([confusion((4, 5, 6), 0.60 + seed / 50) for seed in range(3)], axis=0).tolist()
    fig = plots.confusion_figure(matrix, names, n, "t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Predicted class", "True class")
    assert sorted(int(t.get_text()) for t in ax.texts) == sorted(matrix.ravel().tolist())
    assert fig.axes[1].get_ylabel() == "Test samples (count, summed over 3 seeds)"


@pytest.mark.parametrize(
    ("k", "names"), [(2, ["a", "b"]), (4, ["left", "right", "up", "down"]), (31, [f"c{i}" for i in range(31)])]
)
def test_confusion_matrix_is_drawn_as_scikit_learn_draws_it(tmp_path, k, names):
    # plots.confusion_display replaces ConfusionMatrixDisplay.plot (no scikit-learn import in rule plots): the same files.
    from sklearn.metrics import ConfusionMatrixDisplay

    matrix = np.random.default_rng(k).integers(0, 40, size=(k, k))

    def draw(ours: bool):
        fig, ax = plots.plt.subplots(figsize=(4, 3), layout="constrained")
        if ours:
            image = plots.confusion_display(ax, matrix, names, include_values=k <= 30)
        else:
            image = (
                ConfusionMatrixDisplay(matrix, display_labels=names)
                .plot(
                    ax=ax,
                    cmap="Blues",
                    colorbar=False,
                    include_values=k <= 30,
                    values_format="d",
                    text_kw={"fontsize": 7},
                    im_kw={"vmin": 0},
                )
                .im_
            )
        fig.colorbar(image, ax=ax)
        return [path.read_bytes() for path in plots.save_figure(fig, tmp_path / ("ours" if ours else "sklearn"))]

    assert draw(True) == draw(False)


def test_compute_figure_shows_sweep_totals(results):
    _, cells, compute = plots.read_tables(results / "summary")
    fig = plots.compute_figure(cells, compute)
    title = fig.axes[0].get_title()
    assert f"{compute['cpu_hours']:.4f} CPU-hours" in title and "GPU-hours" in title and "3 failed" in title
    assert "(s)" in fig.axes[0].get_xlabel()


def test_redrawing_removes_figures_of_cells_that_are_gone(results, tmp_path):
    outdir = tmp_path / "plots"
    stale = outdir / "learning_curves" / "gone" / "arch" / "default.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    draw(results, outdir)
    assert not stale.exists() and (outdir / "learning_curves" / "ds1" / "big" / "lr0.1.png").is_file()


def test_names_that_look_like_numbers_stay_strings(tmp_path):
    root = tmp_path / "results"
    for seed in range(2):
        fake_run(root, "007", "1", seed, 0.5 + seed / 10, hparams="1e-3")
    write_summary(collect_runs(root), OPTIONS, root / "summary")
    names = draw(root, tmp_path / "plots")
    assert "learning_curves/007/1/1e-3.png" in names and "bars/007.png" in names


def test_axis_labels_carry_units():
    options = options_with_defaults({"percent": True})
    assert plots.axis_label("test_accuracy", options) == "Test acc. (%)"
    assert plots.axis_label("test_loss", options) == "Test loss (cross-entropy, nats)"
    assert plots.axis_label("fit_seconds", options) == "Fit (s)"
    assert plots.axis_label("n_params", options) == "Params (count)"
    assert plots.axis_label("epochs_run", options) == "Epochs"
    assert plots.axis_label("val_accuracy", options_with_defaults({})) == "Val. acc. (fraction)"


def test_summary_cells_agree_with_plot_inputs(results):
    """Plots read the summary's own best flags: no second opinion on the best cell."""
    runs, cells, _ = plots.read_tables(results / "summary")
    fresh = summarize(collect_runs(results), OPTIONS)
    assert cells["best"].tolist() == fresh["best"].tolist()
    assert json.loads(runs["class_names"].iloc[0]) == ["good", "bad"]


def labelled(artists) -> list:
    """The artists with a legend label (error bar caps have none)."""
    return [a for a in artists if not a.get_label().startswith("_")]


def test_bars_draw_chance_threshold_and_majority_rate(results):
    _, cells, _ = plots.read_tables(results / "summary")
    fig = plots.bars_figure(cells, "ds1", options_with_defaults({**OPTIONS, "percent": True}))
    ax = fig.axes[0]
    ds1 = cells[cells["dataset"] == "ds1"]
    lines = labelled(ax.lines)
    assert [line.get_label() for line in lines] == [
        "chance threshold (binomial at the majority rate, p < 0.05)",
        "majority-class rate",
    ]
    assert [line.get_ydata()[0] for line in lines] == pytest.approx(
        [100 * ds1["chance_threshold"].iloc[0], 100 * 5 / 9]
    )
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "chance threshold (binomial at the majority rate, p < 0.05)",
        "majority-class rate",
    ]


def test_bars_draw_chance_lines_per_bar_where_cells_differ():
    cells = pd.DataFrame(
        {
            "dataset": "d", "architecture": "a", "hparams": ["n100", "n400"], "n": 2, "n_planned": 2, "status": "complete", "best": [False, True],
            "test_accuracy_mean": [0.6, 0.7], "test_accuracy_std": 0.01, "chance_threshold": [0.58, 0.5425], "chance_majority": [0.5, 0.5],
        }
    )  # fmt: skip
    ax = plots.bars_figure(cells, "d", options_with_defaults(OPTIONS)).axes[0]
    threshold = next(c for c in ax.collections if c.get_label().startswith("chance threshold"))
    assert [segment[:, 1].tolist() for segment in threshold.get_segments()] == [[0.58, 0.58], [0.5425, 0.5425]]
    assert np.concatenate([segment[:, 0] for segment in threshold.get_segments()]).tolist() == pytest.approx(
        [-0.4, 0.4, 0.6, 1.4]
    )
    assert [line.get_label() for line in labelled(ax.lines)] == ["majority-class rate"]  # shared: one line across


def test_bars_of_other_metrics_draw_no_chance_lines(results):
    _, cells, _ = plots.read_tables(results / "summary")
    fig = plots.bars_figure(cells, "ds1", options_with_defaults({**OPTIONS, "best_by": "test_loss"}))
    assert not labelled(fig.axes[0].lines) and not fig.legends


def test_curves_and_confusion_count_fold_runs_and_leave_out_permutation_runs(tmp_path):
    root = tmp_path / "results"
    for seed in range(2):
        for fold in range(3):
            write_run(
                root,
                "eeg",
                "mlp",
                seed=seed,
                fold=fold,
                accuracy=0.7,
                status="diverged" if (seed, fold) == (1, 2) else "finished",
            )
    write_run(root, "eeg", "mlp", seed=0, fold=0, permutation=1, accuracy=0.5)
    write_summary(collect_runs(root), OPTIONS, root / "summary")
    runs, cells, _ = plots.read_tables(root / "summary")
    mine = plots.finished_by_cell(runs)[("eeg", "mlp", "default")]
    assert mine["path"].tolist() == [
        f"runs/eeg/mlp/default/seed{s}_fold{f}" for s, f in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    ]
    _, title, over = plots.cell_curves(root, mine, cells.iloc[0])
    assert title == "eeg / mlp / default: n = 5 of 6 runs" and over == "runs"
    matrix, _, n = plots.summed_confusion(mine)
    assert n == 5 and matrix.sum() == 5 * 40


def test_the_plots_rule_declares_the_registrys_figures():
    """registry.PLOTS is the one list of figures; the Snakemake rules must declare exactly those."""
    import re

    from conftest import REPO
    from mlpsweep.registry import PLOTS

    rule = "".join(
        path.read_text() for path in sorted((REPO / "workflow" / "rules").glob("*.smk"))
    )  # plots.smk, timecourse.smk
    declared = set(re.findall(r"\{RESULTS\}/plots/(\w+)", rule))
    assert declared == set(PLOTS)
    for name, per in PLOTS.items():
        assert (f'directory(f"{{RESULTS}}/plots/{name}")' in rule) == (per != "sweep"), name


def test_figures_with_a_bar_per_cell_stay_bounded_as_cells_grow():
    """Beyond MAX_BARS cells: bars of the best cell per architecture, compute per architecture."""
    n = plots.MAX_BARS + 5
    cells = pd.DataFrame(
        {
            "dataset": "ds",
            "architecture": [f"a{i % 3}" for i in range(n)],
            "hparams": [f"lr{i}" for i in range(n)],
            "n": 1,
            "status": "finished",
            "best": [i == n - 1 for i in range(n)],
            "test_accuracy_mean": [i / n for i in range(n)],
            "device": "CPU",
            "fit_seconds_total": 1.0,
        }
    )
    options = options_with_defaults(OPTIONS)
    few, note = plots.bounded_bars(cells.head(plots.MAX_BARS), options)
    assert len(few) == plots.MAX_BARS and note == ""  # today's figures, unchanged
    best, note = plots.bounded_bars(cells, options)
    assert (
        sorted(best["hparams"]) == [f"lr{n - 3}", f"lr{n - 2}", f"lr{n - 1}"]
        and note == f"; the best cell of each of 3 architectures, of {n} cells"
    )
    pairs = plots.compute_by_pair(cells)
    assert pairs["fit_seconds_total"].sum() == n and sorted(pairs["hparams"]) == ["15 cells"] * 3
