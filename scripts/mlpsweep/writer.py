"""Bookkeeping off the critical path: one thread writes run directories while the next pack trains.

A job hands each finished run's writing (history, predictions, the Keras model, metrics.json
last and atomically, rundir.write_result) to one writer thread, in order, through a bounded
queue: the main thread trains the next pack meanwhile, and waits only when more than
`max_pending` writes are queued. Every Keras save happens in this one thread.

Nothing is lost if the job is killed: a run whose metrics.json was not written is not done,
and its pack's checkpoint is removed only after all its members' directories were written
(a task queued after them). A failed write is kept with its run's path (`failures`): the run
gets a failed.json and the job counts it failed (the job exits non-zero). `drain()` waits for
every queued write; a job drains before it exits, also when it is interrupted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext

log = logging.getLogger("mlpsweep")

_STOP = object()
THREAD_NAME = "mlpsweep-writer"


def _named(path) -> str:
    """A task's runs for the log: its path, or of a pack's compact records the count and the first
    and last (every path of a pack of 4,096 would make a line of 300 KB)."""
    if path is None or isinstance(path, str):
        return path or "bookkeeping"
    paths = list(path)
    return str(paths) if len(paths) <= 3 else f"{len(paths)} runs ({paths[0]} ... {paths[-1]})"


class Writer:
    def __init__(self, max_pending: int = 512, clock=None):
        """`clock`: the job's job_time.JobClock, told the main thread's waits and this thread's work."""
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, max_pending))
        self._clock = clock
        self._thread: threading.Thread | None = None
        self.failures: dict[str, str] = {}  # run path -> error of its failed write
        self.written: list[str] = []  # run paths written, in order

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                path, task, on_error = item
                paths = [] if path is None else [path] if isinstance(path, str) else list(path)
                t0 = time.perf_counter()
                try:
                    task()
                    self.written.extend(paths)
                except Exception as exc:  # surfaced to the job through `failures`
                    message = f"{type(exc).__name__}: {exc}"
                    self.failures.update(dict.fromkeys(paths, message))
                    log.error("%s: FAILED while writing: %s", _named(path), message, exc_info=True)
                    if on_error is not None:
                        try:
                            on_error(message)
                        except Exception as inner:  # the failure is counted anyway
                            log.error("%s: could not record the failure either: %s", path, inner)
                if self._clock is not None:
                    self._clock.add_writer(time.perf_counter() - t0)
            finally:
                self._queue.task_done()

    def submit(
        self, path: str | list[str] | None, task: Callable[[], None], on_error: Callable[[str], None] | None = None
    ) -> None:
        """Queue `task` (writing the run at `path`, or the runs of a list of paths: a pack's
        compact records; None for other bookkeeping); blocks while
        the queue is full. `on_error(message)` runs in the writer thread if the task fails."""
        self._start()
        with self._waiting():
            self._queue.put((path, task, on_error))

    def _waiting(self):
        """The main thread's wait for this one, timed as the job's writing."""
        return nullcontext() if self._clock is None else self._clock.part("writing")

    def drain(self) -> dict[str, str]:
        """Wait until every queued task ran; the failures so far (run path -> error)."""
        if self._thread is not None:
            with self._waiting():
                self._queue.join()
        return dict(self.failures)

    def close(self) -> dict[str, str]:
        """Drain, then stop the thread."""
        failures = self.drain()
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        return failures

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
