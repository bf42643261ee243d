"""Running on SLURM: the sweep through a real cluster with profiles/slurm, and env modules.

One tiny sweep runs through the local cluster of scripts/slurm/start-local-cluster.sh
while a training job is cancelled mid-fit; the `slurm` tests read its results, SLURM's
job list and a local run of the same config. They are skipped unless SLURM_CONF points
at a running cluster; with MLPSWEEP_REQUIRE_SLURM=1 (CI) a missing cluster fails them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, SNAKEMAKE, checkpoint_epoch, run_snakemake, write_config

REQUIRE_SLURM = os.environ.get("MLPSWEEP_REQUIRE_SLURM", "") not in ("", "0")
SLURM_TOOLS = ("sinfo", "squeue", "sbatch", "scancel", "srun")
PROFILES = ("--profile", str(REPO / "profiles" / "slurm"), "--profile", str(REPO / "profiles" / "slurm-localhost"))
LONG = 30  # epochs of chunk1's runs
# 4 runs in 2 training jobs of one pack each (runs_per_job 2): chunk0 trains two 4-epoch runs,
# chunk1 two 30-epoch runs, long enough (several seconds) to be cancelled while they fit.
# The test cluster's GPUs are device files: the job's GPU check would (rightly) refuse to train
# on the CPU, so this sweep allows it (test_a_job_given_a_gpu_it_cannot_use_fails_at_once).
SWEEP = {
    "datasets": {"goodbad": {"source": "synthetic", "n_samples": 3000, "n_features": 20, "seed": 1}},
    "architectures": {"mlp": {"hidden": [32, 32]}},
    "training": {"batch_size": 8},
    "grid": {"epochs": [4, LONG]},
    "seeds": [0, 1],
    "execution": {
        "runs_per_job": 2,
        "threads": 1,
        "steps_per_execution": 1,
        "mem_mb": 1000,
        "runtime": 10,
        "require_gpu": False,
        "progress_seconds": 0,
        "checkpoint_seconds": 0,  # a checkpoint every epoch: the test cancels mid-fit after one
    },
}
UNTOUCHED = [f"runs/goodbad/mlp/ep4/seed{s}" for s in (0, 1)]  # chunk0: done before the cancel
CANCELLED = [f"runs/goodbad/mlp/ep{LONG}/seed{s}" for s in (0, 1)]  # chunk1: one pack, cancelled mid-fit
TIME_COLUMNS = ("fit_seconds", "slurm_job_id")


def node_states(wait: float = 60) -> subprocess.CompletedProcess:
    """`sinfo` of partition gpu, waiting while the node is still completing an earlier test's jobs."""
    deadline = time.monotonic() + wait
    while True:
        states = subprocess.run(["sinfo", "-h", "-p", "gpu", "-o", "%T"], capture_output=True, text=True, timeout=20)
        if (
            states.returncode != 0
            or not {"completing", "draining"} & set(states.stdout.split())
            or time.monotonic() > deadline
        ):
            return states
        time.sleep(1)


