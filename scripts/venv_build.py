"""Refuse to set up a virtual environment over one that holds another build of TensorFlow/JAX.

    python3.11 scripts/venv_build.py VENV {cpu,gpu,jax-gpu}

Run by the Makefile before `make setup` / `setup-gpu` / `setup-gpu-jax` install anything:
pip would otherwise install tensorflow-cpu next to a GPU build (or the reverse), and both
write the same `tensorflow` package. Reads the venv's installed distributions without
running it; standard library only, since it runs before any venv exists.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mlpsweep.refusal import refusal  # standard library only, like this script

TARGETS = {"cpu": "make setup", "gpu": "make setup-gpu", "jax-gpu": "make setup-gpu-jax"}
DESCRIPTIONS = {
    "cpu": "the CPU build of TensorFlow",
    "gpu": "the GPU build of TensorFlow (tensorflow[and-cuda])",
    "jax-gpu": "JAX with its CUDA plugin (jax[cuda12])",
    "mixed": "both tensorflow and tensorflow-cpu (a build swapped by hand)",
}


def installed(venv: Path) -> set[str]:
    """Normalized names of the distributions installed in `venv` (empty if it has none)."""
    names = set()
    for info in venv.glob("lib/python*/site-packages/*.dist-info"):
        name = info.name[: -len(".dist-info")].rsplit("-", 1)[0]
        names.add(re.sub(r"[-_.]+", "-", name).lower())
    return names


def build_of(names: set[str]) -> str | None:
    """Which build a set of installed distributions is: cpu, gpu, jax-gpu, mixed, or None without TensorFlow/JAX."""
    if {"tensorflow", "tensorflow-cpu"} <= names:
        return "mixed"
    if "tensorflow" in names and "nvidia-cudnn-cu12" in names:
        return "gpu"
    if "jax-cuda12-plugin" in names:
        return "jax-gpu"
    if names & {"tensorflow", "tensorflow-cpu", "jax"}:
        return "cpu"
    return None


def problem(venv: Path, expected: str) -> str | None:
    """Why `venv` must not be set up as `expected`, or None (missing, empty or already that build)."""
    found = build_of(installed(venv))
    if found in (None, expected):
        return None
    origin = f" (what `{TARGETS[found]}` builds)" if found in TARGETS else ""
    problem = (
        f"holds {DESCRIPTIONS[found]}{origin}, not {DESCRIPTIONS[expected]} that `{TARGETS[expected]}` installs; "
        "installing over it would mix the two"
    )
    return refusal(venv, problem, f"rm -rf {venv} && {TARGETS[expected]}")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in TARGETS:
        print(f"usage: venv_build.py VENV {{{','.join(TARGETS)}}}", file=sys.stderr)
        return 2
    message = problem(Path(argv[0]), argv[1])
    if message:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
