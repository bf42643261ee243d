"""Benchmarks of mlpsweep, each figure a ratio or a time measured side by side in one run.

    .venv/bin/python bench/run.py            # full sizes (a few minutes), writes bench/RESULTS.md
    .venv/bin/python bench/run.py --quick    # tiny sizes: checks that the harness works

(a) fit: the project's fit_run vs the notebook's plain model.fit, same data, model, hyperparameters
(b) sweep: 3 data sets x 4 architectures x 3 seeds through Snakemake vs one process per core
(c) planning: `snakemake -n` on a generated grid of 10,000 runs
(d) summary: collect_runs + write_summary over 10,000 generated run directories
(e) memory: peak RSS of one training job process
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import fit_speed
import machine
import planning_time
import summary_time
import sweep_overhead

BENCH = Path(__file__).resolve().parent
SIZES = {
    "full": {
        "fit": {"n_train": 20000, "n_features": 32, "n_classes": 4, "epochs": 5, "seeds": [0, 1, 2]},
        "sweep": {"n_samples": fit_speed.samples_for(20000), "epochs": 5, "seeds": [0, 1, 2]},
        "plan_runs": 10000,
        "summary_runs": 10000,
        "repeats": 2,
    },
    "quick": {
        "fit": {"n_train": 300, "n_features": 8, "n_classes": 4, "epochs": 1, "seeds": [0, 1, 2]},
        "sweep": {"n_samples": 200, "epochs": 1, "seeds": [0], "datasets": 2, "architectures": 2},
        "plan_runs": 160,
        "summary_runs": 160,
        "repeats": 1,
    },
}
TARGETS = {"a": "≥ 4× faster, accuracy within 0.5 points", "b": "≤ 1.3× the lower bound", "c": "≤ 5 s", "d": "≤ 5 s", "e": "≤ 800 MB"}


def measure_all(sizes: dict, workdir: Path, only: str) -> dict:
    cores = machine.describe()["cores"]
    found = {}
    steps = {
        "a": lambda: fit_speed.measure(sizes["fit"], workdir, sizes["repeats"]),
        "b": lambda: sweep_overhead.measure(sizes["sweep"], workdir, cores, sizes["repeats"]),
        "c": lambda: planning_time.measure(sizes["plan_runs"], workdir),
        "d": lambda: summary_time.measure(sizes["summary_runs"], workdir),
    }
    for key, step in steps.items():
        if key in only or (key == "b" and "e" in only):
            load = os.getloadavg()[0]
            print(f"({key}) measuring ...", file=sys.stderr, flush=True)
            found[key] = {**step(), "load_before": load, "load_after": os.getloadavg()[0]}
    return found


def rows(found: dict) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) per figure."""
    out = []
    if "a" in found:
        a = found["a"]
        met = a["speedup"] >= 4 and abs(a["accuracy_gap_points"]) <= 0.5
        project = [r["seconds"] for r in a["per_seed"]["project"]]
        later = f"; first run in a process {project[0]:.2f} s, later runs {sum(project[1:]) / len(project[1:]):.2f} s" if len(project) > 1 else ""
        out.append(("(a) fit: notebook `model.fit` ÷ project `fit_run`", f"**{a['speedup']:.1f}×** ({a['notebook_fit_s']:.2f} s vs {a['project_fit_run_s']:.2f} s per run, mean of {len(project)} seeds{later}); test accuracy {100 * a['notebook_accuracy']:.2f}% vs {100 * a['project_accuracy']:.2f}% ({a['accuracy_gap_points']:+.2f} points)", TARGETS["a"], met))
    if "b" in found:
        b = found["b"]
        out.append(("(b) sweep: Snakemake ÷ lower bound", f"**{b['ratio_to_tables']:.2f}×** to the summary tables ({b['snakemake_to_tables_s']:.1f} s vs {b['lower_bound_s']:.1f} s, {b['runs']} runs, {b['cores']} cores); {b['ratio']:.2f}× with plots ({b['snakemake_s']:.1f} s)", TARGETS["b"], b["ratio_to_tables"] <= 1.3))
    if "c" in found:
        c = found["c"]
        out.append(("(c) planning: `snakemake -n`", f"**{c['seconds']:.1f} s** for {c['runs']:,} runs in {c['jobs']:,} jobs (CPU {c['cpu_seconds']:.1f} s; {c['bigger_jobs_seconds']:.1f} s with runs_per_job {c['bigger_jobs_runs_per_job']}; `snakemake --version` alone {c['snakemake_startup_s']:.1f} s)", TARGETS["c"], c["seconds"] <= 5))
    if "d" in found:
        d = found["d"]
        out.append(("(d) summary: collect_runs + write_summary", f"**{d['aggregate_s']:.1f} s** for {d['runs']:,} runs ({d['process_s']:.1f} s as a process with its imports, CPU {d['process_cpu_s']:.1f} s)", TARGETS["d"], d["aggregate_s"] <= 5))
    if "b" in found:
        b = found["b"]
        out.append(("(e) memory: peak RSS of one training job", f"**{b['job_max_rss_mb']:.0f} MB** ({b['runs_per_job']} runs; Snakemake's benchmark: {b['snakemake_train_max_rss_mb']:.0f} MB)", TARGETS["e"], b["job_max_rss_mb"] <= 800))
    return out


