"""Faults during a sweep: killed and preempted training, a read-only or full disk, two Snakemake
processes at once, damaged run files, diverging runs, and no network access, all with real Snakemake."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import checkpoint_epoch, run_snakemake, snakemake_cmd, tiny_config, write_config
from mlpsweep.tables.runs import collect_runs
from mlpsweep.tables.summary import write_summary

pytestmark = pytest.mark.workflow

RUN = "runs/big/mlp/default/seed0"  # the one run of long_config()
EPOCHS = 8
NO_PLOTS = ("--omit-from", "plots")  # the default target up to the summary: plots are not under test here


def long_config(**overrides) -> dict:
    """One run of 8 short epochs (a few seconds), long enough to be hit by a signal mid-fit."""
    cfg = tiny_config(
        datasets={"big": {"source": "synthetic", "n_samples": 1500, "n_features": 8, "seed": 3}},
        architectures={"mlp": {"hidden": [16]}},
        training={"epochs": EPOCHS, "batch_size": 16},
        seeds=[0],
        execution={"runs_per_job": 1, "threads": 1, "steps_per_execution": 1, "checkpoint_seconds": 0},
    )
    cfg.update(overrides)
    return cfg


def start_snakemake(workdir: Path, *args: str) -> subprocess.Popen:
    """Snakemake in the background, in its own process group, output to files in `workdir`."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(workdir / "snakemake.out", "w") as out, open(workdir / "snakemake.err", "w") as err:
        return subprocess.Popen(
            snakemake_cmd(workdir, *args), cwd=workdir, stdout=out, stderr=err, env=env, start_new_session=True
        )


def output_of(workdir: Path) -> str:
    return (workdir / "snakemake.out").read_text() + (workdir / "snakemake.err").read_text()


def descendants(pid: int) -> list[int]:
    """Process ids below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def training_process(snakemake_pid: int) -> int:
    """The Python process running the train rule's script under Snakemake."""
    for pid in descendants(snakemake_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            any(arg.endswith(b".train.py") for arg in cmdline)
            and b"bash" not in cmdline[0]
            and not cmdline[0].endswith(b"sh")
        ):
            return pid
    raise AssertionError(f"no training process below {snakemake_pid}")


