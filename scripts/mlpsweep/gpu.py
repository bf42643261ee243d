"""Which GPU a training job was given, which ones the Keras backend can use, and why not.

`check()` runs at the start of a training job, before any run: a job that was given a GPU
but can only train on the CPU fails at once with the cause and the fix, instead of
training for hours on one CPU thread. `device_info()` is the device part of provenance.
Nothing here imports TensorFlow or JAX at module level, and only the active backend's
package is ever imported. Every look at the machine goes through `Probes`, so the tests
can fake each case without a GPU.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import importlib
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata, util

from .refusal import refusal

# SLURM's GPU allocation and what CUDA is told, in the order a job's message names them.
ALLOCATION_VARS = ("SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "SLURM_GPUS_ON_NODE", "CUDA_VISIBLE_DEVICES")
# Values that mean "no GPU": SLURM sets NoDevFiles when a GPU has no device file; -1 hides all.
NO_DEVICE = frozenset({"", "-1", "NoDevFiles"})
CUDA_LIBRARIES = ("libcudart.so.12", "libcudnn.so.9")  # what TensorFlow 2.21 and jax[cuda12] load
DRIVER_LIBRARY = "libcuda.so.1"
DRIVER_PROC_FILE = "/proc/driver/nvidia/version"
NVIDIA_SMI_QUERY = ("--query-gpu=index,uuid,name,memory.total,driver_version", "--format=csv,noheader,nounits")
NVIDIA_SMI_TIMEOUT = 10  # seconds; a hung driver must not hang the job
SETUP_GPU_FIX = (
    "on the login node run `make setup-gpu`, then submit with `.venv-gpu/bin/snakemake --profile profiles/slurm`"
)
SETUP_JAX_GPU_FIX = (
    "on the login node run `make setup-gpu-jax` (requirements-jax-gpu.txt: jax[cuda12]==0.10.2), "
    "then submit with `KERAS_BACKEND=jax .venv-gpu-jax/bin/snakemake --profile profiles/slurm`"
)
CPU_INSTEAD = "or set execution.require_gpu: false to train on the CPU"


class GpuUnavailable(RuntimeError):
    """A training job was given (or required) a GPU that its backend cannot use."""


# --- what the job was given -------------------------------------------------------------


def allocation(env: Mapping[str, str]) -> dict:
    """The GPU the scheduler gave this job: {"given": bool, "source": "VAR=value" or None, "under_slurm": bool}."""
    source = None
    for name in ALLOCATION_VARS:
        value = env.get(name)
        if value is None or value.strip() in NO_DEVICE or (name == "SLURM_GPUS_ON_NODE" and value.strip() == "0"):
            continue
        source = f"{name}={value.strip()}"
        break
    return {"given": source is not None, "source": source, "under_slurm": bool(env.get("SLURM_JOB_ID"))}


# --- what the backend can use --------------------------------------------------------------


def usable_gpus(backend: str) -> list[str]:
    """Names of the GPU devices the Keras backend can use (TensorFlow: /physical_device:GPU:0; JAX: cuda:0)."""
    if backend == "jax":
        import jax

        return [f"{d.platform}:{d.id}" for d in jax.devices() if d.platform in ("gpu", "cuda")]
    import tensorflow as tf

    return [d.name for d in tf.config.list_physical_devices("GPU")]


def gpu_models(backend: str) -> list[str]:
    """Model names of the GPUs the backend can use (e.g. "NVIDIA A100-SXM4-80GB"); device names where unknown."""
    if backend == "jax":
        import jax

        return [
            getattr(d, "device_kind", "") or f"{d.platform}:{d.id}"
            for d in jax.devices()
            if d.platform in ("gpu", "cuda")
        ]
    import tensorflow as tf

    names = []
    for device in tf.config.list_physical_devices("GPU"):
        try:
            names.append(tf.config.experimental.get_device_details(device).get("device_name") or device.name)
        except Exception:  # details are best effort; the device itself is what matters
            names.append(device.name)
    return names


XLA_DETERMINISTIC = "--xla_gpu_deterministic_ops=true"


def deterministic_xla(env: dict | None = None) -> None:
    """Deterministic XLA GPU ops for JAX (XLA_FLAGS), set before JAX starts its backend.

    By default XLA may pick reductions whose order depends on the shapes, so a run trained
    in a pack of 64 and alone differ beyond float round-off: measured on an H200, 5.8e-5 in
    loss and 2 rows of accuracy after 5 epochs (full float32); with deterministic ops,
    1.0e-7 and 0 rows (bench/gpu.py). TensorFlow's counterpart is
    tf.config.experimental.enable_op_determinism (training.configure_backend)."""
    env = os.environ if env is None else env
    flags = env.get("XLA_FLAGS", "")
    if "xla_gpu_deterministic_ops" not in flags:
        env["XLA_FLAGS"] = f"{flags} {XLA_DETERMINISTIC}".strip()


def memory_mb(
    backend: str, env: Mapping[str, str] | None = None, smi_rows: Callable[[], list[dict]] | None = None
) -> int | None:
    """MB of memory the backend may use on the job's (first) GPU; None where unknown.

    JAX: the device's allocator limit (`memory_stats()["bytes_limit"]`: by default 75 % of
    the card, XLA_PYTHON_CLIENT_MEM_FRACTION changes it). TensorFlow: the card's total as
    nvidia-smi reports it for the first GPU CUDA_VISIBLE_DEVICES selects (TensorFlow's
    allocator takes nearly all of it). `sizing.fit_gpu` cuts packs to this figure."""
    if backend == "jax":
        import jax

        for device in jax.devices():
            if device.platform in ("gpu", "cuda"):
                try:
                    limit = (device.memory_stats() or {}).get("bytes_limit")
                except Exception:  # a backend without memory statistics: unknown, not an error
                    limit = None
                return int(limit) // (1024 * 1024) if limit else None
        return None
    env = os.environ if env is None else env
    rows = visible_rows((smi_rows or nvidia_smi)(), env.get("CUDA_VISIBLE_DEVICES"))
    return rows[0]["memory_mib"] if rows else None


# --- probes: each looks at one thing, so tests can replace it ------------------------------


def package_version(name: str) -> str | None:
    """The installed version of distribution `name`, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def tf_built_with_cuda() -> bool:
    import tensorflow as tf

    return bool(tf.test.is_built_with_cuda())


