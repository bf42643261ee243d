"""Nothing finished is retrained by an upgrade: results made by release 0.1 (tests/data/release-0.1)
are run again with today's code and the same sweep file, and none of their runs trains."""

import re
import shutil

import pytest

from conftest import run_snakemake

from pathlib import Path

pytestmark = pytest.mark.workflow
RELEASE_01 = Path(__file__).parent / "data" / "release-0.1"


def snapshot(results: Path) -> dict:
    return {p.relative_to(results).as_posix(): p.read_bytes() for p in sorted((results / "runs").rglob("*")) if p.is_file()}


def test_results_of_release_01_are_not_trained_again(tmp_path):
    workdir = tmp_path / "sweep"
    shutil.copytree(RELEASE_01, workdir)
    before = snapshot(workdir / "results")
    assert len([p for p in before if p.endswith("metrics.json")]) == 8
    run_snakemake(workdir, "--configfile", "sweep.yaml", "--omit-from", "plots")
    assert snapshot(workdir / "results") == before  # no run directory changed, none was added
    logs = "".join(p.read_text() for p in (workdir / "results" / "logs" / "train").glob("*.log"))
    assert logs.count("already finished with this config and data; not training again") == 8
    assert "pack pack-" not in logs  # no pack was formed: nothing trained
    summary = (workdir / "results" / "summary" / "summary.md").read_text()
    assert "| table | small | optadam | 1/1 |" in summary

    # A key added with its backward-compatible default changes no identity and re-runs no job.
    sweep = (workdir / "sweep.yaml").read_text()
    (workdir / "sweep.yaml").write_text(sweep.replace("  batch_size: 16\n", "  batch_size: 16\n  class_weight: none\n") + "split: {method: holdout}\n")
    proc = run_snakemake(workdir, "--configfile", "sweep.yaml", "--omit-from", "plots")
    out = proc.stdout + proc.stderr
    assert "rule train:" not in out and not re.search(r"^train\s+\d+$", out, re.M), out[-3000:]  # no training job was even started
    assert snapshot(workdir / "results") == before