def wait_until(condition, proc: subprocess.Popen, workdir: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(
                f"snakemake ended ({proc.returncode}) before the condition held:\n{output_of(workdir)[-4000:]}"
            )
        if time.monotonic() > deadline:
            stop(proc)
            raise AssertionError(f"timed out after {timeout} s:\n{output_of(workdir)[-4000:]}")
        time.sleep(0.05)


def start_time(pid: int) -> str | None:
    """When `pid` started (clock ticks since boot): tells a process from a later one with its id."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def stop(proc: subprocess.Popen) -> None:
    """End a background Snakemake we started, and every process it started (by id, checked)."""
    if proc.poll() is not None:
        return
    below = {pid: start_time(pid) for pid in descendants(proc.pid)}
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    for pid, started in below.items():
        if started is not None and start_time(pid) == started:  # still the process we started
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def read_metrics(results: Path, run: str = RUN) -> dict:
    return json.loads((results / run / "metrics.json").read_text())


def comparable(record: dict) -> dict:
    """A run's numbers, without its wall time."""
    return {k: v for k, v in record["metrics"].items() if k != "fit_seconds"}


def history(results: Path, run: str = RUN) -> pd.DataFrame:
    return pd.read_csv(results / run / "history.csv").drop(columns="seconds")


def snapshot(root: Path) -> dict:
    """Every file under `root` with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The long run, trained without interruption: what every interrupted run must end up with."""
    workdir = tmp_path_factory.mktemp("reference")
    write_config(workdir, long_config())
    run_snakemake(workdir, *NO_PLOTS)
    return workdir


def interrupt_training(workdir: Path, signum: int) -> subprocess.Popen:
    """Start the sweep, wait for the first checkpoint of its run, then send `signum` to the training process."""
    proc = start_snakemake(workdir)
    wait_until(lambda: checkpoint_epoch(workdir / "results" / RUN) >= 1, proc, workdir)
    os.kill(training_process(proc.pid), signum)
    try:
        proc.wait(timeout=120)
    finally:
        stop(proc)
    return proc


# ---------------------------------------------------------------- killed and preempted training


def test_sigkill_mid_fit_leaves_no_result_and_the_rerun_completes_it(tmp_path, reference):
    write_config(tmp_path, long_config())
    proc = interrupt_training(tmp_path, signal.SIGKILL)
    results = tmp_path / "results"
    assert proc.returncode != 0 and "Error in rule train" in output_of(tmp_path)
    assert not (results / RUN / "metrics.json").exists() and not (results / RUN / "model.keras").exists()

    epoch = checkpoint_epoch(results / RUN)
    assert 1 <= epoch < EPOCHS  # a kill at any moment leaves the last complete checkpoint (one rename replaces it)
    run_snakemake(tmp_path, *NO_PLOTS)
    record = read_metrics(results)
    assert record["status"] == "finished" and record["metrics"]["epochs_run"] == EPOCHS
    assert record["provenance"]["resumed_from_epoch"] == epoch
    assert comparable(record) == comparable(read_metrics(reference / "results"))
    pd.testing.assert_frame_equal(history(results), history(reference / "results"))
    assert not list((results / "checkpoints").glob("*.npz"))


def test_sigterm_checkpoints_and_the_rerun_resumes_to_the_same_numbers(tmp_path, reference):
    write_config(tmp_path, long_config())
    proc = interrupt_training(tmp_path, signal.SIGTERM)
    results = tmp_path / "results"
    assert proc.returncode != 0
    epoch = checkpoint_epoch(results / RUN)
    assert 1 <= epoch < EPOCHS
    assert not (results / RUN / "metrics.json").exists()
    assert "interrupted by signal 15" in (results / RUN / "train.log").read_text()

    run_snakemake(tmp_path, *NO_PLOTS)
    record = read_metrics(results)
    assert record["status"] == "finished" and record["provenance"]["resumed_from_epoch"] == epoch
    assert comparable(record) == comparable(read_metrics(reference / "results"))
    pd.testing.assert_frame_equal(history(results), history(reference / "results"))
    assert (
        json.loads((results / "summary" / "compute.json").read_text())["finished"] == 1
    )  # the real summary, not the partial one


def test_second_snakemake_on_the_same_directory_is_refused(tmp_path):
    write_config(tmp_path, long_config())
    first = start_snakemake(tmp_path)
    try:
        wait_until(lambda: any((tmp_path / ".snakemake" / "locks").glob("*")), first, tmp_path)
        second = run_snakemake(tmp_path, check=False, timeout=120)
        first_still_running = first.poll() is None
    finally:
        stop(first)
    output = second.stdout + second.stderr
    assert first_still_running
    assert second.returncode != 0 and "Directory cannot be locked" in output and "--unlock" in output
    assert "rule train:" not in output  # the second process started no job


# ---------------------------------------------------------------- read-only and full disks


@pytest.fixture
def small_disk(tmp_path, reference):
    """A working directory whose results/ is a 16 MiB tmpfs, holding the finished reference sweep."""
    mount = tmp_path / "results"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("needs root with CAP_SYS_ADMIN to mount a small tmpfs; chmod cannot stop root from writing")
    try:
        shutil.copytree(reference / "results", mount, dirs_exist_ok=True)  # copy2 keeps mtimes: nothing to redo
        shutil.copytree(reference / "config", tmp_path / "config")
        yield tmp_path
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def add_seed(workdir: Path) -> str:
    write_config(workdir, long_config(seeds=[0, 1]))
    return "runs/big/mlp/default/seed1"


def test_read_only_results_are_refused_before_any_job_and_kept(small_disk):
    results = small_disk / "results"
    before = snapshot(results)
    subprocess.run(["mount", "-o", "remount,ro", str(results)], check=True)
    new_run = add_seed(small_disk)
    proc = run_snakemake(small_disk, check=False, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Write-protected output files for rule" in output
    assert "rule train:" not in output
    assert snapshot(results) == before and not (results / new_run).exists()


def test_full_disk_fails_clearly_keeps_earlier_results_and_recovers(small_disk):
    results = small_disk / "results"
    before = snapshot(results)
    with open(results / "filler", "wb") as fh:  # fill the disk to the last block
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    new_run = add_seed(small_disk)
    proc = run_snakemake(small_disk, check=False)
    assert proc.returncode != 0
    assert "No space left on device" in proc.stdout + proc.stderr
    after = snapshot(results)
    assert {k: after[k] for k in before} == before  # earlier runs, summary and logs are whole
    assert not (results / new_run / "metrics.json").exists()

    (results / "filler").unlink()
    run_snakemake(small_disk, *NO_PLOTS)
    assert read_metrics(results, new_run)["status"] == "finished"
    assert (results / RUN / "metrics.json").read_bytes() == before[f"{RUN}/metrics.json"]  # not retrained


# ---------------------------------------------------------------- diverging runs, damaged runs, no network

NETWORK_GUARD = '''
"""Loaded by every Python process of the guarded sweep: records and refuses any network access."""
import os
import socket

LOG = os.environ["MLPSWEEP_NETWORK_LOG"]


def note(line):
    with open(LOG, "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()} {line}\\n")


def guarded(real):
    def call(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            note(f"connect {address!r}")
            raise OSError("network access blocked by the test")
        return real(self, address, *args)

    return call


def no_lookup(host, *args, **kwargs):
    note(f"getaddrinfo {host!r}")
    raise socket.gaierror("name resolution blocked by the test")


with open("/proc/self/cmdline", "rb") as fh:
    note("armed " + fh.read().replace(b"\\0", b" ").decode(errors="replace"))
socket.socket.connect = guarded(socket.socket.connect)
socket.socket.connect_ex = guarded(socket.socket.connect_ex)
socket.getaddrinfo = no_lookup
'''
DIVERGING_LR = 1e6  # sgd at this rate overflows the weights within the first epoch


@pytest.fixture(scope="module")
def guarded_sweep(tmp_path_factory):
    """A sweep with a diverging learning rate, run with Python's network calls blocked in every process
    and, where the kernel allows, in a network namespace without interfaces."""
    workdir = tmp_path_factory.mktemp("guarded")
    guard = workdir / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NETWORK_GUARD)
    cfg = tiny_config(
        datasets={
            "goodbad": {"source": "synthetic", "n_samples": 300, "n_features": 8, "seed": 1},
            "iris": {"source": "sklearn", "name": "iris"},
        },
        architectures={"small": {"hidden": [8]}},
        training={"epochs": 3, "optimizer": "sgd"},
        grid={"learning_rate": [0.05, DIVERGING_LR]},
        exclude=[{"dataset": "iris", "learning_rate": DIVERGING_LR}],
        seeds=[0, 1],
        execution={"runs_per_job": 6, "threads": 1},
    )
    write_config(workdir, cfg)
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(guard), os.environ.get("PYTHONPATH")])),
        "MLPSWEEP_NETWORK_LOG": str(workdir / "network.log"),
    }
    isolate = (
        ["unshare", "--net", "--"]
        if subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0
        else []
    )
    proc = subprocess.run(
        [*isolate, *snakemake_cmd(workdir)], cwd=workdir, capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return workdir


def diverged_label() -> str:
    from mlpsweep.grid import hparams_label

    return hparams_label({"learning_rate": DIVERGING_LR})


def test_diverging_run_stops_early_and_is_recorded_as_diverged(guarded_sweep):
    results = guarded_sweep / "results"
    for seed in (0, 1):
        run_dir = results / f"runs/goodbad/small/{diverged_label()}/seed{seed}"
        record = json.loads((run_dir / "metrics.json").read_text())
        assert record["status"] == "diverged" and record["metrics"]["epochs_run"] < 3
        assert "test_accuracy" not in record["metrics"] and not (run_dir / "model.keras").exists()
        assert pd.read_csv(run_dir / "history.csv")["loss"].isna().iloc[-1]
        healthy = json.loads((results / f"runs/goodbad/small/lr0.05/seed{seed}/metrics.json").read_text())
        assert healthy["status"] == "finished" and healthy["metrics"]["epochs_run"] == 3


def test_summary_shows_diverged_cells_as_diverged_not_as_numbers(guarded_sweep):
    summary = guarded_sweep / "results" / "summary"
    cells = pd.read_csv(summary / "summary.csv").set_index(["dataset", "hparams"])
    bad = cells.loc[("goodbad", diverged_label())]
    assert (
        bad["status"] == "diverged" and bad["n"] == 0 and bad["n_diverged"] == 2 and pd.isna(bad["test_accuracy_mean"])
    )
    assert cells.loc[("goodbad", "lr0.05"), "n"] == 2 and cells.loc[("iris", "lr0.05"), "n"] == 2
    assert not cells.loc[("goodbad", diverged_label()), "best"]
    assert (
        f"| goodbad | small | {diverged_label()} | 0/2 | diverged | diverged | diverged |"
        in (summary / "summary.md").read_text()
    )
    assert "0/2 & diverged & diverged & diverged" in (summary / "summary.tex").read_text()
    compute = json.loads((summary / "compute.json").read_text())
    assert compute["diverged"] == 2 and compute["finished"] == 4


def test_no_process_of_the_sweep_touches_the_network(guarded_sweep):
    lines = (guarded_sweep / "network.log").read_text().splitlines()
    armed = [line for line in lines if " armed " in line]
    assert any(".train.py" in line for line in armed) and any("summarize.py" in line for line in armed)  # the guard ran
    assert [line for line in lines if " armed " not in line] == []


def test_results_are_readable_as_the_umask_allows(guarded_sweep):
    """On shared machines colleagues read the results: atomic writes must not leave files private (0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    results = guarded_sweep / "results"
    modes = {p.relative_to(results).as_posix(): p.stat().st_mode & 0o777 for p in results.rglob("*") if p.is_file()}
    assert modes and {path: mode for path, mode in modes.items() if mode & 0o444 != 0o444 & ~umask} == {}


def test_damaged_and_missing_run_files_are_reported_and_the_rest_is_summarized(guarded_sweep, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(guarded_sweep / "results" / "runs", results / "runs")
    cell = results / "runs/goodbad/small/lr0.05"
    metrics = cell / "seed0" / "metrics.json"
    metrics.write_bytes(metrics.read_bytes()[:100])  # truncated mid-write by some other tool
    (cell / "seed1" / "history.csv").unlink()
    (results / "runs/iris/small/lr0.05/seed1/model.keras").unlink()

    out = write_summary(collect_runs(results), None, results / "summary")  # what `--config regenerate=1` does
    runs = out["runs"].set_index("path")
    damaged = runs.loc["runs/goodbad/small/lr0.05/seed0"]
    assert damaged["status"] == "damaged" and damaged["problem"] == "metrics.json unreadable (JSONDecodeError)"
    assert runs.loc["runs/goodbad/small/lr0.05/seed1", "problem"] == "missing history.csv"
    assert runs.loc["runs/iris/small/lr0.05/seed1", "problem"] == "missing model.keras"
    assert runs.loc["runs/iris/small/lr0.05/seed0", ["status", "problem"]].tolist() == ["finished", ""]
    cells = out["cells"].set_index(["dataset", "hparams"])
    assert cells.loc[("goodbad", "lr0.05"), "n_damaged"] == 1 and cells.loc[("goodbad", "lr0.05"), "n"] == 1
    assert cells.loc[("iris", "lr0.05"), "n"] == 2
    for name in ("runs.csv", "summary.csv", "summary.md", "summary.tex", "compute.json"):
        assert (results / "summary" / name).stat().st_size > 0
    assert json.loads((results / "summary" / "compute.json").read_text())["damaged"] == 1
    on_disk = pd.read_csv(results / "summary" / "runs.csv").set_index("path")
    assert on_disk.loc["runs/goodbad/small/lr0.05/seed0", "status"] == "damaged"