def jax_cuda_plugin() -> bool:
    """Whether JAX has a CUDA plugin to load (jax_cuda12_plugin, or one under the jax_plugins namespace)."""
    if util.find_spec("jax_cuda12_plugin") is not None:
        return True
    try:
        return any(
            "cuda" in os.path.basename(p)
            for root in util.find_spec("jax_plugins").submodule_search_locations
            for p in glob.glob(os.path.join(root, "*"))
        )
    except (AttributeError, ModuleNotFoundError, TypeError):
        return False


def nvidia_lib_dirs() -> list[str]:
    """The lib folders of the pip CUDA wheels (site-packages/nvidia/*/lib) on this Python's path."""
    found = []
    for entry in sys.path:
        for lib in sorted(glob.glob(os.path.join(entry, "nvidia", "*", "lib"))):
            if os.path.isdir(lib) and lib not in found:
                found.append(lib)
    return found


def loaded_libraries() -> set[str]:
    """File names of the shared libraries mapped into this process (Linux; empty elsewhere)."""
    try:
        with open("/proc/self/maps") as maps:
            return {os.path.basename(line.split()[-1]) for line in maps if "/" in line}
    except OSError:
        return set()


def loadable(name: str) -> bool:
    """Whether the dynamic loader finds library `name`; one the backend already loaded counts."""
    if name in loaded_libraries():
        return True
    try:
        ctypes.CDLL(name)
        return True
    except OSError:
        return False


