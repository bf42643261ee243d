"""Random and Sobol search (`search:`): points, labels, rounding, refusals, packing, tables,
figures, and one small real sweep that grows without retraining."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import run_snakemake, tiny_config, write_config
from fakes import write_run
from mlpsweep import plots, search
from mlpsweep.config import ConfigError, validate_config
from mlpsweep.grid import expand_runs, plan_jobs
from mlpsweep.rundir import RUN_DIR_RE
from mlpsweep.tables.options import options_with_defaults
from mlpsweep.tables.runs import collect_runs
from mlpsweep.tables.summary import write_summary

SOURCE = "sweep.yaml"
SPACE = {
    "learning_rate": {"log_uniform": [1.0e-4, 1.0e-1]},
    "architecture.dropout": {"uniform": [0.0, 0.5]},
    "architecture.l2": {"log_uniform": [1.0e-6, 1.0e-2]},
    "momentum": {"uniform": [0.0, 0.95]},
}


def section(**overrides) -> dict:
    """A validated `search:` section (defaults filled in)."""
    return validate_config(tiny_config(search={"samples": 64, "space": SPACE, **overrides}))["search"]


# ---------------------------------------------------------------- points


@pytest.mark.parametrize("method", ["sobol", "random"])
def test_points_are_deterministic_and_prefix_stable(method):
    """Raising samples from 64 to 128 keeps the first 64 points and their labels."""
    small = search.sample(section(method=method, samples=64, seed=3))
    assert small == search.sample(section(method=method, samples=64, seed=3))
    large = search.sample(section(method=method, samples=128, seed=3))
    assert large[:64] == small and len(large) == 128
    assert len({json.dumps(p, sort_keys=True) for _, p in large}) == 128  # distinct points
    assert search.sample(section(method=method, samples=64, seed=4)) != small  # the seed matters
    assert search.sample(section(method=method, samples=5, seed=3)) == small[:5]  # not a power of 2: still the prefix


def test_labels_keep_their_width_as_the_search_grows():
    assert [search.label(i) for i in (0, 17, 999, 1000, 12345)] == ["s000", "s017", "s999", "s1000", "s12345"]
    labels = [name for name, _ in search.sample(section(method="random", samples=1001))]
    assert labels[:1000] == [f"s{i:03d}" for i in range(1000)] and labels[1000] == "s1000"
    assert all(RUN_DIR_RE.match(f"runs/d/a/{name}/seed0") for name in labels)


def test_values_are_rounded_and_inside_their_distributions():
    space = {
        **SPACE,
        "epochs": {"int_uniform": [1, 4]},
        "architecture.hidden": {"choice": [[32, 64, 64], [128, 128]]},
        "batch_size": {"choice": [16, 32, 64]},
    }
    points = [p for _, p in search.sample(section(samples=256, space=space))]
    for key, spec in space.items():
        name, args = search.distribution(spec)
        values = [p[key] for p in points]
        if name == "choice":
            assert {json.dumps(v) for v in values} == {json.dumps(v) for v in args}  # every choice drawn
            continue
        assert all(args[0] <= v <= args[1] for v in values), key
        if name == "int_uniform":
            assert all(type(v) is int for v in values) and set(values) == {1, 2, 3, 4}
        else:
            assert all(type(v) is float and float(f"{v:.4g}") == v for v in values), key  # 4 significant digits
    rates = np.log10([p["learning_rate"] for p in points])
    assert np.histogram(rates, bins=3, range=(-4, -1))[0].min() >= 80  # log-uniform: each decade about a third
    two = [p["learning_rate"] for _, p in search.sample(section(samples=16, digits=2))]
    assert all(float(f"{v:.2g}") == v for v in two)
    assert search.round_significant(0.000123456, 3) == 0.000123 and search.round_significant(98765.4, 2) == 99000.0


def test_sobol_points_are_balanced():
    """64 scrambled Sobol points put exactly 8 in each eighth of every key's unit range."""
    units = search.unit_points("sobol", 64, 4, seed=0)
    for column in units.T:
        assert np.bincount((column * 8).astype(int), minlength=8).tolist() == [8] * 8


def test_a_sobol_count_not_a_power_of_two_warns_at_planning():
    assert search.warnings_of(section(samples=64), SOURCE) == []
    assert search.warnings_of(section(samples=100, method="random"), SOURCE) == []
    (message,) = search.warnings_of(section(samples=100), SOURCE)
    assert (
        message.startswith("sweep.yaml: key 'search.samples': 100 is not a power of 2")
        and "Fix: use 64 or 128 samples, or method: random" in message
    )


