"""How a training job stops: the flag SLURM's signals set, and a requeue after preemption.

The job installs StopFlag first thing (scripts/train.py, before TensorFlow is imported), so a
signal during start-up is not lost: the job then stops before its first pack.

A training job that SLURM preempted by cancelling it puts itself back into the queue.

Where a cluster requeues preempted jobs (PreemptMode=REQUEUE) SLURM does this itself. Where
it cancels them (PreemptMode=CANCEL), the job ends in state PREEMPTED, which
snakemake-executor-plugin-slurm 2.8.0 treats as "still running": Snakemake waits for it
forever. So a training job stopped by SIGTERM asks SLURM whether it was preempted and, if
so, requeues itself under the same job id (allowed to the job's owner; the profile's
`slurm-requeue: true` makes the job requeueable); the plugin then sees it pending and
running again, and training resumes from its checkpoint. See docs/slurm.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .refusal import refusal


@dataclass
class StopFlag:
    """Set by SIGTERM/SIGUSR1 (preemption, or SLURM's warning before the time limit)."""

    signum: int | None = None

    def __call__(self, signum, frame) -> None:
        self.signum = signum

    @property
    def set(self) -> bool:
        return self.signum is not None

    def install(self) -> "StopFlag":
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(sig, self)
        return self


SCONTROL_TIMEOUT = 10  # seconds; SLURM's SIGKILL follows its SIGTERM after KillWait (30 s by default)
NOT_SET = ("", "None", "Unknown", "N/A")


def scontrol(args: list[str], run: Callable = subprocess.run):
    """Run scontrol with SIGTERM ignored, a disposition it inherits:
    SLURM signals a preempted job's processes more than once."""
    try:
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # we are stopping anyway; the flag is already set
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        return run(["scontrol", *args], capture_output=True, text=True, timeout=SCONTROL_TIMEOUT)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def preempt_time(job_id: str, run: Callable = subprocess.run) -> str | None:
    """When SLURM preempted job `job_id` (scontrol's PreemptTime), or None if it did not."""
    out = scontrol(["show", "job", "-o", job_id], run)
    if out.returncode != 0:
        raise OSError(f"scontrol show job {job_id} exited with {out.returncode}: {(out.stderr or out.stdout).strip()}")
    for token in out.stdout.split():
        key, _, value = token.partition("=")
        if key == "PreemptTime":
            return None if value in NOT_SET else value
    return None  # clusters without preemption do not show the field


def requeue_if_preempted(env: Mapping[str, str] | None = None, run: Callable = subprocess.run) -> str | None:
    """Requeue this SLURM job if SLURM preempted it; a line for the job's log, or None if there was nothing to do."""
    env = os.environ if env is None else env
    job_id = env.get("SLURM_JOB_ID")
    if not job_id:
        return None
    try:
        when = preempt_time(job_id, run)
        if when is None:
            return None
        out = scontrol(["requeue", job_id], run)
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = f"cannot ask SLURM whether job {job_id} was preempted ({exc})"
        fix = "if Snakemake keeps waiting for a PREEMPTED job, stop it with Ctrl-C and run it again"
        return refusal("preemption", problem, fix)
    if out.returncode == 0:
        return (
            f"preemption: SLURM job {job_id} was preempted at {when}; requeued it under the same id, "
            "and its runs resume from their checkpoints"
        )
    problem = (out.stderr or out.stdout).strip()
    fix = "stop Snakemake (which waits for this job) with Ctrl-C and run it again; finished runs are kept"
    failed = f"SLURM job {job_id} was preempted at {when} but `scontrol requeue {job_id}` failed: {problem}"
    return refusal("preemption", failed, fix)
