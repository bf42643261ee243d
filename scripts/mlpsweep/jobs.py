"""One training job: several runs of a cell, one process, one TensorFlow import."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from .storage import write_json_atomic

log = logging.getLogger("mlpsweep")

EXIT_INTERRUPTED = 143  # as if killed by SIGTERM: schedulers and Snakemake retry it


def results_dir(output: str, depth: int = 1) -> str:
    """The results directory, derived from an output path `RESULTS/<dir>/<file>`."""
    return str(Path(output).parents[depth])


def setup_logging(log_file: str | None) -> None:
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers, force=True)


def run_job(entries: list[dict], results: str, manifest: str, *, threads: int = 1, steps_per_execution: int = 64) -> int:
    """Train each run in `entries` (skipping finished ones); write `manifest` only if all succeeded.

    A failing run does not stop its siblings: each keeps its own results, and the job
    exits non-zero afterwards so the scheduler reports (and may retry) it.
    """
    from .steps import CompiledModels
    from .training import DataCache, Interrupted, StopFlag, configure_tensorflow, train_and_record

    stop = StopFlag().install()
    t0 = time.perf_counter()
    configure_tensorflow(threads)
    log.info("TensorFlow ready in %.1f s; %d runs in this job, %d threads", time.perf_counter() - t0, len(entries), threads)
    cache = DataCache()
    models = CompiledModels()  # runs of the same kind reuse one traced model
    outcomes = {}
    failures = []
    for entry in entries:
        run_dir = Path(results) / entry["path"]
        if stop.set:
            log.warning("stop signal received; leaving %s for the retry", run_dir)
            return EXIT_INTERRUPTED
        handler = None
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(run_dir / "train.log")
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            logging.getLogger().addHandler(handler)
            t_run = time.perf_counter()
            log.info("%s: start (config %s)", run_dir, entry["hash"])
            status = train_and_record(entry["config"], run_dir, cache, steps_per_execution=steps_per_execution, stop=stop, extra_provenance={"threads": threads}, models=models)
            outcomes[entry["path"]] = status
            log.info("%s: %s in %.1f s", run_dir, status, time.perf_counter() - t_run)
        except Interrupted as exc:
            log.warning("%s: interrupted (%s); the checkpoint is kept and a retry resumes it", run_dir, exc)
            return EXIT_INTERRUPTED
        except Exception as exc:  # one bad run must not take its siblings down
            outcomes[entry["path"]] = "failed"
            failures.append((run_dir, exc))
            log.error("%s: FAILED: %s: %s", run_dir, type(exc).__name__, exc, exc_info=not _is_user_error(exc))
        finally:
            if handler is not None:
                logging.getLogger().removeHandler(handler)
                try:
                    handler.close()
                except OSError as exc:  # e.g. a full disk: the job's own log already says why
                    log.error("%s: cannot close its log: %s", run_dir, exc)
    if failures:
        log.error("%d of %d runs failed: %s", len(failures), len(entries), "; ".join(f"{d}: {e}" for d, e in failures))
        return 1
    write_json_atomic(manifest, {"runs": outcomes})
    return 0


def _is_user_error(exc: Exception) -> bool:
    from .data import DataError

    return isinstance(exc, DataError)