def test_no_search_is_todays_sweep():
    cfg = validate_config(tiny_config())
    assert cfg["search"] == {"method": "sobol", "samples": 0, "seed": 0, "digits": 4, "space": {}}
    assert search.sample(cfg["search"]) == [] and search.keys(cfg["search"]) == []
    assert {run.hparams for run in expand_runs(cfg)} == {"default"}


# ---------------------------------------------------------------- planning


def test_search_points_are_crossed_with_the_grid_seeds_and_data_sets():
    cfg = validate_config(tiny_config(search={"samples": 4, "space": SPACE}, grid={"batch_size": [16, 32]}))
    runs = expand_runs(cfg)
    assert len(runs) == 2 * 2 * 4 * 2 * 2  # data sets x architectures x points x grid x seeds
    first = [r for r in runs if r.dataset == "goodbad" and r.architecture == "small" and r.seed == 0]
    assert [r.hparams for r in first] == [
        "s000_bs16",
        "s000_bs32",
        "s001_bs16",
        "s001_bs32",
        "s002_bs16",
        "s002_bs32",
        "s003_bs16",
        "s003_bs32",
    ]
    points = dict(search.sample(cfg["search"]))
    for run in runs:
        assert RUN_DIR_RE.match(run.path)
        values = points[run.hparams.split("_")[0]]
        assert run.config["training"]["learning_rate"] == values["learning_rate"]
        assert run.config["architecture"]["dropout"] == values["architecture.dropout"]
        assert run.config["training"]["batch_size"] == int(run.hparams.rsplit("bs", 1)[1])


def test_points_of_one_shape_train_as_one_pack():
    """16 points over learning rate, dropout, L2 and momentum: one pack kind, one pack of 16."""
    cfg = validate_config(
        tiny_config(
            datasets={"g": {"source": "synthetic"}},
            architectures={"a": {"hidden": [32, 64, 64]}},
            seeds=[0],
            search={"samples": 16, "space": SPACE},
        )
    )
    runs = expand_runs(cfg)
    assert len(runs) == 16 and len({run.kind for run in runs}) == 1
    (job,) = plan_jobs(runs, runs_per_job=64, pack_size=16)
    assert [len(pack) for pack in job.packs] == [16]
    # A sampled batch size or width splits packs: one kind per value drawn.
    split = {**SPACE, "batch_size": {"choice": [16, 32]}, "architecture.hidden": {"choice": [[8], [16, 16]]}}
    cfg = validate_config({**cfg, "search": {"samples": 16, "space": split}})
    assert len({run.kind for run in expand_runs(cfg)}) == 4


# ---------------------------------------------------------------- refusals

