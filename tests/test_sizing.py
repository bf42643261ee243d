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
    assert {name: spec.slots for name, spec in registry.OPTIMIZERS.items()} == {
        name: len(rule.slots) for name, rule in RULES.items()
    }


def test_typo_width_is_refused_at_planning_with_its_figures():
    with pytest.raises(ConfigError) as err:
        sized(tiny_config(architectures=TYPO))
    message = str(err.value)
    assert message.startswith(
        "config: key 'architectures.typo.hidden': architecture 'typo' (hidden [100000000]) on data set 'goodbad'"
    )
    assert f"has {sizing.n_params(8, [100_000_000], 2):,} parameters" in message
    assert (
        "more than execution.mem_mb = 2000 MB" in message
        and "Fix: check the layer widths (a width of 100,000,000 is likely a typo)" in message
    )


def test_typo_width_is_refused_by_snakemake_before_any_job(tmp_path):
    write_config(tmp_path, tiny_config(architectures=TYPO))
    proc = run_snakemake(tmp_path, "-n", check=False, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "key 'architectures.typo.hidden'" in output and "parameters" in output and "execution.mem_mb" in output, (
        output[-3000:]
    )
    assert not (tmp_path / "results").exists()


def test_a_pack_too_large_is_made_smaller_and_said_so():
    cfg = tiny_config(
        architectures={"wide": {"hidden": [2048, 2048]}, "small": {"hidden": [8]}},
        seeds=list(range(8)),
        execution={"runs_per_job": 64, "pack_size": 8, "mem_mb": 1500},
    )
    runs, plan = sized(cfg)
    wide = {r.kind for r in runs if r.architecture == "wide"}
    assert set(plan.pack_sizes) == wide  # the small network keeps its packs of 8
    for kind in wide:
        k = plan.pack_sizes[kind]
        size = plan.sizes[kind]
        assert 1 <= k < 8 and size.host(k) <= 1500 * sizing.MB < size.host(k + 1)
    assert len(plan.notes) == 2 and all(
        "instead of 8" in note and "execution.mem_mb = 1500" in note for note in plan.notes
    )
    jobs = plan_jobs(runs, 64, 8, plan.pack_sizes)
    packs = [p for job in jobs for p in job.packs]
    assert sorted(r.path for p in packs for r in p) == sorted(r.path for r in runs)  # every run planned once
    assert {len(p) for p in packs if p[0].architecture == "small"} == {8}
    assert max(len(p) for p in packs if p[0].architecture == "wide") == plan.pack_sizes[next(iter(wide))]


def test_gpu_memory_limits_packs_where_it_is_known():
    cfg = tiny_config(
        architectures={"wide": {"hidden": [1024, 1024]}},
        seeds=list(range(8)),
        execution={"runs_per_job": 64, "pack_size": 8, "mem_mb": 64000},
    )
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
    assert str(err.value).startswith(
        "config: key 'datasets.mine': data file d.csv: feature column 'b' is not numeric (e.g. 'x' in its first 40 rows). Fix:"
    )


def test_group_equal_to_label_and_too_many_folds_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.csv").write_text("a,subject,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(60)))
    data = {"mine": {"source": "file", "path": "d.csv", "label": "label"}}
    with pytest.raises(
        ConfigError, match=r"key 'split.group': the group column 'label' is the label column of data set 'mine'"
    ):
        sized(tiny_config(datasets=data, split={"method": "leave_one_group_out", "group": "label"}))
    with pytest.raises(
        ConfigError,
        match=r"key 'split.folds': group column 'subject' of data set 'mine' holds 3 groups, fewer than 5 folds. Fix: lower split.folds",
    ):
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
    k = 6
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
    job training a pack of 6 networks of 1.1 M parameters (Adam); the pack's part is over a third
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


# --- at the start of a training job: the GPU it really got ---------------------------------

WIDE_AND_TYPO = {"wide": {"hidden": [1024, 1024]}, "typo": {"hidden": [300_000_000]}}


def gpu_sweep(tmp_path, seeds: int = 4) -> dict:
    return validate_config(
        tiny_config(
            datasets={"d": {"source": "synthetic", "n_samples": 300, "n_features": 100, "seed": 1}},
            architectures=WIDE_AND_TYPO,
            training={"epochs": 1},
            seeds=list(range(seeds)),
            execution={"runs_per_job": 2 * seeds, "pack_size": seeds, "mem_mb": 10_000_000},
            results=str(tmp_path),
        )
    )


