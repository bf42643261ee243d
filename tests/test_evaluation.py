"""A decoding study end to end, through Snakemake: a multi-subject table, subject-wise folds
(group k-fold and leave one subject out, swept as a grid key), permutation runs, a grid over an
architecture key; the summary shows mean ± std over folds and seeds, chance level, per-subject
accuracy and permutation p-values."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow
SUBJECTS, TRIALS = 6, 40


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("study")
    rng = np.random.default_rng(11)
    rows = []
    for s in range(SUBJECTS):
        offset = rng.normal(size=4) * 2  # each subject's own baseline: what a leaky split would learn
        for t in range(TRIALS):
            condition = t % 2
            features = offset + rng.normal(size=4) + condition * np.array([1.5, 0, 0, 0])
            rows.append(
                {
                    "subject": f"sub-{s:02d}",
                    **{f"ch{i}": round(v, 4) for i, v in enumerate(features)},
                    "condition": ["rest", "task"][condition],
                }
            )
    pd.DataFrame(rows).to_csv(workdir / "eeg.csv", index=False)
    cfg = tiny_config(
        datasets={"eeg": {"source": "file", "path": "eeg.csv", "label": "condition"}},
        architectures={"mlp": {"hidden": [16]}},
        training={"epochs": 3, "batch_size": 16, "optimizer": "adam", "learning_rate": 0.01},
        split={"method": "group_kfold", "folds": 3, "group": "subject", "validation": 0.2},
        grid={"split.method": ["group_kfold", "leave_one_group_out"], "architecture.dropout": [0.0, 0.2]},
        seeds=[0, 1],
        summary={"permutations": 2},
        execution={"runs_per_job": 64, "pack_size": 16, "threads": 1},
    )
    write_config(workdir, cfg)
    run_snakemake(workdir)
    return workdir / "results"


def test_folds_are_runs_and_every_trial_is_tested_once_per_seed(study):
    runs = pd.read_csv(study / "summary" / "runs.csv")
    real = runs[runs["permutation"].isna()]
    assert (
        len(real) == 2 * 2 * (3 + SUBJECTS) and (real["status"] == "finished").all()
    )  # methods x dropout x seeds x folds
    for (hparams, seed), part in real.groupby(["hparams", "seed"]):
        rows = []
        for path in part["path"]:
            rows += pd.read_csv(study / path / "predictions.csv")["row"].tolist()
        assert sorted(rows) == list(range(SUBJECTS * TRIALS)), (hparams, seed)
    logo = real[real["hparams"].str.startswith("methodleave_one_group_out")]
    for path in logo["path"]:
        assert pd.read_csv(study / path / "predictions.csv")["group"].nunique() == 1  # one subject per fold


def test_the_table_shows_folds_and_seeds_chance_and_permutation_p(study):
    cells = pd.read_csv(study / "summary" / "summary.csv").set_index("hparams")
    assert set(cells.index) == {
        f"method{m}_do{d}" for m in ("group_kfold", "leave_one_group_out") for d in ("0.0", "0.2")
    }
    assert (
        cells.loc["methodgroup_kfold_do0.0", "n"] == 2 * 3
        and cells.loc["methodleave_one_group_out_do0.0", "n"] == 2 * SUBJECTS
    )
    assert cells["test_accuracy_std"].notna().all()
    assert (cells["n_test_trials"] == SUBJECTS * TRIALS).all() and (cells["chance_majority"] == 0.5).all()
    # 133 of 240 correct: P(X >= 134) < 0.05 <= P(X >= 133) for X ~ Binomial(240, 1/2)
    assert cells["chance_threshold"].iloc[0] == pytest.approx(133 / 240)
    assert (cells["n_permutations"] == 2).all()
    for p in cells["perm_p_value"]:  # (1 + #null >= observed) / (1 + 2)
        assert min(abs(p - k / 3) for k in (1, 2, 3)) < 1e-9
    md = (study / "summary" / "summary.md").read_text()
    assert "Chance level of eeg" in md and "Perm. p" in md
    assert "| eeg | mlp | methodgroup_kfold_do0.0 | 6/6 |" in md


def test_per_subject_table(study):
    by_group = pd.read_csv(study / "summary" / "by_group.csv")
    assert set(by_group["group"]) == {f"sub-{s:02d}" for s in range(SUBJECTS)}
    assert len(by_group) == 4 * SUBJECTS and (by_group["n_seeds"] == 2).all()
    assert (by_group["n_test_rows"] == 2 * TRIALS).all()
    record = json.loads(next((study / "runs").rglob("seed0_fold0/metrics.json")).read_text())
    assert sum(g["n"] for g in record["metrics"]["test_by_group"].values()) == record["data"]["n_test"]
