"""Selection without peeking (mlpsweep/selection.py), on made-up runs (tests/fakes.py)."""

import pandas as pd
import pytest

from fakes import write_run
from mlpsweep import best, selection
from mlpsweep.config import ConfigError, validate_config
from mlpsweep.tables.options import options_with_defaults
from mlpsweep.tables.runs import collect_runs
from mlpsweep.tables.summary import write_summary


def sweep(tmp_path, runs: list[dict], **options):
    for spec in runs:
        write_run(tmp_path, **spec)
    options = options_with_defaults(options)
    out = write_summary(collect_runs(tmp_path), options, tmp_path / "summary")
    choices = selection.write_selection(out["runs"], out["cells"], options, tmp_path / "summary")
    return choices.set_index(["dataset", "leaf"]), (tmp_path / "summary" / "selected.md").read_text()


def run(arch, hparams, seed, val_loss, test_accuracy, **extra):
    return {
        "dataset": "ds",
        "architecture": arch,
        "hparams": hparams,
        "seed": seed,
        "accuracy": test_accuracy,
        "metrics": {"val_loss": val_loss, "test_accuracy": test_accuracy},
        **extra,
    }


def test_each_seed_chooses_on_validation_and_reports_that_runs_test_score(tmp_path):
    # Cell a/x is best on the test rows (0.9 everywhere) but never on validation; b/y is chosen twice, a/y once.
    choices, md = sweep(
        tmp_path,
        [
            run("a", "x", 0, 0.50, 0.90), run("a", "x", 1, 0.50, 0.90), run("a", "x", 2, 0.50, 0.90),
            run("b", "y", 0, 0.20, 0.70), run("b", "y", 1, 0.30, 0.60), run("b", "y", 2, 0.60, 0.80),
            run("a", "y", 0, 0.40, 0.75), run("a", "y", 1, 0.40, 0.75), run("a", "y", 2, 0.45, 0.65),
        ],
    )  # fmt: skip
    assert choices.loc[("ds", "seed0"), ["architecture", "hparams", "score", "test_accuracy"]].tolist() == [
        "b",
        "y",
        0.20,
        0.70,
    ]
    assert choices.loc[("ds", "seed1"), ["architecture", "hparams", "score", "test_accuracy"]].tolist() == [
        "b",
        "y",
        0.30,
        0.60,
    ]
    assert choices.loc[("ds", "seed2"), ["architecture", "hparams", "score", "test_accuracy"]].tolist() == [
        "a",
        "y",
        0.45,
        0.65,
    ]
    assert choices["n_candidates"].tolist() == [3, 3, 3] and not choices["tied"].any()
    mean, std = pd.Series([0.70, 0.60, 0.65]).agg(["mean", "std"])
    assert f"| ds | 3/3 | {mean:.3f} ± {std:.3f} |" in md  # the nested estimate, not the test-chosen 0.900
    assert "b/y (2/3); a/y (1/3)" in md and "lowest Val. loss" in md
    summary_md = (tmp_path / "summary" / "summary.md").read_text()
    assert "The bold cell is chosen on the test rows" in summary_md and "selected.md" in summary_md
    tex = (tmp_path / "summary" / "selected.tex").read_text()
    assert (
        "\\label{tab:mlpsweep-selected}" in tex
        and "Table~\\ref{tab:mlpsweep-selected}" in (tmp_path / "summary" / "summary.tex").read_text()
    )


def test_ties_go_to_fewer_parameters_then_table_order(tmp_path):
    choices, md = sweep(
        tmp_path,
        [
            run("a", "x", 0, 0.30, 0.9, n_params=500), run("b", "x", 0, 0.30, 0.7, n_params=100),  # tie: b has fewer parameters
            run("a", "x", 1, 0.30, 0.9, n_params=500), run("b", "x", 1, 0.30, 0.7, n_params=500),  # tie, same size: a comes first
        ],
    )  # fmt: skip
    assert choices.loc[("ds", "seed0"), "architecture"] == "b" and choices.loc[("ds", "seed1"), "architecture"] == "a"
    assert choices["tied"].all() and "0.300 (tie)" in md


def test_a_higher_is_better_metric_picks_the_highest(tmp_path):
    runs = [
        {**run("a", "x", 0, 0.1, 0.9), "metrics": {"val_accuracy": 0.6, "test_accuracy": 0.9}},
        {**run("b", "x", 0, 0.1, 0.7), "metrics": {"val_accuracy": 0.8, "test_accuracy": 0.7}},
    ]
    choices, md = sweep(tmp_path, runs, select_by="val_accuracy")
    assert choices.loc[("ds", "seed0"), "architecture"] == "b" and "highest Val. acc." in md


