"""Run commands and measure their wall time and peak memory (max RSS)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO / "scripts")}


@dataclass
class Finished:
    returncode: int
    seconds: float
    cpu_seconds: float  # user + system, of the process and the children it waited for
    max_rss_mb: float
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def check(self, what: str) -> "Finished":
        if self.returncode != 0:
            raise RuntimeError(
                f"{what} failed with exit code {self.returncode} (log {self.log}):\n{self.output()[-6000:]}"
            )
        return self


def snakemake_cmd(sweepdir: Path, cores: int, *extra: str) -> list[str]:
    """The project's workflow run in `sweepdir` (its config/config.yaml) with the default profile."""
    snakefile, profile = REPO / "workflow" / "Snakefile", REPO / "profiles" / "default"
    return [SNAKEMAKE, *extra, "--snakefile", str(snakefile), "--directory", str(sweepdir),
            "--profile", str(profile), "--cores", str(cores)]  # fmt: skip


def start(cmd: list[str], log: Path, cwd: Path | None = None) -> tuple[subprocess.Popen, float]:
    """Start `cmd`, stdout and stderr into `log`; returns the process and its start time."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=out, stderr=subprocess.STDOUT)
    return proc, time.perf_counter()


def finish(proc: subprocess.Popen, started: float, log: Path) -> Finished:
    """Wait for `proc`; wait4 gives the peak RSS of this process alone, not of earlier children."""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Finished(proc.returncode, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, log)


def run(cmd: list[str], log: Path, cwd: Path | None = None) -> Finished:
    proc, t0 = start(cmd, log, cwd)
    return finish(proc, t0, log)


def emit(text: str, output: Path | None) -> int:
    """Print a benchmark's Markdown section, and write it to `output` where given; the exit code."""
    print(text)
    if output:
        output.write_text(text, encoding="utf-8")
    return 0
