"""Pre-flight sizing (sizing.py): parameter counts, the memory formula against a real job's
peak, refusals before any job (with figures and fix), and packs made smaller to fit."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import REPO, run_snakemake, tiny_config, write_config
from mlpsweep import registry, sizing
from mlpsweep.config import ConfigError, validate_config
from mlpsweep.engine.network import Shape
from mlpsweep.engine.optimizers import RULES
from mlpsweep.grid import expand_runs, plan_jobs

TYPO = {"typo": {"hidden": [100_000_000]}}  # a typo for 100


def sized(cfg: dict) -> tuple[list, sizing.Plan]:
    sweep = validate_config(cfg)
    runs = expand_runs(sweep)
    return runs, sizing.plan(runs, sweep["execution"])


@pytest.mark.parametrize("hidden,batch_norm", [((8,), False), ((32, 64, 64), False), ((16, 4), True)])
def test_parameter_count_is_the_networks(hidden, batch_norm):
    shape = Shape(20, hidden, 3, batch_norm=batch_norm)
    assert sizing.n_params(20, hidden, 3, batch_norm) == sum(math.prod(dims) for _, dims in shape.weight_shapes())


def test_optimizer_slots_are_the_engines():
    assert {name: spec.slots for name, spec in registry.OPTIMIZERS.items()} == {name: len(rule.slots) for name, rule in RULES.items()}


def test_typo_width_is_refused_at_planning_with_its_figures():
    with pytest.raises(ConfigError) as err:
        sized(tiny_config(architectures=TYPO))
    message = str(err.value)
    assert message.startswith("config: key 'architectures.typo.hidden': architecture 'typo' (hidden [100000000]) on data set 'goodbad'")
    assert f"has {sizing.n_params(8, [100_000_000], 2):,} parameters" in message
    assert "more than execution.mem_mb = 2000 MB" in message and "Fix: check the layer widths (a width of 100,000,000 is likely a typo)" in message


def test_typo_width_is_refused_by_snakemake_before_any_job(tmp_path):
    write_config(tmp_path, tiny_config(architectures=TYPO))
    proc = run_snakemake(tmp_path, "-n", check=False, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "key 'architectures.typo.hidden'" in output and "parameters" in output and "execution.mem_mb" in output, output[-3000:]
    assert not (tmp_path / "results").exists()


def test_a_pack_too_large_is_made_smaller_and_said_so():
    cfg = tiny_config(architectures={"wide": {"hidden": [2048, 2048]}, "small": {"hidden": [8]}}, seeds=list(range(8)), execution={"runs_per_job": 64, "pack_size": 8, "mem_mb": 1500})
    runs, plan = sized(cfg)
    wide = {r.kind for r in runs if r.architecture == "wide"}
    assert set(plan.pack_sizes) == wide  # the small network keeps its packs of 8
    for kind in wide:
        k = plan.pack_sizes[kind]
        size = plan.sizes[kind]
        assert 1 <= k < 8 and size.host(k) <= 1500 * sizing.MB < size.host(k + 1)
    assert len(plan.notes) == 2 and all("instead of 8" in note and "execution.mem_mb = 1500" in note for note in plan.notes)
    jobs = plan_jobs(runs, 64, 8, plan.pack_sizes)
    packs = [p for job in jobs for p in job.packs]
    assert sorted(r.path for p in packs for r in p) == sorted(r.path for r in runs)  # every run planned once
    assert {len(p) for p in packs if p[0].architecture == "small"} == {8}
    assert max(len(p) for p in packs if p[0].architecture == "wide") == plan.pack_sizes[next(iter(wide))]


def test_gpu_memory_limits_packs_where_it_is_known():
    cfg = tiny_config(architectures={"wide": {"hidden": [1024, 1024]}}, seeds=list(range(8)), execution={"runs_per_job": 64, "pack_size": 8, "mem_mb": 64000})
    _, free = sized(cfg)
    assert free.pack_sizes == {}
    _, limited = sized({**cfg, "execution": {**cfg["execution"], "gpu_mem_mb": 560}})
    assert limited.pack_sizes and all(k < 8 for k in limited.pack_sizes.values())
    assert "GPU memory (execution.gpu_mem_mb = 560)" in limited.notes[0]


def test_non_numeric_feature_is_refused_at_planning(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = "".join(f"{i},{'x' if i == 3 else i * 0.5},{i % 2}\n" for i in range(40))
    (tmp_path / "d.csv").write_text("a,b,label\n" + rows)
    with pytest.raises(ConfigError) as err:
        sized(tiny_config(datasets={"mine": {"source": "file", "path": "d.csv", "label": "label"}}))
    assert str(err.value).startswith("config: key 'datasets.mine': data file d.csv: feature column 'b' is not numeric (e.g. 'x' in its first 40 rows). Fix:")


def test_group_equal_to_label_and_too_many_folds_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.csv").write_text("a,subject,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(60)))
    data = {"mine": {"source": "file", "path": "d.csv", "label": "label"}}
    with pytest.raises(ConfigError, match=r"key 'split.group': the group column 'label' is the label column of data set 'mine'"):
        sized(tiny_config(datasets=data, split={"method": "leave_one_group_out", "group": "label"}))
    with pytest.raises(ConfigError, match=r"key 'split.folds': group column 'subject' of data set 'mine' holds 3 groups, fewer than 5 folds. Fix: lower split.folds"):
        sized(tiny_config(datasets=data, split={"method": "group_kfold", "group": "subject", "folds": 5}))
    runs, _ = sized(tiny_config(datasets=data, split={"method": "group_kfold", "group": "subject", "folds": 3}))
    assert {r.fold for r in runs} == {0, 1, 2}


MEASURE = textwrap.dedent(
    """
    import json, resource, sys, tempfile
    sys.path[:0] = [sys.argv[1] + "/scripts", sys.argv[1] + "/tests"]
    from conftest import tiny_config
    from mlpsweep import sizing
    from mlpsweep.config import validate_config
    from mlpsweep.grid import expand_runs, job_params, plan_jobs
    from mlpsweep.jobs import run_job
    k = 4
    cfg = validate_config(tiny_config(datasets={"d": {"source": "synthetic", "n_samples": 300, "n_features": 100, "seed": 1}},
        architectures={"w": {"hidden": [1024, 1024]}}, training={"epochs": 1, "optimizer": "adam"}, seeds=list(range(k)),
        execution={"runs_per_job": k, "pack_size": k, "mem_mb": 64000}, results=tempfile.mkdtemp()))
    runs = expand_runs(cfg)
    (job,) = plan_jobs(runs, k, k)
    assert run_job(cfg, job_params(job)["packs"], cfg["results"], cfg["results"] + "/m.json") == 0
    size = sizing.plan(runs, cfg["execution"]).sizes[runs[0].kind]
    print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "formula": size.host(k), "pack": size.host(k) - size.host(0)}))
    """
)


@pytest.mark.workflow
def test_memory_formula_is_within_its_factor_of_a_real_jobs_peak():
    """The formula (docs/sizing.md) is within 0.75x..1.5x of the peak resident memory of a
    job training a pack of 4 networks of 1.1 M parameters (Adam); the pack's part is a third
    of the figure, so the check is not the baseline's alone."""
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(REPO)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["pack"] > 0.3 * found["formula"]
    assert 0.75 <= found["formula"] / found["peak"] <= 1.5, found


def test_planning_sizes_each_kind_once_for_large_sweeps():
    """100 seeds x 2 data sets x 2 architectures x 5 learning rates: 2,000 runs, 4 kinds."""
    runs, plan = sized(tiny_config(seeds=list(range(100)), grid={"learning_rate": [0.1, 0.2, 0.3, 0.4, 0.5]}))
    assert len(runs) == 2000 and len(plan.sizes) == 4 and plan.pack_sizes == {}
    assert all(np.isfinite(s.host(16)) for s in plan.sizes.values())
