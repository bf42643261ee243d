"""Per-epoch progress of a pack in the job log: one line per epoch at most, and at most one
every `execution.progress_seconds` (whichever is rarer), so a job of hundreds of runs says how
far it is without flooding its log:

    pack pack-1a2b3c4d5e6f7a8b: epoch 12/50, 31 of 32 members training, val. accuracy mean 0.712
    best 0.803, 4.10 s per epoch, expected end in 156 s (14:03:27 UTC)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

log = logging.getLogger("mlpsweep")


def summary_line(key: str, members, epochs_done: int, elapsed: float, now: datetime) -> str:
    """The progress line of a pack: `members` are engine Members (epoch, epochs, active, history)."""
    training = [m for m in members if m.active]
    scores = [m.history[-1]["val_accuracy"] for m in members if m.history and math.isfinite(m.history[-1]["val_accuracy"])]
    per_epoch = elapsed / epochs_done if epochs_done else math.nan
    left = max((m.epochs - m.epoch for m in training), default=0)
    eta = per_epoch * left
    epoch = max((m.epoch for m in members), default=0)
    total = max((m.epochs for m in members), default=0)
    score = f"val. accuracy mean {sum(scores) / len(scores):.3f} best {max(scores):.3f}" if scores else "no val. accuracy yet"
    end = f"expected end in {eta:.0f} s ({(now + timedelta(seconds=eta)).strftime('%H:%M:%S')} UTC)" if math.isfinite(eta) else "expected end unknown"
    return f"pack {key}: epoch {epoch}/{total}, {len(training)} of {len(members)} members training, {score}, {per_epoch:.2f} s per epoch, {end}"


class PackProgress:
    """Call `epoch_done(members)` after each epoch of a pack; it logs when a line is due. Seconds
    per epoch are timed from the end of the first epoch (which also traces the step) on."""

    def __init__(self, key: str, every_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic, emit: Callable[[str], None] | None = None):
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
