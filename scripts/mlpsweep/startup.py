"""A process's start-up and shut-down: packages a training process never uses are not
imported, and a script's end skips the collector's last passes.

Keras and TensorFlow import some packages only because they are installed (each in a
`try: import ...`): matplotlib (Keras' image-gallery helper) and, on the TensorFlow backend,
JAX (TensorFlow Lite's converter). A training job draws nothing and, on TensorFlow, runs no
JAX; these imports cost about a second of every job's start-up (bench/EEG.md). Marking a
module None in `sys.modules` is Python's documented way to make its import fail, so those
`try` blocks take their "not installed" branch. The JAX backend keeps JAX: it is skipped only
where the backend is known to be TensorFlow before Keras is imported (Keras reads
KERAS_BACKEND, else the "backend" of its keras.json, else TensorFlow).
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

NEVER_IN_TRAINING = ("matplotlib",)
NOT_ON_TENSORFLOW = ("jax", "jaxlib")


def keras_configs(env=os.environ) -> list[Path]:
    """The keras.json files Keras may read its backend from (KERAS_HOME, else ~/.keras or
    /tmp/.keras where the home is not writable): every candidate, to be safe."""
    if "KERAS_HOME" in env:
        return [Path(env["KERAS_HOME"]) / "keras.json"]
    return [Path(os.path.expanduser("~")) / ".keras" / "keras.json", Path("/tmp") / ".keras" / "keras.json"]


def known_backend(env=os.environ) -> str | None:
    """The Keras backend a process will get, as far as it is known without importing Keras;
    None where a keras.json cannot be read."""
    if "KERAS_BACKEND" in env:
        return env["KERAS_BACKEND"]
    named = set()
    for path in keras_configs(env):
        if path.exists():
            try:
                named.add(json.loads(path.read_text(encoding="utf-8")).get("backend", "tensorflow"))
            except (OSError, ValueError, AttributeError):
                return None
    return named.pop() if len(named) == 1 else ("tensorflow" if not named else None)


def unused_in_training(backend: str | None) -> tuple[str, ...]:
    """Top-level packages a training process on `backend` does not import."""
    return NEVER_IN_TRAINING + (NOT_ON_TENSORFLOW if backend == "tensorflow" else ())


def skip_unused_imports(env=os.environ) -> list[str]:
    """Before Keras is imported: make the imports of `unused_in_training` fail (those already
    imported stay). Returns the names skipped."""
    skipped = [name for name in unused_in_training(known_backend(env)) if name not in sys.modules]
    for name in skipped:
        sys.modules[name] = None
    return skipped


def fast_shutdown() -> None:
    """Call as a script's last step: Python's shutdown then skips the cyclic garbage collector's
    passes over every object of the process (gc.freeze moves them all to the permanent generation).

    With TensorFlow and Keras loaded, those passes are most of the ~1 s a finished training job
    spends exiting (0.2 s after this); with matplotlib, pandas and MNE, 0.4-0.5 s (0.15-0.2 s
    after); measured in bench/EEG.md. atexit handlers, logging's flush and module teardown still
    run; only objects in reference cycles are left to the operating system to reclaim.
    """
    gc.freeze()
