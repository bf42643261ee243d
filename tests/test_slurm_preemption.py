"""Preemption on SLURM: what snakemake-executor-plugin-slurm 2.8.0 does with a preempted job,
and how a training job is made to resume anyway.

The local cluster (scripts/slurm/start-local-cluster.sh) has partitions `preempt-requeue`
(PreemptMode=REQUEUE) and `preempt-cancel` (PreemptMode=CANCEL); a job in partition
`urgent` that needs the whole node preempts them. The `slurm` tests skip without the
cluster and fail instead when MLPSWEEP_REQUIRE_SLURM=1; the unit tests of
mlpsweep/preemption.py at the top run everywhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from conftest import REPO, SNAKEMAKE, checkpoint_epoch, write_config
from mlpsweep import preemption
from test_slurm import PROFILES, REQUIRE_SLURM, slurm_jobs, slurm_problem, stop_sweep

PARTITIONS = {"preempt-requeue", "preempt-cancel", "urgent"}

# --- requeue_if_preempted(), with a fake scontrol ----------------------------------------


def fake_scontrol(show: str, *, show_rc: int = 0, requeue_rc: int = 0, requeue_err: str = ""):
    """A stand-in for subprocess.run that answers like scontrol and records the calls."""
    calls = []

    def run(argv, **kwargs):
        calls.append(argv)
        assert kwargs["timeout"] > 0 and not kwargs.get("shell")
        assert (
            signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        )  # scontrol inherits it: SLURM's repeated SIGTERM must not kill it
        if argv[:3] == ["scontrol", "show", "job"]:
            return SimpleNamespace(
                returncode=show_rc,
                stdout=show,
                stderr="" if show_rc == 0 else "slurm_load_jobs error: Invalid job id specified",
            )
        return SimpleNamespace(returncode=requeue_rc, stdout="", stderr=requeue_err)

    return run, calls


SHOW = "JobId=42 JobName=x JobState=COMPLETING Reason=None Requeue=1 Restarts=0 PreemptEligibleTime=2026-11-29T03:05:56 PreemptTime={} SuspendTime=None"


def test_a_job_preempted_by_cancelling_requeues_itself():
    run, calls = fake_scontrol(SHOW.format("2026-11-29T03:05:58"))
    handler = signal.getsignal(signal.SIGTERM)
    note = preemption.requeue_if_preempted({"SLURM_JOB_ID": "42"}, run)
    assert signal.getsignal(signal.SIGTERM) is handler
    assert calls == [["scontrol", "show", "job", "-o", "42"], ["scontrol", "requeue", "42"]]
    assert (
        note
        == "preemption: SLURM job 42 was preempted at 2026-11-29T03:05:58; requeued it under the same id, and its runs resume from their checkpoints"
    )


@pytest.mark.parametrize("show", [SHOW.format("None"), "JobId=42 JobState=COMPLETING Reason=None Requeue=1"])
def test_a_job_stopped_otherwise_is_left_alone(show):
    """scancel, a time limit or a cluster without preemption: Snakemake's retry handles them."""
    run, calls = fake_scontrol(show)
    assert preemption.requeue_if_preempted({"SLURM_JOB_ID": "42"}, run) is None
    assert calls == [["scontrol", "show", "job", "-o", "42"]]


def test_outside_slurm_nothing_is_asked():
    run, calls = fake_scontrol(SHOW.format("2026-11-29T03:05:58"))
    assert preemption.requeue_if_preempted({}, run) is None and calls == []


def test_a_failed_requeue_or_question_says_what_to_do():
    run, _ = fake_scontrol(
        SHOW.format("2026-11-29T03:05:58"),
        requeue_rc=1,
        requeue_err="Requeue of JobId=42 returned an error: Requested operation is presently disabled",
    )
    assert preemption.requeue_if_preempted({"SLURM_JOB_ID": "42"}, run) == (
        "preemption: SLURM job 42 was preempted at 2026-11-29T03:05:58 but `scontrol requeue 42` failed: "
        "Requeue of JobId=42 returned an error: Requested operation is presently disabled. "
        "Fix: stop Snakemake (which waits for this job) with Ctrl-C and run it again; finished runs are kept"
    )
    run, _ = fake_scontrol("", show_rc=1)
    assert preemption.requeue_if_preempted({"SLURM_JOB_ID": "42"}, run) == (
        "preemption: cannot ask SLURM whether job 42 was preempted (scontrol show job 42 exited with 1: slurm_load_jobs error: Invalid job id specified). "
        "Fix: if Snakemake keeps waiting for a PREEMPTED job, stop it with Ctrl-C and run it again"
    )

    def hangs(argv, **kwargs):
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"])

    note = preemption.requeue_if_preempted({"SLURM_JOB_ID": "42"}, hangs)
    assert note.startswith(
        "preemption: cannot ask SLURM whether job 42 was preempted (Command '['scontrol', 'show', 'job', '-o', '42']' timed out"
    )


# --- on the local cluster -----------------------------------------------------------------