def test_missing_failed_diverged_and_permutation_runs_are_not_candidates(tmp_path):
    choices, md = sweep(
        tmp_path,
        [
            run("a", "x", 0, 0.50, 0.9), run("b", "x", 0, 0.10, 0.6, permutation=0),  # a permutation run is never chosen
            run("b", "x", 0, 0.40, 0.8),
            run("a", "x", 1, 0.50, 0.9), run("b", "x", 1, 0.10, 0.6, status="diverged"),
            run("a", "x", 2, 0.50, 0.9, status="failed"), run("b", "x", 2, 0.50, 0.9, status="missing"),
        ],
    )  # fmt: skip
    assert choices.loc[("ds", "seed0"), "architecture"] == "b" and choices.loc[("ds", "seed0"), "score"] == 0.40
    assert choices.loc[("ds", "seed1"), ["architecture", "n_candidates", "n_cells"]].tolist() == ["a", 1, 2]
    assert pd.isna(choices.loc[("ds", "seed2"), "path"]) and choices.loc[("ds", "seed2"), "n_candidates"] == 0
    assert "| ds | 2/3 |" in md and "| ds | seed2 | none |" in md
    assert md.splitlines()[2].endswith("| 2 |")  # two (seed, fold) runs where some cell had no finished run


def test_folds_are_leaves_and_regeneration_is_byte_identical(tmp_path):
    runs = [
        run(a, "x", s, 0.1 * (1 + (a == "a")) + 0.01 * f, 0.8, fold=f)
        for a in ("a", "b")
        for s in (0, 1)
        for f in (0, 1)
    ]
    choices, _ = sweep(tmp_path, runs)
    assert sorted(choices.index.get_level_values("leaf")) == [
        "seed0_fold0",
        "seed0_fold1",
        "seed1_fold0",
        "seed1_fold1",
    ]
    assert set(choices["architecture"]) == {"b"}
    before = {p.name: p.read_bytes() for p in (tmp_path / "summary").glob("selected.*")}
    sweep(tmp_path, [])
    assert {p.name: p.read_bytes() for p in (tmp_path / "summary").glob("selected.*")} == before


def test_best_is_an_index_of_the_chosen_runs_and_exports_their_models(tmp_path):
    choices, _ = sweep(
        tmp_path,
        [
            run("a", "x", 0, 0.5, 0.9),
            run("b", "x", 0, 0.2, 0.7),
            run("a", "x", 1, 0.1, 0.9),
            run("b", "x", 1, 0.2, 0.7),
        ],
    )
    (tmp_path / "best/ds/seed0").mkdir(parents=True)
    (tmp_path / "best/ds/seed0/model.keras").write_bytes(b"an earlier summary's copy")
    best.write_best(tmp_path, choices.reset_index(), options_with_defaults({}), tmp_path / "best")
    assert sorted(p.name for p in (tmp_path / "best/ds").iterdir()) == ["README.txt", "index.csv"]  # no copies
    index = pd.read_csv(tmp_path / "best/ds/index.csv")
    assert index.columns.tolist() == best.INDEX_COLUMNS
    assert index[["leaf", "seed", "path", "select_by", "score"]].values.tolist() == [
        ["seed0", 0, "runs/ds/b/x/seed0", "val_loss", 0.2],
        ["seed1", 1, "runs/ds/a/x/seed1", "val_loss", 0.1],
    ]
    assert best.chosen_runs(tmp_path / "best/ds") == [
        ("seed0", tmp_path.absolute() / "runs/ds/b/x/seed0"),
        ("seed1", tmp_path.absolute() / "runs/ds/a/x/seed1"),
    ]
    readme = (tmp_path / "best/ds/README.txt").read_text()
    assert (
        "seed0: b/x  (runs/ds/b/x/seed0)" in readme
        and "keras.models.load_model" in readme
        and "scripts/predict.py" in readme
        and f"scripts/export_best.py {tmp_path.name} --to best_models" in readme
    )
    assert "Not complete models" in readme and "export_models.py" in readme  # fake runs have no model.json
    assert best.main([str(tmp_path), "--to", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out/ds/seed0/model.keras").read_bytes() == (
        tmp_path / "runs/ds/b/x/seed0/model.keras"
    ).read_bytes()
    assert (tmp_path / "out/ds/chosen.csv").read_bytes() == (tmp_path / "best/ds/index.csv").read_bytes()
    assert best.chosen_runs(tmp_path / "out/ds") == [
        ("seed0", tmp_path / "out/ds/seed0"),
        ("seed1", tmp_path / "out/ds/seed1"),
    ]
    (tmp_path / "runs/ds/a/x/seed1/model.keras").unlink()
    best.write_best(tmp_path, choices.reset_index(), options_with_defaults({}), tmp_path / "best")
    assert (
        "Missing from their run directories (see the problem column of summary/runs.csv): seed1."
        in (tmp_path / "best/ds/README.txt").read_text()
    )
    assert best.export_best(tmp_path, tmp_path / "out2") == {"ds": 1}
    with pytest.raises(FileNotFoundError, match=r"best: no chosen runs in it\. Fix: summarize the sweep first"):
        best.export_best(tmp_path / "runs", tmp_path / "out3")


def test_select_by_must_be_a_validation_metric():
    cfg = {"datasets": {"d": {"source": "synthetic"}}, "architectures": {"a": {"hidden": [8]}}, "seeds": [0]}
    assert validate_config(cfg)["summary"]["select_by"] == "val_loss"
    with pytest.raises(
        ConfigError,
        match=r"key 'summary.select_by': 'test_accuracy' is not a validation metric .*Fix: use one of: val_accuracy, val_loss",
    ):
        validate_config({**cfg, "summary": {"select_by": "test_accuracy"}})
