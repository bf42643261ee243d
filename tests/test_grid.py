import pytest

from conftest import tiny_config
from mlpsweep import identity
from mlpsweep.config import ConfigError, validate_config
from mlpsweep.grid import expand_runs, hparams_label, job_params, pack_kind, plan_jobs


def runs_of(**overrides):
    return expand_runs(validate_config(tiny_config(**overrides)))


def test_product_of_datasets_architectures_grid_and_seeds():
    runs = runs_of(grid={"learning_rate": [0.01, 0.1], "batch_size": [16, 32]})
    assert len(runs) == 2 * 2 * 4 * 2
    assert len({r.path for r in runs}) == len(runs)
    assert runs[0].path == "runs/goodbad/small/lr0.01_bs16/seed0"
    assert runs[0].config["training"]["learning_rate"] == 0.01
    assert runs[0].config["training"]["batch_size"] == 16


def test_no_grid_gives_default_label():
    assert {r.hparams for r in runs_of()} == {"default"}


def test_exclusions_match_on_all_named_keys():
    runs = runs_of(
        grid={"learning_rate": [0.01, 0.1]},
        exclude=[{"dataset": "iris", "architecture": "deep"}, {"learning_rate": 0.1, "seed": 1}],
    )
    assert not any(r.dataset == "iris" and r.architecture == "deep" for r in runs)
    assert not any(r.config["training"]["learning_rate"] == 0.1 and r.seed == 1 for r in runs)
    assert len(runs) == 2 * 2 * 2 * 2 - 4 - 3


def test_empty_grid_is_refused():
    with pytest.raises(ConfigError, match="grid is empty"):
        runs_of(exclude=[{"dataset": "goodbad"}, {"dataset": "iris"}])


def test_grid_over_architecture_and_dataset_keys_with_readable_labels():
    cfg = tiny_config(
        datasets={"blobs": {"source": "synthetic", "n_samples": 300, "n_features": 4}},
        grid={"learning_rate": [0.01, 0.1], "architecture.dropout": [0.0, 0.5], "dataset.n_samples": [200, 400]},
    )
    runs = expand_runs(validate_config(cfg))
    assert len(runs) == 2 * 2 * 2 * 2 * 2  # 2 architectures x 8 points x 2 seeds
    run = next(r for r in runs if r.hparams == "lr0.1_do0.5_n400" and r.architecture == "deep" and r.seed == 1)
    assert run.path == "runs/blobs/deep/lr0.1_do0.5_n400/seed1"
    assert run.config["architecture"]["dropout"] == 0.5 and run.config["dataset"]["n_samples"] == 400
    assert run.config["training"]["learning_rate"] == 0.1
    assert validate_config(cfg)["architectures"]["deep"]["dropout"] == 0.0  # the config itself is untouched


def test_zip_sweeps_lists_together():
    runs = runs_of(grid={"batch_size": [16, 32]}, zip=[{"learning_rate": [0.01, 0.1, 0.5], "epochs": [4, 2, 1]}])
    labels = sorted({r.hparams for r in runs})
    assert labels == sorted(f"bs{b}_lr{lr}_ep{e}" for b in (16, 32) for lr, e in ((0.01, 4), (0.1, 2), (0.5, 1)))
    assert all(
        r.config["training"]["epochs"] == {0.01: 4, 0.1: 2, 0.5: 1}[r.config["training"]["learning_rate"]] for r in runs
    )


def test_exclude_on_dotted_keys():
    runs = runs_of(
        grid={"architecture.dropout": [0.0, 0.5], "training.epochs": [1, 2]},
        exclude=[{"architecture.dropout": 0.5, "epochs": 2}],
    )
    assert {r.hparams for r in runs} == {"do0.0_ep1", "do0.0_ep2", "do0.5_ep1"}