def test_fit_gpu_cuts_packs_to_the_gpus_memory_and_refuses_what_cannot_fit(tmp_path):
    sweep = gpu_sweep(tmp_path)
    runs = expand_runs(sweep)
    packs = [job_pack for job in plan_jobs(runs, 8, 4) for job_pack in job.packs]
    wide = next(p for p in packs if p[0].architecture == "wide")
    size = sizing.size_of(wide, {})
    limit = math.ceil(size.gpu(2) / sizing.MB)  # two fit, three do not
    assert size.gpu(3) > limit * sizing.MB >= size.gpu(2)
    fit = sizing.fit_gpu(packs, limit)
    assert [[r.path for r in p] for p in fit.packs] == [[r.path for r in wide[:2]], [r.path for r in wide[2:]]]
    assert sorted(fit.refused) == sorted(r.path for p in packs if p[0].architecture == "typo" for r in p)
    (why,) = set(fit.refused.values())
    assert (
        "'typo' (hidden [300000000]" in why
        and f"more than the {limit:,} MB this job's GPU has" in why
        and "execution.gpu_mem_mb" in why
    )
    (note,) = fit.notes
    assert f"a pack of 4 runs of d/wide ({size.params:,} parameters)" in note and "trained as packs of 2" in note
    roomy = sizing.fit_gpu([wide], 10**6)  # a big card: nothing changes
    assert roomy.packs == [wide] and not roomy.refused and not roomy.notes


def test_a_job_on_a_gpu_trains_smaller_packs_and_fails_the_runs_that_cannot_fit(tmp_path, monkeypatch):
    """run_job with a (faked) GPU of little memory: the wide kind trains in packs of 2 with
    the same numbers as one pack of 4 (CPU), the typo's runs get a failed.json that says why,
    and the job fails (exit 1) without a manifest; provenance records the GPU's memory."""
    from mlpsweep import gpu, rundir
    from mlpsweep.grid import job_params
    from mlpsweep.jobs import run_job

    sweep = gpu_sweep(tmp_path / "gpu")
    runs = expand_runs(sweep)
    (job,) = plan_jobs(runs, 8, 4)
    wide = [r for r in runs if r.architecture == "wide"]
    limit = math.ceil(sizing.size_of(wide, {}).gpu(2) / sizing.MB)
    monkeypatch.setattr(
        gpu,
        "check",
        lambda *a, **k: {
            "require_gpu": "auto",
            "given": "CUDA_VISIBLE_DEVICES=0",
            "usable": ["cuda:0"],
            "warning": None,
        },
    )
    monkeypatch.setattr(gpu, "memory_mb", lambda backend: limit)
    manifest = tmp_path / "gpu" / "m.json"
    assert run_job(sweep, job_params(job)["packs"], sweep["results"], str(manifest)) == 1
    assert not manifest.exists()
    for run in runs:
        run_dir = tmp_path / "gpu" / run.path
        if run.architecture == "typo":
            failure = json.loads((run_dir / rundir.FAILED_FILE).read_text())
            assert failure["config_hash"] == run.hash and failure["error"].startswith("GPU memory: architecture 'typo'")
            assert not (run_dir / rundir.METRICS_FILE).exists()
        else:
            record = json.loads((run_dir / rundir.METRICS_FILE).read_text())
            assert record["provenance"]["gpu_check"]["memory_mb"] == limit
            assert record["provenance"]["pack"]["size"] == 2  # cut from the planned 4
    # the same runs in the planned pack of 4 on the CPU: the same numbers (packing does not change them)
    cpu = validate_config({**sweep, "results": str(tmp_path / "cpu"), "architectures": {"wide": WIDE_AND_TYPO["wide"]}})
    (job4,) = plan_jobs(expand_runs(cpu), 8, 4)
    monkeypatch.undo()
    assert run_job(cpu, job_params(job4)["packs"], cpu["results"], str(tmp_path / "cpu" / "m.json")) == 0
    for run in wide:
        small, whole = (
            json.loads((tmp_path / side / run.path / rundir.METRICS_FILE).read_text()) for side in ("gpu", "cpu")
        )
        assert whole["provenance"]["pack"]["size"] == 4
        for part in ("train", "val", "test"):
            np.testing.assert_allclose(small["metrics"][f"{part}_loss"], whole["metrics"][f"{part}_loss"], rtol=1e-4)


def test_gpu_memory_is_the_first_visible_cards_total_on_tensorflow_and_unknown_without_a_gpu():
    from mlpsweep import gpu

    rows = lambda: [
        {"index": "0", "uuid": "GPU-a", "name": "A100", "memory_mib": 81920, "driver_version": "580"},
        {"index": "1", "uuid": "GPU-b", "name": "T4", "memory_mib": 15360, "driver_version": "580"},
    ]  # noqa: E731
    assert gpu.memory_mb("tensorflow", {"CUDA_VISIBLE_DEVICES": "1"}, rows) == 15360
    assert gpu.memory_mb("tensorflow", {}, rows) == 81920
    assert gpu.memory_mb("tensorflow", {}, lambda: []) is None
    assert gpu.memory_mb("jax") is None  # JAX on this CPU-only machine: no GPU, so unknown


def test_the_sizing_counts_the_engines_evaluation_block():
    """sizing keeps its own copy of the engine's prediction block (importing the engine would
    import Keras at planning): the two must agree."""
    from mlpsweep.engine.pack import PREDICT_ROWS

    assert sizing.EVAL_ROWS == PREDICT_ROWS
