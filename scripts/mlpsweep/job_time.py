"""Where a training job's wall time goes, part by part (issue #26: bookkeeping off the critical path).

A job's main thread does one thing at a time, so its wall time is the sum of its parts: starting
Python and the backend, preparing the runs' data and splits, compiling the packed step, the
compiled training steps, the validation after every epoch, the per-epoch checkpoints, evaluating
and recording the finished runs, and waiting for the writer thread. What no part claims is
"other" (the job's own loop, logging). The writer thread's busy time is reported beside them:
it overlaps training, so it is not a part of the main thread's time. The job logs the parts and
keeps them in its manifest (`results/jobs/chunk<N>.json`, key "seconds"); bench/ reads them.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

# the main thread's parts, in the order a job meets them; "training" is the compiled steps alone
PARTS = ("start-up", "data", "compiling", "training", "validation", "checkpoints", "evaluation", "writing")
TRAINING = ("training", "validation")  # what Keras's fit with validation_data does: the job's useful work
WRITER = "writer thread"


def process_age() -> float | None:
    """Seconds since this process started (Linux's /proc; None elsewhere)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            started_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))


class JobClock:
    """Seconds per part of one job's main thread, and the writer thread's busy seconds. Parts nest:
    time goes to the innermost part (a wait for the writer inside evaluation is writing)."""

    def __init__(self, started: float | None = None):
        if started is None:
            started = time.perf_counter() - (process_age() or 0.0)
        self.t0 = started
        self.seconds = dict.fromkeys(PARTS, 0.0)
        self.writer_busy = 0.0
        self._open: list[list] = []  # [part, since] of the parts entered and not left, innermost last
        self._lock = threading.Lock()

    def move(self, source: str, target: str, seconds: float) -> None:
        """Credit `seconds` measured inside `source` (e.g. by the engine) to `target` instead."""
        self.seconds[source] -= seconds
        self.seconds[target] += seconds

    def add_writer(self, seconds: float) -> None:
        """The writer thread's busy time (called from that thread)."""
        with self._lock:
            self.writer_busy += seconds

    @contextmanager
    def part(self, name: str):
        """Time the block as `name` (main thread only)."""
        now = time.perf_counter()
        if self._open:
            outer = self._open[-1]
            self.seconds[outer[0]] += now - outer[1]
        self._open.append([name, now])
        try:
            yield
        finally:
            end = time.perf_counter()
            inner, since = self._open.pop()
            self.seconds[inner] += end - since
            if self._open:
                self._open[-1][1] = end

    def mark_started(self) -> None:
        """The backend is ready: everything since the process started was start-up."""
        self.seconds["start-up"] = time.perf_counter() - self.t0

    def report(self) -> dict:
        """{part: seconds} with "other" (the wall time no part claims), "wall" and the writer thread's."""
        wall = time.perf_counter() - self.t0
        out = {part: round(s, 3) for part, s in self.seconds.items()}
        out["other"] = round(max(0.0, wall - sum(self.seconds.values())), 3)
        out["wall"] = round(wall, 3)
        out[WRITER] = round(self.writer_busy, 3)
        return out


def summary_line(report: dict) -> str:
    """One log line: the wall time, the share in training, and every part."""
    wall = report["wall"] or float("nan")
    useful = sum(report[p] for p in TRAINING)
    parts = ", ".join(f"{p} {report[p]:.2f} s" for p in (*PARTS, "other"))
    return (
        f"job time {wall:.1f} s, {useful / wall:.0%} in training and validation: {parts}"
        f" (the writer thread was busy {report[WRITER]:.2f} s beside them)"
    )