def test_folds_are_a_dimension_like_seeds():
    runs = runs_of(split={"method": "kfold", "folds": 3}, seeds=[0, 1])
    assert len(runs) == 2 * 2 * 2 * 3
    assert [r.path for r in runs[:4]] == [
        "runs/goodbad/small/default/seed0_fold0",
        "runs/goodbad/small/default/seed0_fold1",
        "runs/goodbad/small/default/seed0_fold2",
        "runs/goodbad/small/default/seed1_fold0",
    ]
    assert runs[1].config["fold"] == 1 and runs[1].fold == 1


def test_permutation_runs_follow_each_cell():
    runs = runs_of(
        seeds=[3, 1], summary={"permutations": 2}, datasets={"goodbad": {"source": "synthetic", "n_samples": 300}}
    )
    cell = [r.path.rsplit("/", 1)[1] for r in runs if r.architecture == "small"]
    assert cell == ["seed1", "seed3", "seed1_perm1", "seed1_perm2"]  # permutation runs use the first seed
    assert runs[2].config["permutation"] == 1 and runs[2].hash != runs[0].hash


def test_leave_one_group_out_plans_one_fold_per_group(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "eeg.csv").write_text("subject,a,label\n" + "".join(f"s{i % 5},{i},{i % 2}\n" for i in range(50)))
    runs = runs_of(
        datasets={"eeg": {"source": "file", "path": "eeg.csv", "label": "label"}},
        split={"method": "leave_one_group_out", "group": "subject"},
        seeds=[0],
    )
    assert len(runs) == 2 * 5 and runs[-1].path.endswith("seed0_fold4")


def test_hash_changes_only_with_the_run_config():
    a = {r.path: r.hash for r in runs_of()}
    cfg = tiny_config()
    cfg["architectures"]["deep"]["hidden"] = [16, 4]
    b = {r.path: r.hash for r in expand_runs(validate_config(cfg))}
    changed = {p for p in a if a[p] != b[p]}
    assert changed and all("/deep/" in p for p in changed)
    assert all(a[p] == b[p] for p in a if "/deep/" not in p)


def test_run_hash_is_the_digest_of_its_identity():
    for run in runs_of(
        grid={"learning_rate": [0.01, 0.1]}, split={"method": "kfold", "folds": 2}, summary={"permutations": 1}
    ):
        assert run.hash == identity.run_hash(run.config)


def test_packs_hold_runs_of_one_kind_and_jobs_whole_packs():
    runs = runs_of(grid={"learning_rate": [0.01, 0.1, 0.5]}, seeds=[0, 1, 2])
    jobs = plan_jobs(runs, runs_per_job=8, pack_size=4)
    packs = [pack for job in jobs for pack in job.packs]
    assert sorted(r.path for p in packs for r in p) == sorted(r.path for r in runs)
    for pack in packs:
        assert len(pack) <= 4 and len({pack_kind(r.config) for r in pack}) == 1 == len(
            {r.kind for r in pack}
        )  # learning rates and seeds mix, shapes do not
    assert all(sum(map(len, job.packs)) <= 8 for job in jobs)
    assert [len(p) for p in packs] == [4, 4, 1] * 4  # 9 runs of each of 4 kinds
    assert [j.key for j in jobs][:2] == ["chunk0", "chunk1"]
    params = job_params(jobs[0])
    assert params["packs"][0][0] == [jobs[0].packs[0][0].path, jobs[0].packs[0][0].hash]


def test_pack_size_one_and_small_jobs():
    runs = runs_of()
    assert [len(p) for j in plan_jobs(runs, 3, pack_size=1) for p in j.packs] == [1] * 8
    assert [len(p) for j in plan_jobs(runs, 1, pack_size=16) for p in j.packs] == [
        1
    ] * 8  # a job never holds more than runs_per_job


def test_hparams_label_formats_values_compactly():
    assert hparams_label({"learning_rate": 0.001, "batch_size": 32, "optimizer": "adam"}) == "lr0.001_bs32_optadam"
    assert (
        hparams_label(
            {"architecture.hidden": [32, 64], "architecture.batch_norm": True, "architecture.activation": "tanh"}
        )
        == "h32-64_bntrue_acttanh"
    )
    assert hparams_label({}) == "default"