@dataclass(frozen=True)
class Probes:
    """How the check looks at the machine; tests pass fakes for the parts they need."""

    usable_gpus: Callable[[str], list[str]] = usable_gpus
    version: Callable[[str], str | None] = package_version
    tf_built_with_cuda: Callable[[], bool] = tf_built_with_cuda
    jax_cuda_plugin: Callable[[], bool] = jax_cuda_plugin
    nvidia_lib_dirs: Callable[[], list[str]] = nvidia_lib_dirs
    loadable: Callable[[str], bool] = loadable
    exists: Callable[[str], bool] = os.path.exists
    which: Callable[[str], str | None] = shutil.which
    hostname: Callable[[], str] = platform.node


# --- why no GPU is usable -----------------------------------------------------------------


def ld_library_path_line(lib_dirs: list[str]) -> str:
    """The shell line that puts the pip CUDA wheels' lib folders first on the loader path."""
    return "export LD_LIBRARY_PATH=" + ":".join(lib_dirs) + "${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"


def _no_driver(probes: Probes) -> tuple[str, str] | None:
    if probes.loadable(DRIVER_LIBRARY):
        return None
    seen = [
        f"{DRIVER_PROC_FILE} exists" if probes.exists(DRIVER_PROC_FILE) else f"no {DRIVER_PROC_FILE}",
        "nvidia-smi found" if probes.which("nvidia-smi") else "no nvidia-smi",
    ]
    cause = (
        f"no usable NVIDIA driver on node {probes.hostname()} ({DRIVER_LIBRARY} cannot be loaded; {', '.join(seen)})"
    )
    return (
        cause,
        (
            "submit to a partition whose nodes have NVIDIA GPUs (`sinfo -o '%P %G'` lists them; "
            "slurm_partition in profiles/slurm/config.yaml), or ask the cluster's admins about that node"
        ),
    )


def _cuda_libraries_missing(backend_label: str, probes: Probes, install_fix: str) -> tuple[str, str] | None:
    missing = [name for name in CUDA_LIBRARIES if not probes.loadable(name)]
    if not missing:
        return None
    lib_dirs = probes.nvidia_lib_dirs()
    if lib_dirs:
        # The known pitfall: the nvidia-* wheels are installed, but the loader does not look in their folders.
        site = os.path.dirname(os.path.dirname(os.path.dirname(lib_dirs[0])))
        cause = (
            f"{backend_label} cannot load {', '.join(missing)}, although the pip CUDA wheels are installed in "
            f"{site}/nvidia (their lib folders are not on the loader path)"
        )
        return (
            cause,
            (
                "in the shell that starts snakemake (its SLURM jobs inherit it) "
                f"run `{ld_library_path_line(lib_dirs)}` and submit again"
            ),
        )
    cause = (
        f"{backend_label} cannot load {', '.join(missing)} and no pip CUDA wheels (site-packages/nvidia) are installed"
    )
    return (
        cause,
        (
            f"{install_fix} (it installs the CUDA 12 and cuDNN 9 wheels), "
            "or load the cluster's CUDA 12 and cuDNN 9 modules (execution.env_modules)"
        ),
    )


