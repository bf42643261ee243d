"""(c) Planning: `snakemake -n` on generated grid configs of 1,000 to 100,000 runs.

Per-run cost = wall time / runs; it must not grow with the sweep. Each size's planning steps
(validate_config, expand_runs, plan_jobs, job_params: what workflow/rules/common.smk runs
before Snakemake builds its DAG) are also timed in-process, to show where the time goes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import measured
import yaml

sys.path.insert(0, str(measured.REPO / "scripts"))

LEARNING_RATES = [0.001, 0.003, 0.01, 0.03, 0.1]


def grid_config(n_runs: int, runs_per_job: int | None = None) -> dict:
    """A config of exactly `n_runs` runs: data sets x architectures x 5 learning rates x seeds."""
    n_datasets = n_archs = 10 if n_runs >= 1000 else 2
    cell = n_datasets * n_archs * len(LEARNING_RATES)
    n_seeds = n_runs // cell
    if n_seeds < 1 or n_seeds * cell != n_runs:
        raise ValueError(f"planning benchmark: {n_runs} runs is not a multiple of {cell}; choose another size")
    return {
        "datasets": {
            f"ds{i}": {"source": "synthetic", "n_samples": 1000, "n_features": 20, "seed": i} for i in range(n_datasets)
        },
        "architectures": {f"mlp{i}": {"hidden": [16 * (i + 1), 16]} for i in range(n_archs)},
        "grid": {"learning_rate": LEARNING_RATES},
        "seeds": list(range(n_seeds)),
        **({"execution": {"runs_per_job": runs_per_job}} if runs_per_job else {}),
    }


def _dry_run(cfg: dict, workdir: Path, name: str) -> measured.Finished:
    sweepdir = workdir / name
    (sweepdir / "config").mkdir(parents=True, exist_ok=True)
    (sweepdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = measured.snakemake_cmd(sweepdir, 2, "-n")
    return measured.run(cmd, workdir / f"{name}.log", cwd=sweepdir).check("snakemake -n")


def planning_steps(cfg: dict) -> dict:
    """Seconds of each planning step of common.smk, in this process (imports excluded)."""
    from mlpsweep.config import validate_config
    from mlpsweep.grid import expand_runs, job_params, plan_jobs

    out = {}
    t0 = time.perf_counter()
    sweep = validate_config(cfg, source="bench")
    out["validate_config"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    runs = expand_runs(sweep)
    out["expand_runs"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    jobs = plan_jobs(runs, sweep["execution"]["runs_per_job"], sweep["execution"]["pack_size"])
    out["plan_jobs"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for job in jobs:
        job_params(job)
    out["job_params"] = time.perf_counter() - t0
    return {"seconds": out, "runs": len(runs), "jobs": len(jobs)}


def _steps_in_process(cfg: dict, workdir: Path, name: str) -> dict:
    """planning_steps in a fresh process, as Snakemake's own parse of the Snakefile runs them."""
    path, out = workdir / f"{name}.config.json", workdir / f"{name}.steps.json"
    path.write_text(json.dumps(cfg))
    measured.run([sys.executable, __file__, str(path), str(out)], workdir / f"{name}.steps.log").check("planning steps")
    return json.loads(out.read_text())


def measure(sizes: list[int], workdir: Path) -> dict:
    """Wall time of `snakemake -n` (parse, validate, expand the grid, plan jobs and packs,
    build the DAG) per size, and the in-process time of the project's planning steps."""
    startup = measured.run([measured.SNAKEMAKE, "--version"], workdir / "snakemake-version.log")
    out = {"snakemake_startup_s": startup.seconds, "sizes": {}}
    for n in sizes:
        print(f"    (c) snakemake -n, {n:,} runs", file=sys.stderr, flush=True)
        cfg = grid_config(n)
        done = _dry_run(cfg, workdir, f"planning-{n}")
        steps = _steps_in_process(cfg, workdir, f"planning-{n}")
        out["sizes"][str(n)] = {
            "runs": n,
            "jobs": steps["jobs"],
            "seconds": done.seconds,
            "cpu_seconds": done.cpu_seconds,
            "max_rss_mb": done.max_rss_mb,
            "per_run_ms": 1000 * done.seconds / n,
            "per_run_ms_after_startup": 1000 * (done.seconds - startup.seconds) / n,
            "steps_s": steps["seconds"],
        }
    first, last = out["sizes"][str(sizes[0])], out["sizes"][str(sizes[-1])]
    out["growth"] = last["per_run_ms"] / first["per_run_ms"]
    out["growth_after_startup"] = last["per_run_ms_after_startup"] / first["per_run_ms_after_startup"]
    return out


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(json.dumps(planning_steps(json.loads(Path(sys.argv[1]).read_text()))))