def notes(found: dict) -> list[str]:
    """How to read the figures, with the numbers that explain them."""
    repeats = max((found[k].get("repeats", 1) for k in ("a", "b") if k in found), default=1)
    kept = f"(a) and (b) keep the fastest of {repeats} alternating repetitions of each side; all repetitions are in the JSON below. " if repeats > 1 else ""
    out = [f"- A shared machine: other people's jobs ran at the same time (see the load average), and they slow each side by different amounts. {kept}Re-run `bench/run.py` on a quiet machine for cleaner figures."]
    if "a" in found:
        out.append("- (a) compares the notebook's `model.fit` alone with all of `fit_run`: training, validation after every epoch, a checkpoint after every epoch, and metrics on the three splits. The first run of a kind in a process traces the compiled steps; a job's later runs of that kind reuse them.")
    if "b" in found:
        plots = found["b"]["snakemake_jobs"].get("plots", {}).get("seconds")
        if plots is not None:
            out.append(f"- (b) The lower bound only trains, so the ratio is taken when the summary tables are written. Drawing the plots afterwards (rule `plots`, {plots:.1f} s: a PNG and a PDF per figure, one learning-curve figure per cell) is extra work, shown in the second ratio.")
    if "c" in found:
        out.append("- (c) Most of the planning time is Snakemake's own work per job (the DAG, resources, the listing of each job); the grid expansion is about 0.1 s of it. Fewer, larger jobs plan faster, as the second figure shows.")
    if "e" in found or "b" in found:
        out.append("- (e) Importing TensorFlow alone takes about 650 MB of that; a job keeps at most 8 compiled model kinds.")
    return out


def render(found: dict, description: dict, mode: str, seconds: float) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `.venv/bin/python bench/run.py{' --quick' if mode == 'quick' else ''}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} min.",
        "",
        "| Figure | Measured | Target | Met |",
        "| --- | --- | --- | --- |",
    ]
    for figure, measured, target, met in rows(found):
        lines.append(f"| {figure} | {measured} | {target} | {'yes' if met else 'no'} |")
    lines += ["", "Machine: " + "; ".join(f"{k} {v}" for k, v in description.items()), ""]
    loads = {k: f"{v['load_before']:.1f} → {v['load_after']:.1f}" for k, v in found.items()}
    lines += ["Load average (1 min) before → after each figure: " + ", ".join(f"({k}) {v}" for k, v in loads.items()), ""]
    lines += ["Notes:", "", *notes(found), ""]
    lines += ["<details><summary>All numbers (JSON)</summary>", "", "```json", json.dumps(found, indent=1, default=str), "```", "</details>", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of the harness, numbers not meaningful")
    parser.add_argument("--only", default="abcde", help="figures to measure, e.g. 'ac' (default: abcde)")
    parser.add_argument("--output", type=Path, help="Markdown results file (default: bench/RESULTS.md for full runs, none for --quick)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (sweeps, logs) for inspection")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    output = args.output or (None if args.quick else BENCH / "RESULTS.md")
    workdir = Path(tempfile.mkdtemp(prefix="mlpsweep-bench-"))
    description = machine.describe()
    print("Machine: " + "; ".join(f"{k} {v}" for k, v in description.items()), file=sys.stderr)
    t0 = time.perf_counter()
    try:
        found = measure_all(SIZES[mode], workdir, args.only)
    finally:
        if args.keep:
            print(f"working directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = render(found, description, mode, time.perf_counter() - t0)
    print(text)
    if output:
        output.write_text(text, encoding="utf-8")
        print(f"written: {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