BAD = {
    "unknown_distribution": (
        {"learning_rate": {"log_unifrom": [1e-4, 1e-1]}},
        {},
        "search.space.learning_rate.log_unifrom",
        "unknown distribution (did you mean 'log_uniform'?)",
        "use one of: uniform, log_uniform, int_uniform, choice",
    ),
    "two_distributions": (
        {"momentum": {"uniform": [0.0, 0.5], "choice": [0.9]}},
        {},
        "search.space.momentum",
        "needs exactly one distribution, got 2 (uniform, choice)",
        "give one of: uniform, log_uniform, int_uniform, choice, e.g. {uniform: [0.0, 0.5]}",
    ),
    "empty_range": (
        {"momentum": {"uniform": [0.5, 0.5]}},
        {},
        "search.space.momentum.uniform",
        "the range [0.5, 0.5] is empty",
        "give low < high; a single value belongs in training: or the architecture, not in search:",
    ),
    "reversed_range": (
        {"architecture.dropout": {"uniform": [0.5, 0.1]}},
        {},
        "search.space.architecture.dropout.uniform",
        "the range [0.5, 0.1] is reversed",
        "give low < high, e.g. [0.1, 0.5]",
    ),
    "not_a_range": (
        {"momentum": {"uniform": [0.1]}},
        {},
        "search.space.momentum.uniform",
        "[0.1] is not a range [low, high] of two numbers",
        "give [low, high], e.g. [0.0, 0.5]",
    ),
    "int_range_of_floats": (
        {"epochs": {"int_uniform": [1.0, 4.5]}},
        {},
        "search.space.epochs.int_uniform",
        "[1.0, 4.5] is not a range [low, high] of two integers",
        "give [low, high], e.g. [1, 8]",
    ),
    "log_range_touching_zero": (
        {"architecture.l2": {"log_uniform": [0.0, 1e-2]}},
        {},
        "search.space.architecture.l2.log_uniform",
        "a log range must stay above 0, and [0.0, 0.01] touches it",
        "start the range above 0, e.g. [1e-05, 0.01], or use uniform",
    ),
    "empty_choice": (
        {"batch_size": {"choice": []}},
        {},
        "search.space.batch_size.choice",
        "choice needs at least one value",
        "list the values to choose from, e.g. [16, 32, 64]",
    ),
    "duplicate_choice": (
        {"batch_size": {"choice": [16, 16]}},
        {},
        "search.space.batch_size.choice",
        "has duplicate values [16, 16]",
        "list each value once",
    ),
    "also_in_grid": (
        {"learning_rate": {"log_uniform": [1e-4, 1e-1]}},
        {"grid": {"training.learning_rate": [0.1]}},
        "search.space.learning_rate",
        "is sampled and also swept by grid",
        "sample or sweep each key, not both",
    ),
    "also_in_zip": (
        {"momentum": {"uniform": [0.0, 0.9]}},
        {"zip": [{"momentum": [0.0, 0.9], "learning_rate": [0.1, 0.01]}]},
        "search.space.momentum",
        "is sampled and also swept by zip[0]",
        "sample or sweep each key, not both",
    ),
    "not_sweepable": (
        {"architecture.widths": {"choice": [[8]]}},
        {},
        "search.space.architecture.widths.choice",
        "'widths' is not a key that architecture 'small' can sweep",
        "use one of: hidden, activation, dropout, l2, batch_norm",
    ),
    "range_leaves_schema": (
        {"architecture.dropout": {"uniform": [0.0, 1.0]}},
        {},
        "search.space.architecture.dropout.uniform[1]",
        "value 1.0 is out of range",
        "give a value < 1",
    ),
    "fractions_for_an_integer_key": (
        {"batch_size": {"uniform": [16, 64]}},
        {},
        "search.space.batch_size.uniform",
        "draws fractional values, and 'batch_size' takes whole numbers",
        "use int_uniform or choice for it",
    ),
    "fractions_for_a_float_range_of_an_integer_key": (
        {"epochs": {"log_uniform": [1.0, 8.0]}},
        {},
        "search.space.epochs.log_uniform",
        "draws fractional values, and 'epochs' takes whole numbers",
        "use int_uniform or choice for it",
    ),
    "bad_choice_value": (
        {"optimizer": {"choice": ["sgd", "adamm"]}},
        {},
        "search.space.optimizer.choice[1]",
        "value 'adamm' is not allowed (did you mean 'adam'?)",
        "use one of: sgd, adam, adamw, rmsprop, adagrad, nadam",
    ),
    "space_without_samples": (
        SPACE,
        {"samples": 0},
        "search.samples",
        "the search has a space but no samples",
        "set search.samples, e.g. 64 (a power of 2 for method sobol)",
    ),
    "samples_without_space": (
        {},
        {"samples": 8},
        "search.space",
        "8 samples of an empty space",
        "give the keys to sample under search.space, or remove search.samples",
    ),
    "unknown_method": (
        SPACE,
        {"method": "halton"},
        "search.method",
        "value 'halton' is not allowed",
        "use one of: sobol, random",
    ),
}


@pytest.mark.parametrize("space,extra,key,problem,fix", BAD.values(), ids=BAD.keys())
def test_bad_search_is_refused_with_file_key_and_fix(space, extra, key, problem, fix):
    top = {k: v for k, v in extra.items() if k in ("grid", "zip")}
    sampled = {"samples": 8, "space": space, **{k: v for k, v in extra.items() if k not in top}}
    with pytest.raises(ConfigError) as err:
        validate_config(tiny_config(search=sampled, **top), source=SOURCE)
    assert str(err.value) == f"{SOURCE}: key '{key}': {problem}. Fix: {fix}"


# ---------------------------------------------------------------- tables and figures


