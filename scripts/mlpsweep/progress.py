"""Progress in logs and on terminals.

Per-epoch progress of a pack in the job log: one line per epoch at most, and at most one
every `execution.progress_seconds` (whichever is rarer), so a job of hundreds of runs says how
far it is without flooding its log:

    pack pack-1a2b3c4d5e6f7a8b: epoch 12/50, 31 of 32 members training, val. accuracy mean 0.712
    best 0.803, 4.10 s per epoch, expected end in 156 s (14:03:27 UTC)

Progress of the summary and plots steps over many items (`Progress`: plain lines in the log at
most every few seconds and at the end, a live bar only where stderr is a terminal) and their
phases (`Phases`):

    summary: reading run directories
    read 2,000 of 10,000 run directories (20 %), 1.2 s
    summary: done in 9.4 s (reading 6.1 s, tables 1.0 s, tests and permutations 0.8 s, writing 1.5 s)

The text bar (`text_bar`) is also the status command's (status.py).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TextIO, TypeVar

log = logging.getLogger("mlpsweep")


def summary_line(key: str, members, epochs_done: int, elapsed: float, now: datetime) -> str:
    """The progress line of a pack: `members` are engine Members (epoch, epochs, active, history)."""
    training = [m for m in members if m.active]
    scores = [
        m.history[-1]["val_accuracy"] for m in members if m.history and math.isfinite(m.history[-1]["val_accuracy"])
    ]
    per_epoch = elapsed / epochs_done if epochs_done else math.nan
    left = max((m.epochs - m.epoch for m in training), default=0)
    eta = per_epoch * left
    epoch = max((m.epoch for m in members), default=0)
    total = max((m.epochs for m in members), default=0)
    score = (
        f"val. accuracy mean {sum(scores) / len(scores):.3f} best {max(scores):.3f}"
        if scores
        else "no val. accuracy yet"
    )
    end = (
        f"expected end in {eta:.0f} s ({(now + timedelta(seconds=eta)).strftime('%H:%M:%S')} UTC)"
        if math.isfinite(eta)
        else "expected end unknown"
    )
    return (
        f"pack {key}: epoch {epoch}/{total}, {len(training)} of {len(members)} members training, "
        f"{score}, {per_epoch:.2f} s per epoch, {end}"
    )


class PackProgress:
    """Call `epoch_done(members)` after each epoch of a pack; it logs when a line is due. Seconds
    per epoch are timed from the end of the first epoch (which also traces the step) on."""

    def __init__(
        self,
        key: str,
        every_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        emit: Callable[[str], None] | None = None,
    ):
        self.key = key
        self.every = every_seconds
        self.clock = clock
        self.emit = emit or (lambda line: log.info("%s", line))
        self.start = self.last = clock()
        self.epochs = 0

    def epoch_done(self, members) -> str | None:
        self.epochs += 1
        now = self.clock()
        if self.epochs == 1:
            self.first = now  # the first epoch also traces the step: later ones time an epoch
        if now - self.last < self.every:
            return None
        self.last = now
        epochs, elapsed = (self.epochs - 1, now - self.first) if self.epochs > 1 else (1, now - self.start)
        line = summary_line(self.key, members, epochs, elapsed, datetime.now(timezone.utc))
        self.emit(line)
        return line


# ---------------------------------------------------------------- many items, phases

T = TypeVar("T")
LOG_EVERY_SECONDS = 5.0  # plain progress lines in a log: at most this often (and at the end)
DRAW_EVERY_SECONDS = 0.1  # the live bar on a terminal: redrawn at most this often
BAR_WIDTH = 20


def text_bar(done: float, partial: float = 0.0, width: int = BAR_WIDTH) -> str:
    """`████▒░░░ 55 %`: the share `done` (█), then `partial` more (▒), the rest (░)."""
    full = int(done * width)
    half = int((done + partial) * width) - full
    return "█" * full + "▒" * half + "░" * (width - full - half) + f" {100 * (done + partial):.0f} %"


def count_line(verb: str, noun: str, done: int, total: int, seconds: float) -> str:
    """'read 2,000 of 10,000 run directories (20 %), 1.2 s'"""
    share = f" ({100 * done / total:.0f} %)" if total else ""
    return f"{verb} {done:,} of {total:,} {noun}{share}, {seconds:.1f} s"


def terminal() -> TextIO | None:
    """stderr where it is a terminal (a person watches), else None (a log file, Snakemake's capture)."""
    stream = sys.stderr
    try:
        return stream if stream.isatty() else None
    except (AttributeError, ValueError):
        return None


def _log_info(line: str) -> None:
    log.info("%s", line)


class Progress:
    """Counts items as `track` hands them on. Emits `count_line` through `emit` (the log) at
    most every `every_seconds` and once at the end; on `live` (a terminal, see `terminal()`)
    also draws a bar in place, at most every DRAW_EVERY_SECONDS, cleared before each log line
    (which the log's stderr handler prints there too) and when done."""

    def __init__(
        self,
        verb: str,
        noun: str,
        *,
        every_seconds: float = LOG_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        emit: Callable[[str], None] = _log_info,
        live: TextIO | None = None,
    ):
        self.verb, self.noun, self.every = verb, noun, every_seconds
        self.clock, self.emit, self.live = clock, emit, live
        self.done = self.total = 0

    def track(self, items: Iterable[T], total: int | None = None) -> Iterator[T]:
        items = list(items) if total is None else items
        self.total = len(items) if total is None else total
        self.done = 0
        self.start = self.last_line = self.last_draw = self.clock()
        self._draw()
        for item in items:
            yield item
            self.advance()
        self.finish()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if now - self.last_line >= self.every and self.done < self.total:
            self.last_line = now
            self._line(now)
        elif self.live is not None and now - self.last_draw >= DRAW_EVERY_SECONDS:
            self.last_draw = now
            self._draw()

    def finish(self) -> None:
        self._line(self.clock(), final=True)

    def _line(self, now: float, final: bool = False) -> None:
        self._clear()
        self.emit(count_line(self.verb, self.noun, self.done, self.total, now - self.start))
        if not final:
            self._draw()

    def _draw(self) -> None:
        if self.live is not None and self.total:
            self.live.write(
                f"\r{text_bar(self.done / self.total)} {self.verb} {self.done:,} of {self.total:,} {self.noun}"
            )
            self.live.flush()

    def _clear(self) -> None:
        if self.live is not None:
            self.live.write("\r\033[K")
            self.live.flush()


class Phases:
    """The named steps of a long computation: `phases("tables")` logs '<name>: tables' and ends
    the step before; `done()` logs the total and each step's seconds (a step named twice adds up)."""

    def __init__(
        self, name: str, *, clock: Callable[[], float] = time.monotonic, emit: Callable[[str], None] = _log_info
    ):
        self.name, self.clock, self.emit = name, clock, emit
        self.seconds: dict[str, float] = {}
        self.start = self.since = clock()
        self.current: str | None = None

    def __call__(self, phase: str) -> None:
        self._end()
        self.current = phase
        self.emit(f"{self.name}: {phase}")

    def _end(self) -> None:
        now = self.clock()
        if self.current is not None:
            self.seconds[self.current] = self.seconds.get(self.current, 0.0) + now - self.since
        self.since = now

    def done(self) -> str:
        self._end()
        self.current = None
        steps = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in self.seconds.items())
        line = f"{self.name}: done in {self.since - self.start:.1f} s" + (f" ({steps})" if steps else "")
        self.emit(line)
        return line
