"""One training job: the packs of runs Snakemake gave it, in one process, one backend start."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from . import job_time, record
from .job_time import JobClock
from .refusal import refusal
from .storage import write_json_atomic
from .writer import Writer

log = logging.getLogger("mlpsweep")

EXIT_INTERRUPTED = 143  # as if killed by SIGTERM: schedulers and Snakemake retry it
EXIT_DEVICE = 3  # the job was given a GPU that the backend cannot use


def results_dir(output: str, depth: int = 1) -> str:
    """The results directory, derived from an output path `RESULTS/<dir>/<file>`."""
    return str(Path(output).parents[depth])


def setup_logging(log_file: str | None, *, attempt: int | None = None) -> None:
    """The job's log on stderr and in `log_file`. With `attempt` (a training job), a header
    per attempt, and every attempt's lines also appended to `attempts_log(log_file)`:
    Snakemake deletes a job's log file before each attempt (Job.remove_existing_output)."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
        if attempt is not None:
            attempts_log(log_file).parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(attempts_log(log_file), mode="a"))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers, force=True
    )
    if attempt is not None:
        log.info("%s", attempt_header(attempt))


def attempts_log(log_file: str | Path) -> Path:
    """Where every attempt of a job's log is kept: results/logs/train/attempts/chunkN.log."""
    path = Path(log_file)
    return path.parent / "attempts" / path.name


def attempt_header(attempt: int) -> str:
    """'==== attempt 2 | SLURM job 4712 | host gpu07 | started 2026-01-02T03:04:05+00:00 ===='"""
    import os
    import socket

    from .provenance import utc_now

    job = os.environ.get("SLURM_JOB_ID")
    return (
        f"==== attempt {attempt} | {f'SLURM job {job}' if job else 'no SLURM job'} "
        f"| host {socket.gethostname()} | started {utc_now()} ===="
    )


def resolve_packs(sweep: dict, packs: list[list[list[str]]]) -> list[list]:
    """The job's planned packs as Runs with their full configs, from the sweep config.

    Snakemake hands the job only run paths and identity hashes (so that adding a config key
    with a default re-runs no job); the configs are expanded here as the Snakefile did.
    """
    from .grid import expand_runs

    runs = {run.path: run for run in expand_runs(sweep, wanted={path for pack in packs for path, _ in pack})}
    out = []
    for pack in packs:
        resolved = []
        for path, digest in pack:
            run = runs.get(path)
            if run is None or run.hash != digest:
                raise RuntimeError(
                    refusal(path, "the sweep config changed since this job was planned", "run snakemake again")
                )
            resolved.append(run)
        out.append(resolved)
    return out


def fit_to_gpu(planned: list[list], backend: str, device_check: dict, results: str) -> tuple[list[list], dict, dict]:
    """The job's packs cut to the GPU's memory (sizing.fit_gpu); each refused run gets a
    failed.json that says why. Returns (packs, refused run paths -> why, the device record
    with the GPU's memory for provenance)."""
    from . import gpu, provenance, rundir, sizing

    mb = gpu.memory_mb(backend)
    device_check = {**device_check, "memory_mb": mb}
    if not mb:
        log.info("GPU memory unknown: the packs stay as planned")
        return planned, {}, device_check
    fit = sizing.fit_gpu(planned, mb)
    for note in fit.notes:
        log.warning("%s", note)
    for why in dict.fromkeys(fit.refused.values()):
        log.error("GPU memory: refused %d runs: %s", sum(w == why for w in fit.refused.values()), why)
    runs = {run.path: run for pack in planned for run in pack}
    for path, why in fit.refused.items():
        run_dir = Path(results) / path
        run_dir.mkdir(parents=True, exist_ok=True)
        rundir.write_failure(run_dir, runs[path].hash, f"GPU memory: {why}", provenance.utc_now())
    log.info(
        "GPU memory: %s MB usable by %s; largest pack %d runs", f"{mb:,}", backend, max(map(len, fit.packs), default=0)
    )
    return fit.packs, fit.refused, device_check


def _interrupted() -> int:
    """Exit code of a stopped job; a job preempted on a cluster that cancels preempted jobs
    puts itself back in the queue first (the SLURM plugin would wait for it forever)."""
    from .preemption import requeue_if_preempted

    note = requeue_if_preempted()
    if note:
        log.warning("%s", note)
    return EXIT_INTERRUPTED


