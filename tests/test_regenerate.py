"""Regeneration mode: tables, plots and report from stored runs alone, byte-identical, never training."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fakes import write_run

from conftest import REPO, snakemake_cmd, tiny_config, write_config
from mlpsweep.config import validate_config
from mlpsweep.grid import expand_runs

pytestmark = pytest.mark.workflow

REGENERATE = ("--config", "regenerate=1", "--forceall")
TABLES = (
    "runs.csv",
    "summary.csv",
    "summary.md",
    "summary.tex",
    "by_group.csv",
    "by_group.md",
    "compute.json",
    "selected.csv",
    "selected.md",
    "selected.tex",
)


def snakemake(repo: Path, workdir: Path, *args: str) -> str:
    """Run the workflow of `repo` (a checkout or a copy of one) in `workdir`; stdout and stderr."""
    cmd = snakemake_cmd(workdir, *args, repo=repo)
    proc = subprocess.run(
        cmd, cwd=workdir, capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    return output


def scheduled_jobs(output: str) -> set[str]:
    """Rule names in the 'Job stats' table(s) Snakemake prints before running."""
    names = set()
    for table in re.findall(r"Job stats:\njob\s+count\n-+\s+-+\n(.*?)\ntotal", output, flags=re.S):
        names |= {line.split()[0] for line in table.splitlines() if line.strip()}
    return names


def outputs(results: Path) -> dict[str, bytes]:
    """Every table and figure file by its path under results/ (Snakemake's own markers left out)."""
    files = (
        [results / "summary" / name for name in TABLES]
        + sorted((results / "plots").rglob("*.p*"))
        + sorted(p for p in (results / "best").rglob("*") if p.is_file())
    )
    return {f.relative_to(results).as_posix(): f.read_bytes() for f in files}


def pin_report(path: Path) -> bytes:
    """The report after the documented pinning step (scripts/pin_report_times.py)."""
    subprocess.run([sys.executable, str(REPO / "scripts" / "pin_report_times.py"), str(path)], check=True, cwd=REPO)
    return path.read_bytes()


def run_files(results: Path) -> dict[str, int]:
    return {
        p.relative_to(results).as_posix(): p.stat().st_mtime_ns for p in (results / "runs").rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A finished tiny sweep, run with a private copy of the workflow and scripts that tests may edit."""
    repo = tmp_path_factory.mktemp("checkout")
    for name in ("workflow", "scripts", "profiles"):
        shutil.copytree(REPO / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    workdir = tmp_path_factory.mktemp("sweep")
    write_config(
        workdir, tiny_config(training={"epochs": 1, "batch_size": 32}, execution={"runs_per_job": 4, "threads": 1})
    )
    snakemake(repo, workdir)
    return repo, workdir, outputs(workdir / "results")


def test_sweep_draws_every_plot(sweep):
    _, workdir, original = sweep
    names = set(original)
    assert {
        "plots/heatmap.png",
        "plots/heatmap.pdf",
        "plots/compute.png",
        "plots/bars/iris.png",
        "plots/confusion/goodbad.pdf",
    } <= names
    curves = sorted(n for n in names if n.startswith("plots/learning_curves/"))  # the best cell of each data set
    assert (
        len(curves) == 4
        and {c.split("/")[2] for c in curves} == {"goodbad", "iris"}
        and {c.rsplit(".", 1)[1] for c in curves} == {"png", "pdf"}
    )
    assert (workdir / "results" / "logs" / "plots.log").is_file() and (
        workdir / "results" / "benchmarks" / "plots.tsv"
    ).is_file()


def test_summary_and_plots_logs_show_their_progress(sweep):
    """Plain progress lines in the rules' logs (Snakemake captures stderr: no bar), no timing in any output."""
    _, workdir, original = sweep
    logs = workdir / "results" / "logs"
    summary = (logs / "summarize.log").read_text()
    steps = re.findall(r"INFO summary: (.*)", summary)
    assert steps[:7] == [
        "reading run directories",
        "tables",
        "tests and permutations",
        "tables",
        "writing",
        "selection",
        "best models",
    ], summary
    assert re.fullmatch(
        r"done in \d+\.\d s \(reading run directories \d+\.\d s, tables \d+\.\d s, tests and permutations \d+\.\d s, writing \d+\.\d s, selection \d+\.\d s, best models \d+\.\d s\)",
        steps[7],
    ), summary
    assert (
        re.search(r"INFO read 8 of 8 run directories \(100 %\), \d+\.\d s$", summary, re.M)
        and "█" not in summary + (logs / "plots.log").read_text()
    )
    figures = sum(1 for name in original if name.startswith("plots/") and name.endswith(".png"))
    assert re.search(
        rf"INFO drew {figures} of {figures} figures \(100 %\), \d+\.\d s$", (logs / "plots.log").read_text(), re.M
    )
    assert not any(b"summary: " in data or b"of 8 run directories" in data for data in original.values())


def test_regenerate_trains_nothing_after_code_and_config_edits(sweep):
    repo, workdir, original = sweep
    results = workdir / "results"
    before = run_files(results)
    training = repo / "scripts" / "mlpsweep" / "training.py"
    training.write_text(training.read_text() + "\n# edited after the sweep: must not retrain in regeneration mode\n")
    for name in ("scripts/train.py", "scripts/mlpsweep/model.py", "scripts/mlpsweep/data/splits.py"):
        (repo / name).touch()
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    config["training"]["epochs"] = 3
    write_config(workdir, config)
    assert "train" in scheduled_jobs(snakemake(repo, workdir, "--dry-run"))  # a normal run would retrain now

    first = snakemake(repo, workdir, *REGENERATE)
    assert "train" not in scheduled_jobs(first) and {"summarize", "plots"} <= scheduled_jobs(first)
    assert run_files(results) == before  # no run directory touched, none added
    assert outputs(results) == original

    second = snakemake(repo, workdir, *REGENERATE)
    assert "train" not in scheduled_jobs(second)
    assert outputs(results) == original
    assert yaml.safe_load((results / "summary" / "config.yaml").read_text())["training"]["epochs"] == 3


def test_regenerate_from_results_copied_elsewhere_and_report(sweep, tmp_path):
    """A fresh checkout (the repository's own workflow) and the results directory alone."""
    _, workdir, original = sweep
    fresh = tmp_path / "another" / "checkout"
    shutil.copytree(workdir / "results" / "runs", fresh / "results" / "runs")
    write_config(fresh, tiny_config(training={"epochs": 9}))  # a different training section: irrelevant here
    output = snakemake(REPO, fresh, *REGENERATE)
    assert "train" not in scheduled_jobs(output)
    assert outputs(fresh / "results") == original

    snakemake(REPO, fresh, "--config", "regenerate=1", "--report", "results/report.html")
    html = (fresh / "results" / "report.html").read_text()
    for item in (
        "summary.csv",
        "summary.md",
        "summary.tex",
        "runs.csv",
        "by_group.csv",
        "by_group.md",
        "compute.json",
        "selected.md",
        "config.yaml",
        "heatmap.png",
        "compute.png",
        "iris.png",
        "default.png",
    ):
        assert item in html, item
    for text in (
        "Tables",
        "Per group",
        "Selected without peeking",
        "Cawley",
        "Plots",
        "Compute",
        "Configuration",
        "Learning curves",
        "Confusion matrices",
        "95% confidence intervals",
        "paired t-test",
        "Combrisson",
        "regenerate=1",
    ):
        assert text in html, text
    assert str(tmp_path) not in html

    # Again from scratch: once Snakemake's job times are pinned, the report is byte-identical.
    snakemake(REPO, fresh, *REGENERATE)
    snakemake(REPO, fresh, "--config", "regenerate=1", "--report", "results/again.html")
    assert (fresh / "results" / "again.html").read_bytes() != (fresh / "results" / "report.html").read_bytes()
    assert pin_report(fresh / "results" / "again.html") == pin_report(fresh / "results" / "report.html")


def test_regenerate_partial_results_marks_failed_cells(sweep, tmp_path):
    _, workdir, _ = sweep
    partial = tmp_path / "partial"
    shutil.copytree(workdir / "results" / "runs", partial / "results" / "runs")
    write_config(partial, tiny_config())
    for seed in (0, 1):
        shutil.rmtree(partial / "results" / "runs" / "iris" / "small" / "default" / f"seed{seed}")
        write_run(partial / "results", "iris", "small", seed=seed, status="failed")
    shutil.rmtree(partial / "results" / "runs" / "goodbad" / "deep" / "default" / "seed1")

    snakemake(REPO, partial, *REGENERATE)
    results = partial / "results"
    summary = (results / "summary" / "summary.md").read_text()
    assert "| iris | small | default | 0/2 | failed |" in summary
    assert "| goodbad | deep | default | 1/1 |" in summary  # a run directory that is gone is not a run
    plots = results / "plots"
    assert not (plots / "learning_curves" / "iris" / "small").exists()
    assert len(list((plots / "learning_curves" / "goodbad").rglob("*.png"))) == 1  # its best cell's
    assert {p.name for p in (plots / "bars").iterdir()} >= {"iris.png", "goodbad.png"}


def test_regenerate_cross_validated_runs_with_groups_and_permutations(tmp_path):
    """Tables, per-group table and plots of a group-wise cross-validated sweep with permutation
    runs, from run directories laid out by the grid itself (written by the fake-run builder)."""
    cfg = tiny_config(
        datasets={"eeg": {"source": "synthetic", "n_samples": 200, "n_features": 4, "seed": 1}},
        architectures={"small": {"hidden": [4]}},
        split={"method": "kfold", "folds": 2},
        summary={"permutations": 3},
    )
    write_config(tmp_path, cfg)
    for run in expand_runs(validate_config(cfg)):
        accuracy = 0.5 + 0.01 * run.permutation if run.permutation else 0.8 + 0.01 * run.seed
        groups = {f"s{run.fold}a": (25, 20), f"s{run.fold}b": (25, 19 + run.seed)}
        write_run(
            tmp_path / "results",
            run.dataset,
            run.architecture,
            run.hparams,
            seed=run.seed,
            fold=run.fold,
            permutation=run.permutation,
            accuracy=accuracy,
            class_counts=(25, 25),
            groups=groups,
        )
    output = snakemake(REPO, tmp_path, *REGENERATE)
    assert "train" not in scheduled_jobs(output)
    summary = tmp_path / "results" / "summary"
    md = (summary / "summary.md").read_text()
    assert (
        md.splitlines()[0]
        == "| Data set | Architecture | Hyperparameters | n | Test acc. | Test bal. acc. | Test macro F1 | Perm. p |"
    )
    assert "| eeg | small | default | 4/4 | **0.805 ± 0.006** | 0.805 ± 0.006 | 0.805 ± 0.006 | 0.250 |" in md
    assert (
        "Chance level of eeg: majority class 0.500; above chance (p < 0.05) means above 0.580 (100 test trials per seed, 2 classes)."
        in md
    )
    assert (summary / "by_group.md").read_text().splitlines()[2:4] == [
        "| eeg | small | default | s0a | 0.800 ± 0.000 | 2 | 50 |",
        "| eeg | small | default | s0b | 0.780 ± 0.028 | 2 | 50 |",
    ]
    assert (tmp_path / "results" / "plots" / "bars" / "eeg.png").is_file()
