"""What the benchmark ran on: CPU, cores, memory, load and package versions."""

from __future__ import annotations

import os
import platform
import sys

import measured

sys.path.insert(0, str(measured.REPO / "scripts"))

from mlpsweep.provenance import versions  # noqa: E402  the versions each run records


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def describe() -> dict:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = memory_gib()
    return {
        "cpu": cpu_model(),
        "cores": cores,
        "memory": f"{memory:.1f} GiB" if memory else "unknown",
        "os": platform.platform(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown",
        **versions(),
    }
