"""(b) A whole sweep through Snakemake against its lower bound, with packing on.

Lower bound: one process per core, each importing TensorFlow once and training its share of
the runs, pack after pack, with mlpsweep.jobs.run_job (the same packs and jobs Snakemake
plans), nothing else.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import sys
import time
from pathlib import Path

import measured
import yaml

sys.path.insert(0, str(measured.REPO / "scripts"))

ARCHITECTURES = {  # the notebook's model and three common variations
    "notebook": {"hidden": [32, 64, 64]},
    "wide": {"hidden": [128]},
    "deep": {"hidden": [32, 32, 32, 32]},
    "dropout": {"hidden": [64, 64], "dropout": 0.2},
}


def sweep_config(sizes: dict, cores: int) -> dict:
    """3 data sets x 4 architectures x 3 seeds, the notebook's training; one job per core.

    Packing is on with the schema's default pack_size (16): a pack holds runs of one data set
    and architecture, so each cell's 3 seeds make one pack, 12 packs in all.
    """
    n = sizes["n_samples"]
    datasets = {
        "blobs4": {"source": "synthetic", "n_samples": n, "n_features": 32, "n_classes": 4, "seed": 0},
        "blobs2": {
            "source": "synthetic",
            "n_samples": n,
            "n_features": 32,
            "n_classes": 2,
            "separation": 1.0,
            "seed": 1,
        },
        "blobs8": {
            "source": "synthetic",
            "n_samples": n,
            "n_features": 32,
            "n_classes": 8,
            "separation": 2.0,
            "seed": 2,
        },
    }
    n_datasets, n_archs = sizes.get("datasets", 3), sizes.get("architectures", 4)
    n_runs = n_datasets * n_archs * len(sizes["seeds"])
    return {
        "datasets": dict(list(datasets.items())[:n_datasets]),
        "architectures": dict(list(ARCHITECTURES.items())[:n_archs]),
        "training": {
            "optimizer": "sgd",
            "learning_rate": 0.01,
            "batch_size": 32,
            "epochs": sizes["epochs"],
            "eval_batch_size": 128,
        },
        "seeds": sizes["seeds"],
        "execution": {"runs_per_job": math.ceil(n_runs / cores), "threads": 1},
    }


def _lower_bound(cfg: dict, workdir: Path, tag: str) -> dict:
    """One process per job (a job per core), in parallel, each run_job over its consecutive share of the runs."""
    from mlpsweep.config import validate_config
    from mlpsweep.grid import expand_runs, job_params, plan_jobs

    sweep = validate_config(cfg, source="bench")
    execution = sweep["execution"]
    jobs = plan_jobs(expand_runs(sweep), execution["runs_per_job"], execution["pack_size"])
    results = workdir / f"lower-bound-{tag}"
    results.mkdir(parents=True, exist_ok=True)
    (results / "sweep.json").write_text(json.dumps(sweep))
    code = "import json, sys; from mlpsweep.jobs import run_job, setup_logging; setup_logging(None); sys.exit(run_job(json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))['packs'], sys.argv[3], sys.argv[4], threads=1))"
    started = []
    for job in jobs:
        params = results / f"{job.key}.params.json"
        params.write_text(json.dumps(job_params(job)))
        cmd = [
            sys.executable,
            "-c",
            code,
            str(results / "sweep.json"),
            str(params),
            str(results),
            str(results / "jobs" / f"{job.key}.json"),
        ]
        started.append(measured.start(cmd, results / f"{job.key}.log"))
    t0 = min(t for _, t in started)
    done = [
        measured.finish(proc, t, results / f"{job.key}.log").check("lower-bound training job")
        for job, (proc, t) in zip(jobs, started)
    ]
    return {
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": sum(d.cpu_seconds for d in done),
        "jobs": len(jobs),
        "packs": [len(p) for job in jobs for p in job.packs],
        "max_rss_mb": max(d.max_rss_mb for d in done),
    }


def _benchmarks(results: Path) -> dict:
    """Snakemake's benchmark: files: seconds and max RSS per rule."""
    out = {}
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        with open(tsv, encoding="utf-8") as fh:
            row = next(csv.DictReader(fh, delimiter="\t"))
        rule = "train" if "train" in tsv.parts else tsv.stem
        entry = out.setdefault(rule, {"jobs": 0, "seconds": [], "max_rss_mb": []})
        entry["jobs"] += 1
        entry["seconds"].append(float(row["s"]))
        entry["max_rss_mb"].append(float(row["max_rss"]) if row["max_rss"] not in ("", "NA", "-") else math.nan)
    return out


def _snakemake(cfg: dict, workdir: Path, cores: int, tag: str) -> dict:
    """The real workflow, end to end (rule all), in its own directory."""
    sweepdir = workdir / f"snakemake-{tag}"
    (sweepdir / "config").mkdir(parents=True, exist_ok=True)
    (sweepdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = measured.snakemake_cmd(sweepdir, cores)
    started = time.time()
    done = measured.run(cmd, workdir / f"snakemake-{tag}.log", cwd=sweepdir).check("snakemake sweep")
    tables = (sweepdir / "results" / "summary" / "summary.md").stat().st_mtime - started
    return {
        "seconds": done.seconds,
        "cpu_seconds": done.cpu_seconds,
        "to_tables_s": tables,
        "rules": _benchmarks(sweepdir / "results"),
    }


def measure(sizes: dict, workdir: Path, cores: int, repeats: int = 1) -> dict:
    """Lower bound and Snakemake alternately, `repeats` times each; the fastest of each counts."""
    from mlpsweep.config import validate_config

    cfg = sweep_config(sizes, cores)
    lowers, smks = [], []
    for rep in range(repeats):
        lowers.append(_lower_bound(cfg, workdir, str(rep)))
        smks.append(_snakemake(cfg, workdir, cores, str(rep)))
        shutil.rmtree(workdir / f"lower-bound-{rep}", ignore_errors=True)
    lower = min(lowers, key=lambda r: r["seconds"])
    smk = min(smks, key=lambda r: r["to_tables_s"])
    return {
        "runs": len(cfg["datasets"]) * len(cfg["architectures"]) * len(cfg["seeds"]),
        "cores": cores,
        "runs_per_job": cfg["execution"]["runs_per_job"],
        "pack_size": validate_config(cfg, source="bench")["execution"]["pack_size"],
        "pack_members": lower["packs"],
        "repeats": repeats,
        "lower_bound_s": lower["seconds"],
        "lower_bound_cpu_s": lower["cpu_seconds"],
        "snakemake_to_tables_s": smk["to_tables_s"],
        "snakemake_s": smk["seconds"],
        "snakemake_cpu_s": smk["cpu_seconds"],
        "ratio_to_tables": smk["to_tables_s"] / lower["seconds"],
        "ratio": smk["seconds"] / lower["seconds"],
        "seconds_by_repeat": {
            "lower_bound": [round(r["seconds"], 2) for r in lowers],
            "snakemake_to_tables": [round(r["to_tables_s"], 2) for r in smks],
            "snakemake": [round(r["seconds"], 2) for r in smks],
        },
        "snakemake_jobs": {
            rule: {"jobs": r["jobs"], "seconds": round(sum(r["seconds"]), 2)} for rule, r in smk["rules"].items()
        },
        "job_max_rss_mb": max(r["max_rss_mb"] for r in lowers),
        "snakemake_train_max_rss_mb": max(
            max(r["rules"].get("train", {"max_rss_mb": [math.nan]})["max_rss_mb"]) for r in smks
        ),
    }
