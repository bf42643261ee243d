"""A training process's start-up (mlpsweep.startup): unused packages are not imported, the
JAX backend keeps JAX, and Keras, the engine and the data modules import without them."""

import json
import os
import subprocess
import sys
from pathlib import Path

from mlpsweep import startup

SCRIPTS = Path(startup.__file__).parents[1]


def test_the_backend_is_known_from_keras_backend_else_keras_json_else_tensorflow(tmp_path):
    assert startup.known_backend({"KERAS_BACKEND": "jax", "KERAS_HOME": str(tmp_path)}) == "jax"
    assert startup.known_backend({"KERAS_HOME": str(tmp_path)}) == "tensorflow"  # no keras.json: Keras's default
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    assert startup.known_backend({"KERAS_HOME": str(tmp_path)}) == "jax"
    assert startup.known_backend({"KERAS_HOME": str(tmp_path), "KERAS_BACKEND": "tensorflow"}) == "tensorflow"
    (tmp_path / "keras.json").write_text("{not json")
    assert startup.known_backend({"KERAS_HOME": str(tmp_path)}) is None  # unknown: JAX is kept


def test_jax_is_skipped_on_tensorflow_only_and_matplotlib_always():
    assert set(startup.unused_in_training("tensorflow")) == {"matplotlib", "jax", "jaxlib"}
    assert startup.unused_in_training("jax") == ("matplotlib",)
    assert startup.unused_in_training(None) == ("matplotlib",)


def test_a_training_process_starts_without_matplotlib_and_jax_on_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "from mlpsweep.startup import skip_unused_imports\n"
        "skipped = skip_unused_imports()\n"
        "import keras\n"
        "from mlpsweep import engine, jobs, training\n"
        "from mlpsweep.data import epochs\n"
        "epochs._mne()\n"
        "loaded = sorted(name for name in ('matplotlib', 'jax') if sys.modules.get(name) is not None)\n"
        "print(keras.backend.backend(), skipped, loaded)\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(SCRIPTS)}
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert found.returncode == 0, found.stderr[-2000:]
    assert found.stdout.strip().splitlines()[-1] == "tensorflow ['matplotlib', 'jax', 'jaxlib'] []"


def test_fast_shutdown_keeps_atexit_handlers_and_the_log_and_skips_the_last_collection(tmp_path):
    """A script ending with fast_shutdown still runs its atexit handlers and flushes its log
    file; only the objects that existed at the call are left out of the collector's passes."""
    log = tmp_path / "job.log"
    code = (
        "import atexit, gc, logging, sys\n"
        "from mlpsweep.startup import fast_shutdown\n"
        f"logging.basicConfig(filename={str(log)!r}, level=logging.INFO)\n"
        f"atexit.register(lambda: open({str(tmp_path / 'atexit')!r}, 'w').write('ran'))\n"
        "cycle = []; cycle.append(cycle)\n"
        "logging.getLogger('job').info('last line')\n"
        "before = gc.get_freeze_count()\n"
        "fast_shutdown()\n"
        "print(before, gc.get_freeze_count() > before, gc.isenabled())\n"
        "sys.exit(3)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS)}
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert found.returncode == 3, found.stderr[-2000:]  # the script's own exit code
    assert found.stdout.split() == ["0", "True", "True"]  # objects frozen; the collector still on for new ones
    assert (tmp_path / "atexit").read_text() == "ran"
    assert "last line" in log.read_text()
