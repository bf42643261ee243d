"""Every attempt of a job in its log: Snakemake deletes a job's log file before each attempt,
so the job also appends each attempt, under a header, to `attempts/<log>` next to it."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from conftest import REPO, SNAKEMAKE
from mlpsweep.jobs import attempt_header, attempts_log

HEADER = re.compile(
    r"==== attempt (\d) \| (no SLURM job|SLURM job \d+) \| host \S+ \| started \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 ===="
)


def test_attempt_header_names_attempt_slurm_job_host_and_start(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4712")
    assert HEADER.fullmatch(attempt_header(2)).groups() == ("2", "SLURM job 4712")
    assert str(attempts_log("results/logs/train/chunk3.log")) == "results/logs/train/attempts/chunk3.log"


def test_a_retried_job_keeps_both_attempts(tmp_path):
    """A real Snakemake retry: attempt 1 fails, attempt 2 succeeds (no backend: seconds); the
    attempt reaches the script as rule train's does, through a resource."""
    (tmp_path / "job.py").write_text(
        textwrap.dedent(f"""
        import logging, sys
        sys.path.insert(0, {str(REPO / "scripts")!r})
        from mlpsweep.jobs import setup_logging
        setup_logging(snakemake.log[0], attempt=snakemake.resources.attempt)
        logging.getLogger("mlpsweep").info("working, attempt %d", snakemake.resources.attempt)
        if snakemake.resources.attempt == 1:
            sys.exit(1)
        open(snakemake.output[0], "w").write("done")
    """)
    )
    (tmp_path / "Snakefile").write_text(
        'rule job:\n    output: "out.txt"\n    log: "logs/job.log"\n    resources: attempt=lambda wildcards, attempt: attempt\n    script: "job.py"\n'
    )
    proc = subprocess.run(
        [SNAKEMAKE, "--cores", "1", "--retries", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (tmp_path / "logs" / "job.log").read_text()
    assert "working, attempt 2" in log and "attempt 1" not in log  # Snakemake removed attempt 1's log
    kept = (tmp_path / "logs" / "attempts" / "job.log").read_text()
    assert [m.group(1) for m in HEADER.finditer(kept)] == ["1", "2"]
    assert kept.index("working, attempt 1") < kept.index("==== attempt 2") < kept.index("working, attempt 2")