def slurm_problem() -> str | None:
    """Why the local SLURM cluster cannot run the tests, or None."""
    start = "start it with scripts/slurm/start-local-cluster.sh, then: source /tmp/mlpsweep-slurm/env.sh"
    if not os.environ.get("SLURM_CONF"):
        return f"SLURM_CONF is not set; {start}"
    missing = [tool for tool in SLURM_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"SLURM commands not found: {', '.join(missing)}; {start}"
    try:
        states = node_states()
        # Snakemake's jobstep plugin calls srun inside jobs without SLURM_CONF; env.sh puts an srun wrapper first on PATH.
        env = {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}
        srun = subprocess.run(
            ["srun", "--test-only", "-p", "gpu", "-n1", "true"], capture_output=True, text=True, timeout=20, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"SLURM does not answer ({exc}); {start}"
    if states.returncode != 0 or not {"idle", "mixed", "allocated"} & set(states.stdout.split()):
        return f"no usable partition 'gpu' (sinfo: {(states.stdout + states.stderr).strip() or 'no nodes'}); {start}"
    if srun.returncode != 0:
        return f"srun without SLURM_CONF cannot reach the cluster ({srun.stderr.strip()[-200:]}); source env.sh so its srun wrapper comes first on PATH"
    return None


@pytest.fixture(scope="module")
def slurm_cluster():
    problem = slurm_problem()
    if problem and REQUIRE_SLURM:
        pytest.fail(f"MLPSWEEP_REQUIRE_SLURM is set but {problem}")
    if problem:
        pytest.skip(problem)


def slurm_jobs(workdir: Path) -> dict[str, dict]:
    """SLURM jobs started from `workdir` (finished ones stay listed for MinJobAge = 5 min)."""
    fields = ("JobID", "Comment", "State", "tres-per-job", "TimeLimit", "MinMemory", "WorkDir")
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-O", ",".join(f"{f}:|" for f in fields)],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    jobs = {}
    for line in out.splitlines():
        job_id, comment, state, tres, limit, memory, wd = (value.strip() for value in line.split("|")[: len(fields)])
        if Path(wd) == workdir:
            jobs[job_id] = {"comment": comment, "state": state, "tres": tres, "time_limit": limit, "memory": memory}
    return jobs


def cancel_mid_fit(proc: subprocess.Popen, workdir: Path, timeout: float = 180) -> dict:
    """Wait until chunk0 is done and chunk1's pack is past epoch 1 with 10 epochs to go; scancel chunk1's job."""
    results = workdir / "results"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        done = all((results / run / "metrics.json").is_file() for run in UNTOUCHED)
        if done and 1 <= checkpoint_epoch(results / CANCELLED[0]) <= LONG - 10:
            running = [
                j
                for j, info in slurm_jobs(workdir).items()
                if info["comment"] == "rule_train_wildcards_1" and info["state"] == "RUNNING"
            ]
            assert len(running) == 1, f"expected one running SLURM job for chunk1: {slurm_jobs(workdir)}"
            job_id = running[0]
            mtimes = {run: (results / run / "metrics.json").stat().st_mtime_ns for run in UNTOUCHED}
            subprocess.run(["scancel", job_id], check=True, timeout=20)
            return {"job_id": job_id, "epoch": checkpoint_epoch(results / CANCELLED[0]), "finished_mtimes": mtimes}
        time.sleep(0.1)
    raise AssertionError(f"chunk1 never reached epoch 1 of {CANCELLED} (snakemake exit code {proc.poll()})")


def stop_sweep(proc: subprocess.Popen, workdir: Path) -> None:
    """Interrupt a Snakemake run that is still going (it cancels its jobs), then any job left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    left = [j for j, info in slurm_jobs(workdir).items() if info["state"] in ("PENDING", "RUNNING")]
    if left:
        subprocess.run(["scancel", *left], timeout=20)


@pytest.fixture(scope="module")
def sweeps(slurm_cluster, tmp_path_factory):
    """The sweep through SLURM with one job cancelled mid-fit, and the same sweep run locally."""
    slurm_dir, local_dir = tmp_path_factory.mktemp("slurm"), tmp_path_factory.mktemp("local")
    write_config(slurm_dir, SWEEP)
    write_config(local_dir, SWEEP)
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(slurm_dir),
        *PROFILES,
        "summarize",
    ]
    log = slurm_dir / "snakemake.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, cwd=slurm_dir, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        )
        try:
            cancelled = cancel_mid_fit(proc, slurm_dir)
            run_snakemake(local_dir, "summarize")  # meanwhile SLURM retries the cancelled job
            rc = proc.wait(timeout=300)
        finally:
            stop_sweep(proc, slurm_dir)
    text = log.read_text()
    assert rc == 0, f"snakemake with the SLURM profile failed ({rc}):\n{text[-6000:]}"
    return {"slurm": slurm_dir, "local": local_dir, "cancelled": cancelled, "log": text, "jobs": slurm_jobs(slurm_dir)}


def records(workdir: Path) -> dict[str, dict]:
    runs = (workdir / "results").glob("runs/*/*/*/seed*/metrics.json")
    return {p.parent.relative_to(workdir / "results").as_posix(): json.loads(p.read_text()) for p in runs}


@pytest.mark.slurm
def test_every_run_trained_in_a_real_slurm_job(sweeps):
    runs = records(sweeps["slurm"])
    assert len(runs) == 4 and all(r["status"] == "finished" for r in runs.values())
    job_ids = {r["provenance"]["slurm"]["job_id"] for r in runs.values()}
    assert job_ids <= set(sweeps["jobs"]), f"job ids {job_ids} not known to squeue: {sweeps['jobs']}"
    # the cancelled job trained its first run to the end; every other job completed
    assert {sweeps["jobs"][j]["state"] for j in job_ids - {sweeps["cancelled"]["job_id"]}} == {"COMPLETED"}
    # jobs run the submitting Snakemake's Python (the project's .venv on the shared file system)
    assert {Path(r["provenance"]["python_executable"]).parent for r in runs.values()} == {Path(sys.executable).parent}


@pytest.mark.slurm
def test_training_jobs_got_a_gpu_and_the_summary_ran_locally(sweeps):
    for path, record in records(sweeps["slurm"]).items():
        assert record["provenance"]["device"]["cuda_visible_devices"], f"{path}: no CUDA_VISIBLE_DEVICES"
        assert record["provenance"]["slurm"]["job_partition"] == "gpu"
    jobs = sweeps["jobs"]
    assert jobs and all(
        info["comment"].startswith("rule_train_wildcards_") and info["tres"] == "gres:gpu:1" for info in jobs.values()
    ), jobs
    assert "localrule summarize:" in sweeps["log"]  # ran in the submitting process: no SLURM job, no GPU
    assert (sweeps["slurm"] / "results" / "summary" / "summary.csv").is_file()


@pytest.mark.slurm
def test_runs_per_job_bundles_runs_into_fewer_slurm_jobs(sweeps):
    runs = records(sweeps["slurm"])
    job_ids = {r["provenance"]["slurm"]["job_id"] for r in runs.values()}
    assert len(job_ids) < len(runs) == 4
    assert len(sweeps["jobs"]) == 3  # 2 training jobs and the retry of the cancelled one
    # chunk0 was not interrupted: one SLURM job trained both of its runs, as one pack
    assert len({r["provenance"]["slurm"]["job_id"] for p, r in runs.items() if "/ep4/" in p}) == 1
    assert {r["provenance"]["pack"]["size"] for r in runs.values()} == {2}


@pytest.mark.slurm
def test_cancelled_job_is_retried_and_resumes_from_its_checkpoint(sweeps):
    cancelled = sweeps["cancelled"]
    results = sweeps["slurm"] / "results"
    assert sweeps["jobs"][cancelled["job_id"]]["state"] == "CANCELLED"
    runs = records(sweeps["slurm"])
    for run in CANCELLED:
        resumed = runs[run]["provenance"]
        assert resumed["resumed_from_epoch"] and resumed["resumed_from_epoch"] >= cancelled["epoch"] >= 1
        assert resumed["slurm"]["job_id"] != cancelled["job_id"]
        assert pd.read_csv(results / run / "history.csv")["epoch"].tolist() == list(range(1, LONG + 1))
    # attempt 2 asked for twice the runtime and memory of attempt 1
    first, retry = (
        sweeps["jobs"][cancelled["job_id"]],
        sweeps["jobs"][runs[CANCELLED[0]]["provenance"]["slurm"]["job_id"]],
    )
    assert (first["time_limit"], first["memory"], retry["time_limit"], retry["memory"]) == (
        "10:00",
        "1000M",
        "20:00",
        "2000M",
    )
    assert not list((results / "checkpoints").glob("*.npz"))
    # the runs finished before the cancel were neither lost nor trained again
    for run, mtime in cancelled["finished_mtimes"].items():
        assert (results / run / "metrics.json").stat().st_mtime_ns == mtime
    for path in runs:
        assert (results / path / "train.log").read_text().count(": finished in") == 1, path


ATTEMPT = re.compile(r"^.* INFO ==== attempt (\d+) \| SLURM job (\d+) \| host (\S+) \| started (\S+) ====$", re.M)


@pytest.mark.slurm
def test_the_attempts_log_keeps_the_cancelled_attempt_and_its_retry(sweeps):
    """Snakemake deletes chunk1.log before the retry; attempts/chunk1.log keeps both attempts,
    each under a header naming its attempt and its own SLURM job (docs/slurm.md)."""
    cancelled = sweeps["cancelled"]["job_id"]
    retry = records(sweeps["slurm"])[CANCELLED[0]]["provenance"]["slurm"]["job_id"]
    logs = sweeps["slurm"] / "results" / "logs" / "train"
    kept = (logs / "attempts" / "chunk1.log").read_text()
    headers = ATTEMPT.findall(kept)
    assert [(attempt, job) for attempt, job, _, _ in headers] == [("1", cancelled), ("2", retry)], kept[-3000:]
    assert cancelled != retry
    assert {host for _, _, host, _ in headers} == {socket.gethostname()} and headers[0][3] < headers[1][3]
    first, second = kept.split("==== attempt 2 |")
    # attempt 1's lines are kept: it trained, logged its pack's epochs, and was stopped by scancel
    assert re.search(r"pack pack-\w+: epoch \d+/%d" % LONG, first), first[-2000:]
    assert "interrupted by signal 15; the checkpoint keeps epoch" in first, first[-2000:]
    # attempt 2 resumed the pack and finished it
    assert "resuming from epoch" in second and "interrupted" not in second, second[-2000:]
    assert re.search(r"pack pack-\w+: epoch %d/%d" % (LONG, LONG), second), second[-2000:]
    # Snakemake removed attempt 1 from the job's own log: it holds the retry only
    latest = (logs / "chunk1.log").read_text()
    assert [job for _, job, _, _ in ATTEMPT.findall(latest)] == [retry] and "interrupted" not in latest
    # chunk0 ran once: one attempt
    assert [attempt for attempt, *_ in ATTEMPT.findall((logs / "attempts" / "chunk0.log").read_text())] == ["1"]


@pytest.mark.slurm
def test_summary_equals_a_local_run_of_the_same_config(sweeps):
    slurm, local = (sweeps[k] / "results" / "summary" for k in ("slurm", "local"))
    for name in ("summary.csv", "runs.csv"):
        a, b = (pd.read_csv(d / name) for d in (slurm, local))
        keep = [c for c in a.columns if not c.startswith(TIME_COLUMNS)]
        pd.testing.assert_frame_equal(a[keep], b[keep])
    md = [
        [line for line in (d / "summary.md").read_text().splitlines() if not line.startswith("Compute:")]
        for d in (slurm, local)
    ]
    assert md[0] == md[1]


@pytest.mark.workflow
def test_env_modules_from_the_config_are_loaded_before_training(tmp_path, monkeypatch):
    """--software-deployment-method env-modules: a stand-in `module` command records its calls."""
    calls = tmp_path / "module-calls.txt"
    fake = tmp_path / "bin" / "module"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    write_config(
        tmp_path,
        {
            **SWEEP,
            "grid": {},
            "seeds": [0],
            "training": {"epochs": 1},
            "execution": {"env_modules": ["cuda/12.4", "cudnn/9.1"], "require_gpu": False},
        },
    )
    run_snakemake(tmp_path, "summarize", "--software-deployment-method", "env-modules")
    # Snakemake loads them once to look for a Python in them, once for the training script
    assert calls.read_text().splitlines() == ["purge", "load cuda/12.4 cudnn/9.1"] * 2
    assert len(records(tmp_path)) == 1


@pytest.mark.slurm
def test_a_job_given_a_gpu_it_cannot_use_fails_at_once(slurm_cluster, tmp_path):
    """SLURM gives the job a (fake) GPU; the CPU build of TensorFlow cannot use it: the job fails
    before any run, saying why and how to fix it, instead of training on the CPU unnoticed."""
    write_config(
        tmp_path,
        {
            **SWEEP,
            "grid": {},
            "seeds": [0],
            "training": {"epochs": 1},
            "execution": {**SWEEP["execution"], "require_gpu": "auto"},
        },
    )
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(tmp_path),
        *PROFILES,
        "--retries",
        "0",
        "summarize",
    ]
    proc = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    )
    assert proc.returncode != 0
    log = "".join(p.read_text() for p in (tmp_path / "results" / "logs" / "train").glob("*.log"))
    assert re.search(
        r"GPU check: this job was given a GPU \(SLURM_(JOB|STEP)_GPUS=0\) but TensorFlow cannot use any GPU: TensorFlow is the CPU-only build",
        log,
    ), log[-3000:]
    assert (
        "Fix: on the login node run `make setup-gpu`, then submit with `.venv-gpu/bin/snakemake --profile profiles/slurm`"
        in log
    )
    assert "GPU check: this job was given a GPU" in proc.stdout + proc.stderr  # shown to the user (show-failed-logs)
    assert not list((tmp_path / "results" / "runs").glob("*/*/*/*/metrics.json"))