def diagnose(backend: str, probes: Probes | None = None, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Why `backend` sees no GPU, as (cause, fix); the most basic problem first."""
    probes = probes or Probes()
    env = os.environ if env is None else env
    if backend == "jax":
        label = f"JAX {probes.version('jax') or ''}".strip()
        platforms = env.get("JAX_PLATFORMS", "")
        if platforms and not {"cuda", "gpu"} & {p.strip() for p in platforms.split(",")}:
            return (
                f"JAX_PLATFORMS={platforms} hides the GPU from JAX",
                "unset JAX_PLATFORMS (or include cuda in it) in the shell that starts snakemake",
            )
        if not probes.jax_cuda_plugin():
            return f"{label} has no CUDA plugin (jax-cuda12-plugin is not installed)", SETUP_JAX_GPU_FIX
        install = "on the login node run `make setup-gpu-jax`"
        return (
            _no_driver(probes)
            or _cuda_libraries_missing(label, probes, install)
            or _unknown(label, "JAX's warning at start-up says why it fell back to the CPU")
        )
    version = probes.version("tensorflow-cpu")
    if version:
        return f"TensorFlow is the CPU-only build (tensorflow-cpu {version}, from requirements.txt)", SETUP_GPU_FIX
    label = f"TensorFlow {probes.version('tensorflow') or ''}".strip()
    if not probes.tf_built_with_cuda():
        return f"{label} is built without CUDA", SETUP_GPU_FIX
    return (
        _no_driver(probes)
        or _cuda_libraries_missing(label, probes, "on the login node run `make setup-gpu`")
        or _unknown(label, "with TF_CPP_MIN_LOG_LEVEL=0 TensorFlow logs why it skips the GPU")
    )


def _unknown(label: str, hint: str) -> tuple[str, str]:
    return (
        f"{label} sees no GPU although the NVIDIA driver and the CUDA libraries load",
        f"run `nvidia-smi` inside a job on that partition and read the job's log ({hint})",
    )


# --- the check at the start of a training job ------------------------------------------


def _require(value) -> str | bool:
    if value == "auto" or isinstance(value, bool):
        return value
    problem = f"{value!r} is not one of auto, true, false"
    raise ValueError(refusal("execution.require_gpu", problem, "use auto (the default), true or false"))


def check(
    require,
    gpus_requested: int,
    env: Mapping[str, str] | None = None,
    backend: str | None = None,
    probes: Probes | None = None,
) -> dict:
    """Compare the GPU the job was given with what the backend can use; raise GpuUnavailable where it cannot.

    `require` is execution.require_gpu: "auto" checks jobs given a GPU (or asking for one
    under SLURM), True checks every job, False only warns. The returned dict goes into
    provenance: {"require_gpu", "given", "usable", "warning"} ("usable" is None when nothing
    was checked).
    """
    require = _require(require)
    env = os.environ if env is None else env
    probes = probes or Probes()
    if backend is None:
        import keras

        backend = keras.backend.backend()
    given = allocation(env)
    asked = given["under_slurm"] and (gpus_requested or 0) >= 1
    record = {"require_gpu": require, "given": given["source"], "usable": None, "warning": None}
    if not (given["given"] or asked or require is True):
        return record  # no GPU given or required: nothing to check
    record["usable"] = probes.usable_gpus(backend)
    if record["usable"]:
        return record
    cause, fix = diagnose(backend, probes, env)
    if given["given"]:
        what = f"this job was given a GPU ({given['source']})"
    elif asked:
        what = (
            f"this SLURM job asked for a GPU (execution.gpus: {gpus_requested}) "
            f"but SLURM set none of {', '.join(ALLOCATION_VARS)}"
        )
    else:
        what = "a GPU is required (execution.require_gpu: true)"
    name = "JAX" if backend == "jax" else "TensorFlow"
    if require is False:
        problem = f"{what} but {name} cannot use any GPU, so it trains on the CPU"
        problem += f" (execution.require_gpu: false): {cause}"
        record["warning"] = refusal("GPU check", problem, fix)
        return record
    problem = f"{what} but {name} cannot use any GPU: {cause}"
    raise GpuUnavailable(refusal("GPU check", problem, f"{fix}; {CPU_INSTEAD}"))


# --- provenance ---------------------------------------------------------------------------


def nvidia_smi(which: Callable[[str], str | None] = shutil.which) -> list[dict]:
    """One dict per GPU nvidia-smi reports (index, uuid, name, memory_mib, driver_version); [] without it."""
    exe = which("nvidia-smi")
    return list(_nvidia_smi_rows(exe)) if exe else []


@functools.cache
def _nvidia_smi_rows(exe: str) -> tuple[dict, ...]:
    # Asked once per process (provenance asks for every run): the GPUs do not change while a job runs.
    try:
        out = subprocess.run([exe, *NVIDIA_SMI_QUERY], capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    rows = []
    for line in out.stdout.splitlines() if out.returncode == 0 else []:
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 5:
            continue
        index, uuid, name, memory, driver = parts
        rows.append(
            {
                "index": index,
                "uuid": uuid,
                "name": name,
                "memory_mib": int(memory) if memory.isdigit() else None,
                "driver_version": driver or None,
            }
        )
    return tuple(rows)


def visible_rows(rows: list[dict], cuda_visible_devices: str | None) -> list[dict]:
    """The nvidia-smi rows CUDA_VISIBLE_DEVICES selects (by index or UUID), in its order;
    all rows where it selects none."""
    if not cuda_visible_devices:
        return rows
    chosen = []
    for item in (v.strip() for v in cuda_visible_devices.split(",")):
        match = [r for r in rows if item and (r["index"] == item or r["uuid"].startswith(item))]
        chosen.extend(match[:1])
    return chosen or rows


def _version_text(number: int | None, parts: tuple[int, ...]) -> str | None:
    """12090 with parts (1000, 10) -> "12.9"; 92800 with (10000, 100, 1) -> "9.28.0"."""
    if not number:
        return None
    out, rest = [], int(number)
    for unit in parts:
        out.append(str(rest // unit))
        rest %= unit
    return ".".join(out)


def build_versions(backend: str) -> dict:
    """The CUDA and cuDNN versions the backend was built with
    ({"cuda_version", "cudnn_version"}; None where unknown)."""
    found = {"cuda_version": None, "cudnn_version": None}
    try:
        if backend == "jax":
            plugin = next(
                (name for name in ("jax_cuda12_plugin", "jax_cuda13_plugin") if util.find_spec(name) is not None), None
            )
            if plugin is None:
                return found
            _versions = importlib.import_module(
                f"{plugin}._versions"
            )  # the plugin's own version table; JAX has no public one

            found["cuda_version"] = _version_text(_versions.cuda_runtime_build_version(), (1000, 10))
            found["cudnn_version"] = _version_text(_versions.cudnn_build_version(), (10000, 100, 1))
        else:
            import tensorflow as tf

            info = tf.sysconfig.get_build_info()
            found["cuda_version"] = info.get("cuda_version") or None
            found["cudnn_version"] = info.get("cudnn_version") or None
    except Exception:  # best effort: provenance must never stop training
        pass
    return found


def device_info(
    backend: str,
    env: Mapping[str, str] | None = None,
    probes: Probes | None = None,
    gpu_names: Callable[[str], list[str]] = gpu_models,
) -> dict:
    """What training runs on, for provenance; missing details are None or [], never an error.

    Keys: type ("GPU"/"CPU"), gpus (model names), memory_mib (per GPU), driver_version,
    cuda_version and cudnn_version (the backend's build), backend, backend_version, cpu,
    cuda_visible_devices.
    """
    env = os.environ if env is None else env
    probes = probes or Probes()
    try:
        gpus = gpu_names(backend)
    except Exception:  # a backend that cannot even list devices trains on the CPU
        gpus = []
    smi = nvidia_smi(probes.which)
    rows = visible_rows(smi, env.get("CUDA_VISIBLE_DEVICES"))
    if gpus and len(rows) == len(gpus):
        gpus = [
            r["name"] if name.startswith(("/physical_device:", "cuda:", "gpu:")) else name
            for r, name in zip(rows, gpus)
        ]
        memory = [r["memory_mib"] for r in rows]
    else:
        memory = []
    return {
        "type": "GPU" if gpus else "CPU",
        "gpus": gpus,
        "memory_mib": memory,
        "driver_version": smi[0]["driver_version"] if smi else None,
        **build_versions(backend),
        "backend": backend,
        "backend_version": probes.version("jax")
        if backend == "jax"
        else probes.version("tensorflow") or probes.version("tensorflow-cpu"),
        "cpu": platform.processor() or platform.machine(),
        "cuda_visible_devices": env.get("CUDA_VISIBLE_DEVICES"),
    }