@pytest.fixture(scope="module")
def fake_search(tmp_path_factory):
    """16 Sobol points x 2 seeds of fake runs scoring best near lr 1e-2 and low dropout; s005
    failed. Summarized and drawn twice (into two folders)."""
    root = tmp_path_factory.mktemp("search") / "results"
    space = {**SPACE, "architecture.hidden": {"choice": [[32, 64, 64], [128, 128]]}}
    cfg = section(samples=16, space=space)
    points = search.sample(cfg)
    for name, p in points:
        for seed in (0, 1):
            score = (
                0.5
                + 0.4 * math.exp(-((math.log10(p["learning_rate"]) + 2) ** 2))
                - 0.2 * p["architecture.dropout"]
                + 0.02 * seed
            )
            write_run(
                root,
                "ds",
                "mlp",
                name,
                seed=seed,
                accuracy=round(score, 3),
                class_counts=(50, 50),
                status="failed" if name == "s005" else "finished",
            )
    options = {"best_by": "test_accuracy"}
    write_summary(collect_runs(root), options, root / "summary", cfg)
    runs, cells, _ = plots.read_tables(root / "summary")
    drawn = []
    for outdir in (
        root / "plots",
        root / "again",
    ):  # the search figures alone: write_plots draws every cell's curves too
        (outdir / plots.SEARCH_DIR).mkdir(parents=True)
        drawn.append(
            [
                path
                for task in plots.search_tasks(runs, cells, options_with_defaults(options), outdir, cfg)
                for path in plots._draw(task)
            ]
        )
    return root, cfg, dict(points), *drawn


def test_runs_csv_has_the_sampled_values(fake_search):
    import pandas as pd

    root, cfg, points, _, _ = fake_search
    runs = pd.read_csv(root / "summary" / "runs.csv")
    assert list(runs.columns[:8]) == [
        "dataset",
        "architecture",
        "hparams",
        "search.learning_rate",
        "search.architecture.dropout",
        "search.architecture.l2",
        "search.momentum",
        "search.architecture.hidden",
    ]
    for row in runs.to_dict("records"):
        p = points[row["hparams"]]
        assert row["search.learning_rate"] == p["learning_rate"] and row["search.momentum"] == p["momentum"]
        assert json.loads(row["search.architecture.hidden"]) == p["architecture.hidden"]


def test_search_table_lists_points_best_first(fake_search):
    import pandas as pd

    root, _, points, _, _ = fake_search
    table = pd.read_csv(root / "summary" / "search.csv")
    finished = table[table["n"] > 0]
    assert table["rank"].tolist() == list(range(1, 17))
    assert finished["test_accuracy_mean"].is_monotonic_decreasing and len(finished) == 15
    assert table["point"].iloc[-1] == "s005" and table["status"].iloc[-1] == "failed"  # no score: last
    assert bool(table["best"].iloc[0]) and not table["best"].iloc[1:].any()
    best = table["point"].iloc[0]
    assert table["search.architecture.dropout"].iloc[0] == points[best]["architecture.dropout"]
    md = (root / "summary" / "search.md").read_text().splitlines()
    assert (
        md[0]
        == "| Rank | Data set | Architecture | Point | learning_rate (log) | architecture.dropout | architecture.l2 (log) | momentum | architecture.hidden | n | Test acc. | Test bal. acc. | Test macro F1 |"
    )
    assert md[2].startswith(f"| 1 | ds | mlp | {best} | {points[best]['learning_rate']:g} |") and "| 2/2 | **" in md[2]
    assert "16 points of a scrambled Sobol sequence (seed 0; floats to 4 significant digits)" in md[-1]
    write_summary(
        collect_runs(root),
        {"best_by": "test_accuracy"},
        root / "summary-again",
        section(samples=16, space={**SPACE, "architecture.hidden": {"choice": [[32, 64, 64], [128, 128]]}}),
    )
    for name in ("runs.csv", "search.csv", "search.md"):  # regenerated byte for byte
        assert (root / "summary" / name).read_bytes() == (root / "summary-again" / name).read_bytes(), name


def test_a_sweep_without_search_says_so(tmp_path):
    write_run(tmp_path, "ds", "mlp", "default", seed=0)
    write_summary(collect_runs(tmp_path), None, tmp_path / "summary", validate_config(tiny_config())["search"])
    assert (tmp_path / "summary" / "search.md").read_text().startswith("No search points")
    assert (
        (tmp_path / "summary" / "search.csv")
        .read_text()
        .startswith("dataset,architecture,hparams,rank,point,n,n_planned,status,best,")
    )
    assert "search." not in (tmp_path / "summary" / "runs.csv").read_text().splitlines()[0]