def run_job(
    sweep: dict, packs: list[list[list[str]]], results: str, manifest: str, *, threads: int = 1, stop=None
) -> int:
    """Train the job's packs (skipping finished runs); write `manifest` only if all succeeded.

    A failing run or pack does not stop the others: each keeps its own results, and the job
    exits non-zero afterwards so the scheduler reports (and may retry) it. `stop`: the job's
    StopFlag, installed before the backend was imported (installed here if not given).
    """
    from .preemption import StopFlag

    from . import gpu

    stop = stop or StopFlag().install()
    clock = JobClock()  # from the process's start: Python's and the backend's start-up are the job's too
    t0 = time.perf_counter()
    gpu.deterministic_xla()  # before JAX starts its backend (a no-op for TensorFlow and on CPUs)
    import keras

    from .training import DataCache, Interrupted, JobSettings, ModelExporter, configure_backend, train_runs

    configure_backend(threads)
    execution = sweep["execution"]
    try:
        device_check = gpu.check(execution["require_gpu"], execution["gpus"])
    except gpu.GpuUnavailable as exc:  # before any run: nothing is trained on the wrong device
        log.error("%s", exc)
        return EXIT_DEVICE
    if device_check.get("warning"):
        log.warning("%s", device_check["warning"])
    if stop.set:  # stopped (preempted) while Python and the backend started
        log.warning("signal %s during start-up; no run was started", stop.signum)
        return _interrupted()
    planned = resolve_packs(sweep, packs)
    n_runs = sum(map(len, planned))
    refused = {}
    if device_check.get("usable"):  # on a GPU: cut the packs to the memory it really has
        planned, refused, device_check = fit_to_gpu(planned, keras.backend.backend(), device_check, results)
    log.info(
        "%s backend ready in %.1f s; %d runs in %d packs in this job, %d threads",
        keras.backend.backend(),
        time.perf_counter() - t0,
        n_runs,
        len(planned),
        threads,
    )
    clock.mark_started()
    cache, exporter = DataCache(), ModelExporter()
    # run directories are written in one thread while the next pack trains (writer.py); at most
    # about one pack's writes wait, and all are written before the job exits
    writes = Writer(max_pending=max(1, min(execution["pack_size"], execution["runs_per_job"])) + 1, clock=clock)
    try:
        outcomes, failures = {}, []
        settings = JobSettings(
            steps_per_execution=execution["steps_per_execution"],
            stop=stop,
            extra_provenance={"threads": threads, "gpu_check": device_check},
            exporter=exporter,
            writer=writes,
            progress_seconds=execution["progress_seconds"],
            checkpoint_seconds=execution["checkpoint_seconds"],
            generalization=sweep["summary"]["generalization"],
            patterns=sweep["summary"].get("patterns", False),
            keep=execution.get("keep"),
            clock=clock,
            read=record.JobReader(),  # each of the job's runs is asked about once
        )
        for pack in planned:
            if stop.set:
                log.warning("stop signal received; leaving the rest for the retry")
                return _interrupted()
            try:
                outcomes.update(train_runs(pack, results, cache, settings))
            except Interrupted as exc:
                log.warning("interrupted (%s); checkpoints are kept and a retry resumes them", exc)
                return _interrupted()
            except Exception as exc:  # one broken pack must not take the others down
                for run in pack:
                    outcomes.setdefault(run.path, "failed")
                failures.append((pack, exc))
                log.error(
                    "pack of %s: FAILED: %s: %s",
                    ", ".join(r.path for r in pack),
                    type(exc).__name__,
                    exc,
                    exc_info=True,
                )
    finally:
        written = writes.close()  # also when interrupted: the finished packs' runs are kept
    outcomes.update(dict.fromkeys(written, "failed"))
    outcomes.update(dict.fromkeys(refused, "failed"))
    failed = [path for path, status in outcomes.items() if status == "failed"]
    if failed:
        log.error("%d of %d runs failed: %s", len(failed), n_runs, ", ".join(failed))
        return 1
    seconds = clock.report()
    log.info("%s", job_time.summary_line(seconds))
    write_json_atomic(manifest, {"runs": outcomes, "seconds": seconds})
    return 0
