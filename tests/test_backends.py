"""The engine's tests again under the other Keras backend (JAX), in a process of its own
(a process has one backend). CI installs JAX and requires this to run (MLPSWEEP_REQUIRE_JAX=1)."""

import importlib.util
import os
import subprocess
import sys

import pytest

from conftest import REPO

ENGINE_TESTS = [
    "tests/test_engine_fidelity.py",
    "tests/test_engine_optimizers.py",
    "tests/test_training.py",
    "tests/test_pack_equality.py",
]


@pytest.mark.slow  # a second process reruns the engine's test files (minutes); the fast tier runs them once
def test_engine_tests_pass_under_jax():
    if importlib.util.find_spec("jax") is None:
        if os.environ.get("MLPSWEEP_REQUIRE_JAX", "") not in ("", "0"):
            pytest.fail("MLPSWEEP_REQUIRE_JAX is set but JAX is not installed: pip install -r requirements-jax.txt")
        pytest.skip("JAX is not installed (pip install -r requirements-jax.txt)")
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", *ENGINE_TESTS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "backend: jax" in proc.stdout


def test_an_unsupported_backend_is_refused_clearly(monkeypatch):
    import keras

    from mlpsweep.engine import backend

    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(
        backend.BackendError,
        match=r"KERAS_BACKEND=torch is not supported by mlpsweep's engine\. Fix: set KERAS_BACKEND to one of: tensorflow, jax",
    ):
        backend.current()