def partitions_missing() -> str | None:
    """Why the cluster cannot preempt, or None: it was started by an older start-local-cluster.sh."""
    listed = set(subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=20).stdout.split())
    if PARTITIONS <= listed:
        return None
    return f"the SLURM cluster has no partitions {', '.join(sorted(PARTITIONS - listed))}; restart it: scripts/slurm/stop-local-cluster.sh && scripts/slurm/start-local-cluster.sh"


@pytest.fixture(scope="module")
def preemptible():
    """The local cluster, with the preemption partitions of start-local-cluster.sh."""
    problem = slurm_problem() or partitions_missing()
    if problem and REQUIRE_SLURM:
        pytest.fail(f"MLPSWEEP_REQUIRE_SLURM is set but {problem}")
    if problem:
        pytest.skip(problem)


def job_state(job_id: str) -> dict:
    """JobState and Restarts of a SLURM job, from scontrol."""
    out = subprocess.run(
        ["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=20, check=True
    ).stdout
    fields = dict(token.partition("=")[::2] for token in out.split())
    return {"state": fields.get("JobState"), "restarts": int(fields.get("Restarts", "0"))}


def preempt_node() -> str:
    """Submit a job to partition `urgent` that needs the whole node, so SLURM preempts what runs there."""
    urgent = ["sbatch", "--parsable", "-p", "urgent", "--exclusive", "-t", "1", "-o", "/dev/null", "--wrap", "sleep 1"]
    return subprocess.run(urgent, capture_output=True, text=True, timeout=20, check=True).stdout.strip()


def wait_for(condition, what: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(
        f"{what}: not within {timeout:.0f} s (snakemake exit code {proc.poll()})\n{log.read_text()[-4000:]}"
    )


def wait_for_exit(proc: subprocess.Popen, log: Path, workdir: Path, timeout: float) -> int:
    """Snakemake's exit code; if it is still running after `timeout`, what SLURM and the job say."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        queue = subprocess.run(
            ["squeue", "--states=all", "-o", "%i %P %T %r submit=%V start=%S end=%e"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout
        logs = [
            p
            for p in sorted(workdir.glob("results/logs/train/*.log")) + sorted(workdir.glob("logs/slurm/**/*.log"))
            if p.is_file()
        ]
        tails = "\n".join(f"--- {p.relative_to(workdir)}\n{p.read_text()[-2000:]}" for p in logs)
        raise AssertionError(
            f"snakemake still running after {timeout:.0f} s\n{queue}\n{log.read_text()[-3000:]}\n{tails}"
        ) from None


def snakemake_in(workdir: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    log = workdir / "snakemake.log"
    with open(log, "w") as out:  # the child keeps its own copy of the file descriptor
        proc = subprocess.Popen(
            [SNAKEMAKE, "--directory", str(workdir), *PROFILES, *args],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
    return proc, log


# Two jobs in partition preempt-cancel: `requeues` calls requeue_if_preempted() on SIGTERM,
# as a training job does; `plain` only exits. Each writes its output when SLURM runs it again.
JOB = textwrap.dedent(
    """\
    import os, signal, subprocess, sys, time
    sys.path.insert(0, sys.argv[3])
    from mlpsweep.preemption import requeue_if_preempted

    mode, output = sys.argv[1:3]
    job = os.environ["SLURM_JOB_ID"]

    def stop(signum, frame):
        if mode == "requeues":
            print(requeue_if_preempted(), file=sys.stderr, flush=True)
        sys.exit(143)

    signal.signal(signal.SIGTERM, stop)
    restarts = subprocess.run(["scontrol", "show", "job", "-o", job], capture_output=True, text=True).stdout.split("Restarts=")[1].split()[0]
    with open(f"{mode}.starts", "a") as starts:
        print(job, restarts, file=starts)
    if restarts != "0":
        open(output, "w").write(job)
        sys.exit(0)
    time.sleep(300)
    """
)

SNAKEFILE = """\
rule all:
    input: "requeues.done", "plain.done"

rule job:
    output: "{mode}.done"
    wildcard_constraints: mode="requeues|plain"
    resources: slurm_partition="preempt-cancel", mem_mb=200, runtime=5
    shell: "{python} job.py {wildcards.mode} {output} {scripts}"
"""


@pytest.mark.slurm
def test_plugin_waits_forever_for_a_cancelled_preemption_unless_the_job_requeues_itself(preemptible, tmp_path):
    """PreemptMode=CANCEL: plugin 2.8.0 keeps waiting for a PREEMPTED job (it is not among its
    failed states); a job that requeues itself runs again under the same id and completes."""
    (tmp_path / "job.py").write_text(JOB)
    (tmp_path / "Snakefile").write_text(
        SNAKEFILE.replace("{python}", sys.executable).replace("{scripts}", str(REPO / "scripts"))
    )
    proc, log = snakemake_in(tmp_path, "--snakefile", str(tmp_path / "Snakefile"))
    try:
        wait_for(
            lambda: all((tmp_path / f"{m}.starts").is_file() for m in ("requeues", "plain")),
            "both jobs started",
            proc,
            log,
            90,
        )
        ids = {m: (tmp_path / f"{m}.starts").read_text().split()[0] for m in ("requeues", "plain")}
        preempt_node()
        wait_for(lambda: (tmp_path / "requeues.done").is_file(), "the self-requeued job ran again", proc, log, 90)
        wait_for(
            lambda: "Finished jobid" in log.read_text(), "snakemake saw it complete", proc, log, 120
        )  # the only job that can
        time.sleep(3)  # and one more status round (2 s after a finished job)
        still_waiting = proc.poll() is None
        plain = job_state(ids["plain"])
    finally:
        stop_sweep(proc, tmp_path)
    text = log.read_text()
    assert (tmp_path / "requeues.starts").read_text().split() == [
        ids["requeues"],
        "0",
        ids["requeues"],
        "1",
    ]  # same job id, run twice
    assert job_state(ids["requeues"]) == {"state": "COMPLETED", "restarts": 1}
    assert "A Job preemption  occured!" in text  # the plugin saw a PREEMPTED job ...
    assert plain == {"state": "PREEMPTED", "restarts": 0} and still_waiting  # ... and keeps waiting for it
    assert "Error in rule job" not in text and not (tmp_path / "plain.done").exists()


# A training job preempted mid-fit: one run of 16 epochs (about 0.3 s each here), on CPU.
EPOCHS = 16
SWEEP = {
    "datasets": {"goodbad": {"source": "synthetic", "n_samples": 3000, "n_features": 20, "seed": 1}},
    "architectures": {"mlp": {"hidden": [32, 32]}},
    "training": {"batch_size": 8, "epochs": EPOCHS},
    "seeds": [0],
    "execution": {
        "runs_per_job": 1,
        "threads": 1,
        "steps_per_execution": 1,
        "mem_mb": 1000,
        "runtime": 10,
        "gpus": 0,
        "checkpoint_seconds": 0,  # a checkpoint every epoch: the test preempts after the first
    },
}
RUN = "runs/goodbad/mlp/default/seed0"


class NotRequeued(AssertionError):
    """A preempted training job stayed out of the queue: plugin 2.8.0 would wait for it forever."""


def preempt_training(workdir: Path, partition: str) -> dict:
    """Run SWEEP through SLURM in `partition`; preempt its training job after epoch 1; wait for the end."""
    write_config(workdir, SWEEP)
    proc, log = snakemake_in(
        workdir,
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "summarize",
        "--default-resources",
        f"slurm_partition={partition}",
    )
    run_dir = workdir / "results" / RUN
    try:
        wait_for(lambda: 1 <= checkpoint_epoch(run_dir) <= EPOCHS - 6, "training reached epoch 1", proc, log, 120)
        (job_id,) = [j for j, info in slurm_jobs(workdir).items() if info["state"] == "RUNNING"]
        epoch = checkpoint_epoch(run_dir)
        preempt_node()
        # Back in the queue (PENDING/RUNNING, Restarts=1) within seconds, or PREEMPTED for good.
        deadline = time.monotonic() + 10
        while (state := job_state(job_id))["restarts"] == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        if state["restarts"] != 1:
            raise NotRequeued(f"job {job_id} was not requeued after its preemption: {state}\n{log.read_text()[-3000:]}")
        rc = wait_for_exit(proc, log, workdir, 240)
    finally:
        stop_sweep(proc, workdir)
    assert rc == 0, f"snakemake failed ({rc}):\n{log.read_text()[-6000:]}"
    return {
        "job_id": job_id,
        "epoch": epoch,
        "run": json.loads((run_dir / "metrics.json").read_text()),
        "run_dir": run_dir,
    }


def assert_resumed_under_the_same_job(out: dict) -> None:
    prov = out["run"]["provenance"]
    assert out["run"]["status"] == "finished"
    state = job_state(out["job_id"])
    # requeued at least once (a requeued job that starts before the urgent job may be preempted again)
    assert prov["slurm"]["job_id"] == out["job_id"] and state["state"] == "COMPLETED" and state["restarts"] >= 1
    assert prov["resumed_from_epoch"] >= out["epoch"] >= 1
    assert pd.read_csv(out["run_dir"] / "history.csv")["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert "interrupted by signal 15" in (out["run_dir"] / "train.log").read_text()


@pytest.mark.slurm
def test_training_preempted_in_a_requeue_partition_resumes_under_the_same_job_id(preemptible, tmp_path):
    """PreemptMode=REQUEUE and the profile's slurm-requeue: true: SLURM requeues the job, the plugin waits, training resumes."""
    assert_resumed_under_the_same_job(preempt_training(tmp_path, "preempt-requeue"))


@pytest.mark.slurm
def test_training_preempted_in_a_cancel_partition_requeues_itself_and_resumes(preemptible, tmp_path):
    """PreemptMode=CANCEL: without the training job's own requeue, plugin 2.8.0 would wait forever."""
    assert_resumed_under_the_same_job(preempt_training(tmp_path, "preempt-cancel"))
