"""(f) estimate: how close `--config estimate=1` comes to what the sweep then records.

A first sweep (the seeds of one learning rate, one job, one pack) is estimated before it
trains (nothing is recorded yet: the estimate calibrates on this machine, as
`--config estimate=calibrate` does) and then trained
through the real workflow. The sweep then grows by a second learning rate; the estimate,
now from the first sweep's records, is asked again and the new runs are trained. For each
estimate: its training seconds ÷ the `fit_seconds` the runs then record, and its device
seconds ÷ the training job's wall time (Snakemake's benchmark file of it).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import fit_speed
import measured
import yaml

# The estimate, as scripts/estimate.py makes it under estimate=calibrate, printed as JSON by a fresh process.
ESTIMATE = """
import json, sys
from pathlib import Path
import yaml
from mlpsweep.config import validate_config
from mlpsweep.estimate import estimate
from mlpsweep.grid import expand_runs, plan_jobs
sweepdir = Path(sys.argv[1])
sweep = validate_config(yaml.safe_load((sweepdir / "config" / "config.yaml").read_text()), source="bench")
ex = sweep["execution"]
print(json.dumps(estimate(sweep, plan_jobs(expand_runs(sweep), ex["runs_per_job"], ex["pack_size"]), sweepdir / "results")))
"""


def sweep_config(sizes: dict, learning_rates: list[float]) -> dict:
    n_seeds = len(sizes["seeds"])
    return {
        "datasets": {
            "eeg": {"source": "synthetic", "n_samples": sizes["n_samples"], "n_features": 32, "n_classes": 4, "seed": 0}
        },
        "architectures": {"notebook": {"hidden": [32, 64, 64]}},
        "grid": {"learning_rate": learning_rates},
        "training": {"epochs": sizes["epochs"], "batch_size": 32},
        "seeds": sizes["seeds"],
        "execution": {"runs_per_job": n_seeds, "pack_size": n_seeds, "threads": 1},
    }


def _estimate(sweepdir: Path, log: Path) -> dict:
    done = measured.run([sys.executable, "-c", ESTIMATE, str(sweepdir)], log).check("estimate")
    return json.loads(done.output().strip().splitlines()[-1])


def _train(sweepdir: Path, log: Path) -> None:
    cmd = [*measured.snakemake_cmd(sweepdir, 1), "--omit-from", "plots"]
    measured.run(cmd, log, cwd=sweepdir).check("snakemake sweep")


def _recorded(results: Path, before: set[str]) -> tuple[dict, set[str]]:
    """fit_seconds of the runs new since `before`, and the wall time of the training jobs new since then."""
    runs = {
        p.parent.relative_to(results).as_posix(): json.loads(p.read_text())
        for p in results.glob("runs/*/*/*/*/metrics.json")
    }
    new = {k: v for k, v in runs.items() if k not in before}
    walls = []
    for tsv in results.glob("benchmarks/train/*.tsv"):
        manifest = json.loads((results / "jobs" / f"{tsv.stem}.json").read_text())["runs"]
        if set(manifest) & set(new):
            with open(tsv, encoding="utf-8") as fh:
                walls.append(float(next(csv.DictReader(fh, delimiter="\t"))["s"]))
    fit = sum(r["metrics"]["fit_seconds"] for r in new.values())
    return {"runs": len(new), "training_s": fit, "device_s": sum(walls), "jobs": len(walls)}, set(runs)


def _compare(est: dict, actual: dict, source: str) -> dict:
    return {
        "source": source,
        "runs": est["runs_to_train"],
        "estimated_training_s": est["training_seconds"],
        "recorded_training_s": actual["training_s"],
        "training_ratio": est["training_seconds"] / actual["training_s"],
        "estimated_device_s": est["device_seconds"],
        "recorded_device_s": actual["device_s"],
        "device_ratio": est["device_seconds"] / actual["device_s"],
        "startup_s": est["startup_seconds_per_job"],
        "from": est["by_kind"][0]["source"],
    }


def measure(sizes: dict, workdir: Path) -> dict:
    sizes = {**sizes, "n_samples": sizes.get("n_samples") or fit_speed.samples_for(sizes["n_train"])}
    sweepdir = workdir / "estimate"
    (sweepdir / "config").mkdir(parents=True, exist_ok=True)
    results = sweepdir / "results"
    out = {"runs_per_phase": len(sizes["seeds"]), "n_samples": sizes["n_samples"], "epochs": sizes["epochs"]}
    before: set[str] = set()
    for phase, rates, source in (("calibrated", [0.01], "calibrated"), ("measured", [0.01, 0.05], "measured")):
        (sweepdir / "config" / "config.yaml").write_text(yaml.safe_dump(sweep_config(sizes, rates), sort_keys=False))
        est = _estimate(sweepdir, workdir / f"estimate-{phase}.log")
        _train(sweepdir, workdir / f"estimate-train-{phase}.log")
        actual, before = _recorded(results, before)
        if actual["runs"] != est["runs_to_train"] or not est["by_kind"][0]["source"].startswith(source):
            raise RuntimeError(
                f"(f) {phase}: the estimate covered {est['runs_to_train']} runs ({est['by_kind'][0]['source']}), the sweep trained {actual['runs']}"
            )
        out[phase] = _compare(est, actual, source)
    return out
