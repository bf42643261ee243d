"""The GPU check at the start of a training job, the device record of provenance, and the
setup guard of the GPU environments. No GPU needed: each node is a set of fake probes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import venv_build
from mlpsweep import gpu
from mlpsweep.gpu import GpuUnavailable, Probes

REPO = Path(__file__).resolve().parents[1]
SLURM_GPU = {"SLURM_JOB_ID": "7", "SLURM_JOB_GPUS": "0", "SLURM_GPUS_ON_NODE": "1", "CUDA_VISIBLE_DEVICES": "0"}
SITE = "/home/ana/mlpsweep/.venv-gpu/lib/python3.11/site-packages"
WHEELS = [f"{SITE}/nvidia/cuda_runtime/lib", f"{SITE}/nvidia/cudnn/lib"]
ALL_LIBS = ("libcuda.so.1", "libcudart.so.12", "libcudnn.so.9")
SETUP_GPU = "Fix: on the login node run `make setup-gpu`, then submit with `.venv-gpu/bin/snakemake --profile profiles/slurm`; or set execution.require_gpu: false to train on the CPU"


def node(
    *, gpus=(), versions=None, cuda_build=True, libs=ALL_LIBS, wheels=(), plugin=False, files=(), tools=()
) -> Probes:
    """Fake probes of a compute node: what the backend sees, what is installed, what loads."""
    versions = {"tensorflow": "2.21.0", "jax": "0.10.2"} if versions is None else versions
    return Probes(
        usable_gpus=lambda backend: list(gpus),
        version=versions.get,
        tf_built_with_cuda=lambda: cuda_build,
        jax_cuda_plugin=lambda: plugin,
        nvidia_lib_dirs=lambda: list(wheels),
        loadable=lambda name: name in libs,
        exists=lambda path: path in files,
        which=lambda name: f"/usr/bin/{name}" if name in tools else None,
        hostname=lambda: "gpu07",
    )


def with_real_which(probes: Probes) -> Probes:
    """The probes, but nvidia-smi is looked up on PATH (where the tests put a fake one)."""
    return Probes(**{**probes.__dict__, "which": shutil.which})


def unreachable(*args):
    raise AssertionError("nothing should have been checked")


# --- allocation() -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "-1", "NoDevFiles", " -1 "])
def test_cuda_visible_devices_that_name_no_device_are_no_allocation(value):
    assert gpu.allocation({"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": value}) == {
        "given": False,
        "source": None,
        "under_slurm": True,
    }


def test_allocation_names_slurms_variable_first():
    assert gpu.allocation(SLURM_GPU) == {"given": True, "source": "SLURM_JOB_GPUS=0", "under_slurm": True}
    assert (
        gpu.allocation({"SLURM_JOB_ID": "7", "SLURM_STEP_GPUS": "1", "CUDA_VISIBLE_DEVICES": "0"})["source"]
        == "SLURM_STEP_GPUS=1"
    )


def test_allocation_skips_empty_slurm_variables_and_a_zero_gpu_count():
    env = {"SLURM_JOB_ID": "7", "SLURM_JOB_GPUS": "", "SLURM_GPUS_ON_NODE": "0", "CUDA_VISIBLE_DEVICES": "2,3"}
    assert gpu.allocation(env) == {"given": True, "source": "CUDA_VISIBLE_DEVICES=2,3", "under_slurm": True}
    assert gpu.allocation({"SLURM_GPUS_ON_NODE": "0"})["given"] is False


def test_allocation_outside_slurm():
    assert gpu.allocation({}) == {"given": False, "source": None, "under_slurm": False}
    assert gpu.allocation({"CUDA_VISIBLE_DEVICES": "GPU-5d1c"}) == {
        "given": True,
        "source": "CUDA_VISIBLE_DEVICES=GPU-5d1c",
        "under_slurm": False,
    }


# --- check(): each branch ---------------------------------------------------------------


def test_given_and_usable_passes_and_records_the_devices():
    record = gpu.check("auto", 1, SLURM_GPU, "tensorflow", node(gpus=["/physical_device:GPU:0"]))
    assert record == {
        "require_gpu": "auto",
        "given": "SLURM_JOB_GPUS=0",
        "usable": ["/physical_device:GPU:0"],
        "warning": None,
    }


def test_given_with_the_cpu_only_tensorflow_build_fails_with_the_setup_gpu_fix():
    with pytest.raises(GpuUnavailable) as exc:
        gpu.check("auto", 1, SLURM_GPU, "tensorflow", node(versions={"tensorflow-cpu": "2.21.0"}))
    assert str(exc.value) == (
        "GPU check: this job was given a GPU (SLURM_JOB_GPUS=0) but TensorFlow cannot use any GPU: "
        f"TensorFlow is the CPU-only build (tensorflow-cpu 2.21.0, from requirements.txt). {SETUP_GPU}"
    )


def test_given_with_tensorflow_built_without_cuda_fails_with_the_setup_gpu_fix():
    with pytest.raises(GpuUnavailable) as exc:
        gpu.check("auto", 1, SLURM_GPU, "tensorflow", node(cuda_build=False))
    assert (
        str(exc.value)
        == f"GPU check: this job was given a GPU (SLURM_JOB_GPUS=0) but TensorFlow cannot use any GPU: TensorFlow 2.21.0 is built without CUDA. {SETUP_GPU}"
    )


def test_given_with_the_cuda_wheels_off_the_loader_path_gives_the_exact_ld_library_path_line():
    probes = node(libs=("libcuda.so.1",), wheels=WHEELS)
    with pytest.raises(GpuUnavailable) as exc:
        gpu.check("auto", 1, SLURM_GPU, "tensorflow", probes)
    assert str(exc.value) == (
        "GPU check: this job was given a GPU (SLURM_JOB_GPUS=0) but TensorFlow cannot use any GPU: "
        f"TensorFlow 2.21.0 cannot load libcudart.so.12, libcudnn.so.9, although the pip CUDA wheels are installed in {SITE}/nvidia "
        "(their lib folders are not on the loader path). "
        f"Fix: in the shell that starts snakemake (its SLURM jobs inherit it) run `export LD_LIBRARY_PATH={WHEELS[0]}:{WHEELS[1]}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}` "
        "and submit again; or set execution.require_gpu: false to train on the CPU"
    )


def test_the_ld_library_path_line_puts_the_wheels_first_and_keeps_the_rest(tmp_path):
    line = gpu.ld_library_path_line(["/a/lib", "/b/lib"])
    out = subprocess.run(
        ["bash", "-c", f'{line}; echo "$LD_LIBRARY_PATH"'],
        capture_output=True,
        text=True,
        env={"LD_LIBRARY_PATH": "/opt/cuda/lib64"},
    ).stdout
    assert out.strip() == "/a/lib:/b/lib:/opt/cuda/lib64"
    assert (
        subprocess.run(
            ["bash", "-c", f'{line}; echo "$LD_LIBRARY_PATH"'], capture_output=True, text=True, env={}
        ).stdout.strip()
        == "/a/lib:/b/lib"
    )


def test_given_with_cuda_libraries_and_no_wheels_points_at_setup_gpu_or_modules():
    with pytest.raises(GpuUnavailable) as exc:
        gpu.check("auto", 1, SLURM_GPU, "tensorflow", node(libs=("libcuda.so.1", "libcudart.so.12")))
    assert str(exc.value).endswith(
        "TensorFlow 2.21.0 cannot load libcudnn.so.9 and no pip CUDA wheels (site-packages/nvidia) are installed. "
        "Fix: on the login node run `make setup-gpu` (it installs the CUDA 12 and cuDNN 9 wheels), or load the cluster's CUDA 12 and cuDNN 9 modules (execution.env_modules); "
        "or set execution.require_gpu: false to train on the CPU"
    )


def test_given_on_a_node_without_driver_names_the_node_and_the_evidence():
    with pytest.raises(GpuUnavailable) as exc:
        gpu.check("auto", 1, SLURM_GPU, "tensorflow", node(libs=("libcudart.so.12", "libcudnn.so.9"), wheels=WHEELS))
    assert str(exc.value) == (
        "GPU check: this job was given a GPU (SLURM_JOB_GPUS=0) but TensorFlow cannot use any GPU: "
        "no usable NVIDIA driver on node gpu07 (libcuda.so.1 cannot be loaded; no /proc/driver/nvidia/version, no nvidia-smi). "
        "Fix: submit to a partition whose nodes have NVIDIA GPUs (`sinfo -o '%P %G'` lists them; slurm_partition in profiles/slurm/config.yaml), "
        "or ask the cluster's admins about that node; or set execution.require_gpu: false to train on the CPU"
    )
    kernel_only = node(libs=(), files=("/proc/driver/nvidia/version",), tools=("nvidia-smi",))
    assert (
        gpu.diagnose("tensorflow", kernel_only, {})[0]
        == "no usable NVIDIA driver on node gpu07 (libcuda.so.1 cannot be loaded; /proc/driver/nvidia/version exists, nvidia-smi found)"
    )


def test_the_cpu_only_build_is_named_before_a_missing_driver():
    assert gpu.diagnose("tensorflow", node(versions={"tensorflow-cpu": "2.21.0"}, libs=()), {})[0].startswith(
        "TensorFlow is the CPU-only build"
    )


def test_given_with_jax_without_cuda_plugin_fails_with_the_jax_gpu_fix():
    with pytest.raises(GpuUnavailable) as exc:
        gpu.check("auto", 1, SLURM_GPU, "jax", node(plugin=False))
    assert str(exc.value) == (
        "GPU check: this job was given a GPU (SLURM_JOB_GPUS=0) but JAX cannot use any GPU: JAX 0.10.2 has no CUDA plugin (jax-cuda12-plugin is not installed). "
        "Fix: on the login node run `make setup-gpu-jax` (requirements-jax-gpu.txt: jax[cuda12]==0.10.2), "
        "then submit with `KERAS_BACKEND=jax .venv-gpu-jax/bin/snakemake --profile profiles/slurm`; or set execution.require_gpu: false to train on the CPU"
    )


def test_jax_platforms_cpu_is_named_as_the_cause():
    cause, fix = gpu.diagnose("jax", node(plugin=True), {"JAX_PLATFORMS": "cpu"})
    assert (cause, fix) == (
        "JAX_PLATFORMS=cpu hides the GPU from JAX",
        "unset JAX_PLATFORMS (or include cuda in it) in the shell that starts snakemake",
    )
    assert gpu.diagnose("jax", node(plugin=True, libs=("libcuda.so.1",), wheels=WHEELS), {"JAX_PLATFORMS": "cuda,cpu"})[
        0
    ].startswith("JAX 0.10.2 cannot load libcudart.so.12")


def test_when_driver_and_libraries_load_the_cause_is_unknown_with_a_next_step():
    cause, fix = gpu.diagnose("tensorflow", node(), {})
    assert cause == "TensorFlow 2.21.0 sees no GPU although the NVIDIA driver and the CUDA libraries load"
    assert (
        fix
        == "run `nvidia-smi` inside a job on that partition and read the job's log (with TF_CPP_MIN_LOG_LEVEL=0 TensorFlow logs why it skips the GPU)"
    )


def test_require_false_warns_and_records_the_warning_instead_of_failing():
    record = gpu.check(False, 1, SLURM_GPU, "tensorflow", node(versions={"tensorflow-cpu": "2.21.0"}))
    assert record == {
        "require_gpu": False,
        "given": "SLURM_JOB_GPUS=0",
        "usable": [],
        "warning": "GPU check: this job was given a GPU (SLURM_JOB_GPUS=0) but TensorFlow cannot use any GPU, so it trains on the CPU (execution.require_gpu: false): "
        "TensorFlow is the CPU-only build (tensorflow-cpu 2.21.0, from requirements.txt). "
        "Fix: on the login node run `make setup-gpu`, then submit with `.venv-gpu/bin/snakemake --profile profiles/slurm`",
    }


def test_require_true_checks_outside_slurm_too():
    with pytest.raises(GpuUnavailable) as exc:
        gpu.check(True, 0, {}, "tensorflow", node(versions={"tensorflow-cpu": "2.21.0"}))
    assert str(exc.value).startswith(
        "GPU check: a GPU is required (execution.require_gpu: true) but TensorFlow cannot use any GPU: TensorFlow is the CPU-only build"
    )
    assert gpu.check(True, 0, {}, "jax", node(gpus=["cuda:0"]))["usable"] == ["cuda:0"]


def test_nothing_given_means_nothing_checked():
    probes = node(versions={"tensorflow-cpu": "2.21.0"})
    probes = Probes(**{**probes.__dict__, "usable_gpus": unreachable})
    assert gpu.check("auto", 1, {}, "tensorflow", probes) == {
        "require_gpu": "auto",
        "given": None,
        "usable": None,
        "warning": None,
    }  # laptop: gpus ignored
    assert gpu.check("auto", 0, {"SLURM_JOB_ID": "7"}, "tensorflow", probes)["usable"] is None  # CPU job on the cluster
    assert (
        gpu.check(False, 0, {"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": "-1"}, "tensorflow", probes)["warning"]
        is None
    )


def test_a_slurm_job_that_asked_for_a_gpu_and_got_none_fails():
    with pytest.raises(GpuUnavailable) as exc:
        gpu.check("auto", 1, {"SLURM_JOB_ID": "7"}, "tensorflow", node(libs=()))
    assert str(exc.value).startswith(
        "GPU check: this SLURM job asked for a GPU (execution.gpus: 1) but SLURM set none of SLURM_JOB_GPUS, SLURM_STEP_GPUS, SLURM_GPUS_ON_NODE, CUDA_VISIBLE_DEVICES "
        "but TensorFlow cannot use any GPU: no usable NVIDIA driver on node gpu07"
    )


@pytest.mark.parametrize("value", ["yes", 1, None, "True"])
def test_require_gpu_accepts_only_auto_true_false(value):
    with pytest.raises(
        ValueError,
        match=r"^execution\.require_gpu: .* is not one of auto, true, false\. Fix: use auto \(the default\), true or false$",
    ):
        gpu.check(value, 1, SLURM_GPU, "tensorflow", node(gpus=["x"]))


@pytest.mark.skipif(gpu.package_version("tensorflow-cpu") is None, reason="needs the CPU build of TensorFlow installed")
def test_real_probes_on_this_machine_name_the_cpu_build():
    assert gpu.diagnose("tensorflow") == (
        "TensorFlow is the CPU-only build (tensorflow-cpu 2.21.0, from requirements.txt)",
        gpu.SETUP_GPU_FIX,
    )


def test_real_probes_find_loaded_libraries_and_the_wheel_folders(tmp_path, monkeypatch):
    assert gpu.loadable("libc.so.6") and not gpu.loadable("libdoes-not-exist.so.1")
    (tmp_path / "nvidia" / "cudnn" / "lib").mkdir(parents=True)
    (tmp_path / "nvidia" / "cublas" / "lib").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert gpu.nvidia_lib_dirs()[:2] == [
        str(tmp_path / "nvidia" / "cublas" / "lib"),
        str(tmp_path / "nvidia" / "cudnn" / "lib"),
    ]


def test_under_jax_neither_the_check_nor_the_device_record_imports_tensorflow():
    code = (
        "import sys; from mlpsweep import gpu\n"
        "gpu.check(False, 1, {'SLURM_JOB_ID': '7', 'CUDA_VISIBLE_DEVICES': '0'}, 'jax')\n"
        "gpu.device_info('jax')\n"
        "print('tensorflow' in sys.modules, 'jax' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "scripts")},
        timeout=60,
    )
    assert out.stdout.split() == ["False", "True"], out.stderr[-2000:]


# --- device_info() ----------------------------------------------------------------------

FAKE_SMI = """#!/bin/sh
[ "$*" = "--query-gpu=index,uuid,name,memory.total,driver_version --format=csv,noheader,nounits" ] || exit 9
echo called >> "$(dirname "$0")/calls"
echo "0, GPU-1111aaaa, NVIDIA A100-SXM4-80GB, 81920, 550.54.15"
echo "1, GPU-2222bbbb, NVIDIA H100 80GB HBM3, 81559, 550.54.15"
"""


@pytest.fixture
def fake_nvidia_smi(tmp_path, monkeypatch):
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text(FAKE_SMI)
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tool.parent}{os.pathsep}{os.environ['PATH']}")
    return tool


def test_device_info_takes_model_memory_and_driver_from_nvidia_smi(fake_nvidia_smi):
    info = gpu.device_info(
        "jax", {"CUDA_VISIBLE_DEVICES": "1"}, with_real_which(node()), gpu_names=lambda backend: ["cuda:0"]
    )
    assert info == {
        "type": "GPU",
        "gpus": ["NVIDIA H100 80GB HBM3"],
        "memory_mib": [81559],
        "driver_version": "550.54.15",
        "cuda_version": None,
        "cudnn_version": None,
        "backend": "jax",
        "backend_version": "0.10.2",
        "cpu": info["cpu"],
        "cuda_visible_devices": "1",
    }
    assert info["cpu"]


def test_device_info_keeps_the_backends_model_names_and_selects_by_uuid(fake_nvidia_smi):
    info = gpu.device_info(
        "jax",
        {"CUDA_VISIBLE_DEVICES": "GPU-2222"},
        with_real_which(node()),
        gpu_names=lambda backend: ["NVIDIA H100 80GB HBM3"],
    )
    assert (info["gpus"], info["memory_mib"]) == (["NVIDIA H100 80GB HBM3"], [81559])
    # CUDA_VISIBLE_DEVICES unset: all GPUs, in nvidia-smi's order
    both = gpu.device_info("jax", {}, with_real_which(node()), gpu_names=lambda backend: ["a", "b"])
    assert (both["gpus"], both["memory_mib"]) == (["a", "b"], [81920, 81559])


def test_nvidia_smi_is_asked_once_per_process(fake_nvidia_smi):
    """Provenance asks for every run; a slow or hung nvidia-smi must cost at most once per job."""
    for _ in range(3):
        gpu.device_info("jax", {}, with_real_which(node()), gpu_names=lambda backend: ["a", "b"])
    assert (fake_nvidia_smi.parent / "calls").read_text().splitlines() == ["called"]


def test_device_info_on_cpu_records_the_driver_but_no_gpu(fake_nvidia_smi):
    info = gpu.device_info("jax", {"CUDA_VISIBLE_DEVICES": "0"}, with_real_which(node()), gpu_names=lambda backend: [])
    assert (info["type"], info["gpus"], info["memory_mib"], info["driver_version"]) == ("CPU", [], [], "550.54.15")


def test_device_info_without_nvidia_smi_or_with_a_broken_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi anywhere
    info = gpu.device_info("jax", {}, with_real_which(node()), gpu_names=lambda backend: ["NVIDIA A100"])
    assert (info["type"], info["gpus"], info["memory_mib"], info["driver_version"]) == (
        "GPU",
        ["NVIDIA A100"],
        [],
        None,
    )
    (tmp_path / "nvidia-smi").write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    (tmp_path / "nvidia-smi").chmod(0o755)
    assert gpu.nvidia_smi() == []

    def failing(backend):
        raise RuntimeError("backend broken")

    assert gpu.device_info("jax", {}, node(), gpu_names=failing)["type"] == "CPU"


def test_device_info_keys_are_those_documented():
    info = gpu.device_info("jax", {}, node(), gpu_names=lambda backend: [])
    assert list(info) == [
        "type",
        "gpus",
        "memory_mib",
        "driver_version",
        "cuda_version",
        "cudnn_version",
        "backend",
        "backend_version",
        "cpu",
        "cuda_visible_devices",
    ]


def test_jax_plugin_version_numbers_are_written_as_versions():
    assert gpu._version_text(12090, (1000, 10)) == "12.9"
    assert gpu._version_text(92800, (10000, 100, 1)) == "9.28.0"
    assert gpu._version_text(0, (1000, 10)) is None


# --- the setup guard (scripts/venv_build.py) --------------------------------------------


@pytest.mark.parametrize(
    "names, build",
    [
        ({"tensorflow-cpu", "jax", "keras"}, "cpu"),
        ({"tensorflow", "keras"}, "cpu"),  # macOS / aarch64: tensorflow without CUDA wheels
        ({"tensorflow", "nvidia-cudnn-cu12", "nvidia-cuda-runtime-cu12"}, "gpu"),
        ({"tensorflow-cpu", "jax", "jax-cuda12-plugin", "nvidia-cudnn-cu12"}, "jax-gpu"),
        ({"tensorflow", "tensorflow-cpu"}, "mixed"),
        ({"pip", "setuptools"}, None),
    ],
)
def test_the_build_of_an_environment(names, build):
    assert venv_build.build_of(names) == build


def make_venv(root: Path, *dists: str) -> Path:
    for dist in dists:
        (root / "lib" / "python3.11" / "site-packages" / f"{dist}.dist-info").mkdir(parents=True)
    return root


def test_setup_refuses_to_install_one_build_over_another(tmp_path):
    cpu = make_venv(tmp_path / ".venv", "tensorflow_cpu-2.21.0", "jax-0.10.2")
    gpu_env = make_venv(tmp_path / ".venv-gpu", "tensorflow-2.21.0", "nvidia_cudnn_cu12-9.28.0.42")
    assert venv_build.problem(cpu, "cpu") is None and venv_build.problem(gpu_env, "gpu") is None
    assert venv_build.problem(tmp_path / "missing", "gpu") is None
    assert venv_build.problem(cpu, "gpu") == (
        f"{cpu}: holds the CPU build of TensorFlow (what `make setup` builds), not the GPU build of TensorFlow (tensorflow[and-cuda]) "
        f"that `make setup-gpu` installs; installing over it would mix the two. Fix: rm -rf {cpu} && make setup-gpu"
    )
    assert venv_build.problem(gpu_env, "cpu").endswith(f"Fix: rm -rf {gpu_env} && make setup")
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "venv_build.py"), str(gpu_env), "cpu"], capture_output=True, text=True
    )
    assert out.returncode == 1 and out.stderr.startswith(
        f"{gpu_env}: holds the GPU build of TensorFlow (tensorflow[and-cuda]) (what `make setup-gpu` builds)"
    )


def test_requirement_files_pin_each_package_to_one_version_and_keep_the_builds_apart():
    def pins(name: str) -> dict[str, str]:
        found = {}
        for line in (REPO / name).read_text().splitlines():
            spec = line.split("#")[0].split(";")[0].strip()
            if spec and not spec.startswith(("-r", "-c")):
                package, _, version = spec.partition("==")
                found[package.split("[")[0].strip()] = version.strip()
        return found

    files = [
        "requirements.txt",
        "requirements-jax.txt",
        "requirements-dev.txt",
        "requirements-gpu.txt",
        "requirements-jax-gpu.txt",
        "constraints-cuda.txt",
    ]
    base = pins("requirements-base.txt")
    assert "keras" in base and not any(set(base) & set(pins(name)) for name in files)  # common pins are written once
    versions = {}
    for name in ["requirements-base.txt", *files]:
        for package, version in pins(name).items():
            versions.setdefault(package, set()).add(version)
    assert {p: v for p, v in versions.items() if len(v) > 1} == {}  # e.g. jax and jax[cuda12] at the same version
    gpu_lines, dev_lines = (
        (REPO / name).read_text().splitlines() for name in ("requirements-gpu.txt", "requirements-dev.txt")
    )
    assert pins("requirements-gpu.txt") == {"tensorflow": "2.21.0"} and "tensorflow[and-cuda]==2.21.0" in gpu_lines
    assert "-r requirements.txt" not in gpu_lines  # so not tensorflow-cpu
    assert "-r requirements.txt" in dev_lines and "-r requirements-jax.txt" in dev_lines
    assert pins("requirements-jax.txt") == {"jax": "0.10.2", "jaxlib": "0.10.2"}