def test_search_figure_per_data_set_byte_identical(fake_search):
    root, _, _, first, again = fake_search
    names = sorted(p.relative_to(root / "plots").as_posix() for p in first if "search" in p.parts)
    assert names == ["search/ds.pdf", "search/ds.png"]
    for name in names:
        assert (root / "plots" / name).read_bytes() == (root / "again" / name).read_bytes()
    assert (root / "plots" / "search" / "ds.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_plots_draws_the_search_figures_and_only_for_a_search(tmp_path):
    cfg = section(samples=1, space={"momentum": {"uniform": [0.0, 0.9]}})
    for name, _ in search.sample(cfg):
        write_run(tmp_path, "ds", "mlp", name, seed=0)
    write_summary(collect_runs(tmp_path), None, tmp_path / "summary", cfg)
    stale = tmp_path / "plots" / "search" / "old.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")
    written = plots.write_plots(tmp_path, tmp_path / "summary", tmp_path / "plots", None, search=cfg)
    assert sorted(p.name for p in written if p.parent.name == "search") == ["ds.pdf", "ds.png"]
    assert not stale.exists()
    write_summary(collect_runs(tmp_path), None, tmp_path / "plain", None)  # no search: no values, no figure
    assert (
        plots.search_tasks(*plots.read_tables(tmp_path / "plain")[:2], options_with_defaults(None), tmp_path, None)
        == []
    )


def test_search_figure_axes(fake_search):
    """One panel per sampled key, log axes for log-sampled keys, a series per seed, the best ringed."""
    import matplotlib.pyplot as plt

    root, cfg, _, _, _ = fake_search
    runs, cells, _ = plots.read_tables(root / "summary")
    keys = plots.search_columns(runs)
    fig = plots.search_figure(runs, cells, "ds", keys, set(plots._log_keys(cfg, keys)), {**options_with_defaults(None)})
    panels = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_xscale() for ax in panels] == ["log", "linear", "log", "linear", "linear"]
    assert [ax.get_xlabel() for ax in panels][:2] == ["learning_rate (log scale)", "architecture.dropout"]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["seed 0", "seed 1", "best point"]
    sizes = [len(c.get_offsets()) for c in panels[0].collections]
    assert sizes == [15, 15, 2]  # 15 finished points per seed, the best point's 2 runs ringed
    plt.close(fig)


# ---------------------------------------------------------------- a real sweep that grows


@pytest.mark.workflow
def test_a_search_sweep_trains_and_grows_without_retraining(tmp_path):
    """4 Sobol points train in one job; raising samples to 8 trains only the 4 new ones."""
    cfg = tiny_config(
        datasets={"g": {"source": "synthetic", "n_samples": 120, "n_features": 4, "seed": 1}},
        architectures={"a": {"hidden": [8]}},
        training={"epochs": 1},
        seeds=[0],
        search={
            "samples": 4,
            "space": {
                "learning_rate": {"log_uniform": [1.0e-3, 1.0e-1]},
                "architecture.dropout": {"uniform": [0.0, 0.5]},
            },
        },
        execution={"runs_per_job": 64},
    )
    write_config(tmp_path, cfg)
    run_snakemake(tmp_path, "--omit-from", "summarize")
    runs = tmp_path / "results" / "runs" / "g" / "a"
    stamps = {p.parent.parent.name: p.stat().st_mtime_ns for p in runs.glob("*/seed0/metrics.json")}
    assert sorted(stamps) == ["s000", "s001", "s002", "s003"]
    points = dict(search.sample(validate_config(cfg)["search"]))
    for name in stamps:  # the trained config holds the sampled values
        record = json.loads((runs / name / "seed0" / "metrics.json").read_text())
        assert record["config"]["training"]["learning_rate"] == points[name]["learning_rate"]
        assert record["config"]["architecture"]["dropout"] == points[name]["architecture.dropout"]
    write_config(tmp_path, {**cfg, "search": {**cfg["search"], "samples": 8}})
    run_snakemake(tmp_path, "--omit-from", "plots")
    after = {p.parent.parent.name: p.stat().st_mtime_ns for p in runs.glob("*/seed0/metrics.json")}
    assert sorted(after) == [f"s{i:03d}" for i in range(8)]
    assert {name: after[name] for name in stamps} == stamps, "a finished point was retrained"
    table = (tmp_path / "results" / "summary" / "search.md").read_text()
    assert sum(line.startswith("| ") and "| g | a | s0" in line for line in table.splitlines()) == 8


def test_search_module_is_pure():
    """search.py plans on a login node: no Keras, backend, grid, training or data."""
    from test_architecture import PACKAGE, imports, ours

    found = imports(PACKAGE / "search.py")
    assert ours(found) <= {"config", "refusal"}
    assert not {m.split(".")[0] for m in found} & {"keras", "tensorflow", "jax", "sklearn", "pandas"}
