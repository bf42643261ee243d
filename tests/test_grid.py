from mlpsweep.config import ConfigError, validate_config
from mlpsweep.grid import expand_runs, hparams_label, job_params, plan_jobs

import pytest

from conftest import tiny_config


def test_product_of_datasets_architectures_grid_and_seeds():
    cfg = validate_config(tiny_config(grid={"learning_rate": [0.01, 0.1], "batch_size": [16, 32]}))
    runs = expand_runs(cfg)
    assert len(runs) == 2 * 2 * 4 * 2
    assert len({r.path for r in runs}) == len(runs)
    assert runs[0].path == "runs/goodbad/small/lr0.01_bs16/seed0"
    assert runs[0].config["training"]["learning_rate"] == 0.01
    assert runs[0].config["training"]["batch_size"] == 16


def test_no_grid_gives_default_label():
    runs = expand_runs(validate_config(tiny_config()))
    assert {r.hparams for r in runs} == {"default"}


def test_exclusions_match_on_all_named_keys():
    cfg = validate_config(tiny_config(grid={"learning_rate": [0.01, 0.1]}, exclude=[{"dataset": "iris", "architecture": "deep"}, {"learning_rate": 0.1, "seed": 1}]))
    runs = expand_runs(cfg)
    assert not any(r.dataset == "iris" and r.architecture == "deep" for r in runs)
    assert not any(r.config["training"]["learning_rate"] == 0.1 and r.seed == 1 for r in runs)
    assert len(runs) == 2 * 2 * 2 * 2 - 4 - 3


def test_empty_grid_is_refused():
    with pytest.raises(ConfigError, match="grid is empty"):
        expand_runs(validate_config(tiny_config(exclude=[{"dataset": "goodbad"}, {"dataset": "iris"}])))


def test_hash_changes_only_with_the_run_config():
    a = {r.path: r.hash for r in expand_runs(validate_config(tiny_config()))}
    cfg = tiny_config()
    cfg["architectures"]["deep"]["hidden"] = [16, 4]
    b = {r.path: r.hash for r in expand_runs(validate_config(cfg))}
    changed = {p for p in a if a[p] != b[p]}
    assert changed and all("/deep/" in p for p in changed)
    assert all(a[p] == b[p] for p in a if "/deep/" not in p)


def test_jobs_chunk_runs_in_order_and_cover_all():
    runs = expand_runs(validate_config(tiny_config()))
    jobs = plan_jobs(runs, 3)
    assert [len(j.runs) for j in jobs] == [3, 3, 2]
    assert [r for j in jobs for r in j.runs] == runs
    assert [j.key for j in jobs] == ["chunk0", "chunk1", "chunk2"]
    params = job_params(jobs[0])
    assert params[0]["path"] == runs[0].path and params[0]["hash"] == runs[0].hash


def test_hparams_label_formats_values_compactly():
    assert hparams_label({"learning_rate": 0.001, "batch_size": 32, "optimizer": "adam"}) == "lr0.001_bs32_optadam"
    assert hparams_label({}) == "default"


def test_run_hash_is_the_digest_of_its_config():
    from mlpsweep.grid import config_hash

    for run in expand_runs(validate_config(tiny_config(grid={"learning_rate": [0.01, 0.1]}))):
        assert run.hash == config_hash(run.config)
