"""Benchmarks of mlpsweep, each figure a ratio or a time measured side by side in one run.

    .venv/bin/python bench/run.py            # full sizes (about 10 minutes), writes bench/RESULTS.md
    .venv/bin/python bench/run.py --quick    # tiny sizes: checks that the harness works

(a) fit: per-run cost of packs of 1-32 seeds (train_runs) vs the notebook's model.fit
(b) sweep: 3 data sets x 4 architectures x 3 seeds through Snakemake vs one process per core
(c) planning: `snakemake -n` on generated grids of 1,000, 10,000 and 100,000 runs
(d) summary: collect_runs + write_summary over 10,000 generated run directories
(e) memory: peak RSS of the process of (a) that trains packs of 32
(f) estimate: `--config estimate=1` against what the sweep then records
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

import estimate_accuracy
import fit_speed
import machine
import measured
import planning_time
import sweep_overhead

try:  # another change reworks it; the harness runs without it
    import summary_time
except ImportError:
    summary_time = None

BENCH = Path(__file__).resolve().parent
SIZES = {
    "full": {
        "fit": {
            "n_train": 20000,
            "n_features": 32,
            "n_classes": 4,
            "epochs": 5,
            "seeds": [0, 1, 2],
            "pack_sizes": [1, 2, 4, 8, 16, 32],
        },
        "sweep": {"n_samples": fit_speed.samples_for(20000), "epochs": 5, "seeds": [0, 1, 2]},
        "plan_runs": [1000, 10000, 100000],
        "summary_runs": [1000, 10000, 100000],
        "estimate": {"n_train": 20000, "epochs": 5, "seeds": list(range(8))},
        "repeats": 2,
    },
    "quick": {
        "fit": {
            "n_train": 300,
            "n_features": 8,
            "n_classes": 4,
            "epochs": 1,
            "seeds": [0],
            "pack_sizes": [1, 4],
            "fit_threads": ["project"],
        },
        "sweep": {"n_samples": 200, "epochs": 1, "seeds": [0], "datasets": 2, "architectures": 2},
        "plan_runs": [100, 200],
        "summary_runs": [80, 160],
        "estimate": {"n_samples": 300, "epochs": 1, "seeds": [0, 1]},
        "repeats": 1,
    },
}
PACK = 8  # the pack size the targets name
TARGETS = {
    "a_pack": f"pack of {PACK} ≥ 3× cheaper per run than pack size 1",
    "a_release": "pack size 1 no slower per run than release 0.1's `fit_run` (recorded: 0.72 s later runs, 1.06 s mean of 3)",
    "a_notebook": f"pack of {PACK} ≥ 15× cheaper than the notebook's `model.fit`, accuracy within 0.5 points",
    "b": "≤ 1.3× the lower bound",
    "c": "per-run cost at the largest size ≤ 1.5× that at the smallest",
    "d": "per-run cost at 100,000 runs within 1.5× of that at 1,000; ≤ 2× the time of json.load of the same metrics.json files",
    "e": "≤ 1 GB (1024 MB)",
    "f": "estimated training and device seconds within 25 % of what the runs and their job then record",
}
ESTIMATE_TOLERANCE = 0.25


def _import_only_rss(workdir: Path) -> float:
    """Peak RSS of a process that only imports TensorFlow and Keras: the floor of (e)."""
    done = measured.run([sys.executable, "-c", "import tensorflow, keras"], workdir / "import-only.log").check(
        "import tensorflow"
    )
    return done.max_rss_mb


def measure_all(sizes: dict, workdir: Path, only: str) -> dict:
    cores = machine.describe()["cores"]
    found = {}
    steps = {
        "a": lambda: fit_speed.measure(sizes["fit"], workdir, sizes["repeats"]),
        "b": lambda: sweep_overhead.measure(sizes["sweep"], workdir, cores, sizes["repeats"]),
        "c": lambda: planning_time.measure(sizes["plan_runs"], workdir),
        "d": lambda: {
            "sizes": {str(n): summary_time.measure(n, workdir / f"summary-{n}") for n in sizes["summary_runs"]}
        },
        "f": lambda: estimate_accuracy.measure(sizes["estimate"], workdir),
    }
    if summary_time is None:
        steps.pop("d")
    for key, step in steps.items():
        if key in only or (key == "a" and "e" in only):
            load = os.getloadavg()[0]
            print(f"({key}) measuring ...", file=sys.stderr, flush=True)
            found[key] = {**step(), "load_before": load, "load_after": os.getloadavg()[0]}
    if "a" in found:
        largest = max(sizes["fit"]["pack_sizes"])
        found["e"] = {
            "pack_size": largest,
            "max_rss_mb": found["a"]["packs"][str(largest)]["max_rss_mb"],
            "import_only_rss_mb": _import_only_rss(workdir),
            "by_pack_size_mb": {k: p["max_rss_mb"] for k, p in found["a"]["packs"].items()},
        }
    return found


def _pack(a: dict, k: int) -> tuple[int, dict]:
    """Pack size k's figures, or the largest measured below it (quick runs)."""
    k = max(int(s) for s in a["packs"] if int(s) <= k)
    return k, a["packs"][str(k)]


def rows(found: dict) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) per target."""
    out = []
    if "a" in found:
        a = found["a"]
        one = a["packs"][min(a["packs"], key=int)]
        k, pk = _pack(a, PACK)
        out.append(
            (
                f"(a) pack of {k} ÷ pack size 1",
                f"**{pk['speedup_vs_pack1']:.2f}×** ({pk['per_run_s']:.3f} s vs {one['per_run_s']:.3f} s per run; training steps alone {one['warm_fit_per_run_s'] / pk['warm_fit_per_run_s']:.1f}×)",
                TARGETS["a_pack"],
                pk["speedup_vs_pack1"] >= 3,
            )
        )
        ref = a["release_0_1_fit_run"]
        out.append(
            (
                "(a) pack size 1 vs release 0.1",
                f"**{one['per_run_s']:.2f} s** per run (first pack in a process {one['cold_per_run_s']:.2f} s) vs {ref['later_s']:.2f} s (first {ref['first_s']:.2f} s) recorded",
                TARGETS["a_release"],
                one["per_run_s"] <= ref["later_s"],
            )
        )
        nb = a["notebook"]
        out.append(
            (
                f"(a) notebook `model.fit` ÷ pack of {k}",
                f"**{pk['speedup_vs_notebook']:.1f}×** ({nb['per_run_s']:.2f} s vs {pk['per_run_s']:.3f} s per run); test accuracy {100 * nb['accuracy']:.2f}% vs {100 * pk['accuracy']:.2f}% ({pk['accuracy_gap_points']:+.2f} points)",
                TARGETS["a_notebook"],
                pk["speedup_vs_notebook"] >= 15 and abs(pk["accuracy_gap_points"]) <= 0.5,
            )
        )
    if "b" in found:
        b = found["b"]
        out.append(
            (
                "(b) sweep: Snakemake ÷ lower bound",
                f"**{b['ratio_to_tables']:.2f}×** to the summary tables ({b['snakemake_to_tables_s']:.1f} s vs {b['lower_bound_s']:.1f} s, {b['runs']} runs in packs of {max(b['pack_members'])}, {b['cores']} cores); {b['ratio']:.2f}× with plots ({b['snakemake_s']:.1f} s)",
                TARGETS["b"],
                b["ratio_to_tables"] <= 1.3,
            )
        )
    if "c" in found:
        c = found["c"]
        sizes = sorted(c["sizes"].values(), key=lambda s: s["runs"])
        each = "; ".join(f"{s['runs']:,} runs {s['seconds']:.1f} s ({s['per_run_ms']:.3f} ms per run)" for s in sizes)
        out.append(
            (
                "(c) planning: `snakemake -n`, per-run cost",
                f"**{c['growth']:.2f}×** from {sizes[0]['runs']:,} to {sizes[-1]['runs']:,} runs: {each}",
                TARGETS["c"],
                c["growth"] <= 1.5,
            )
        )
    if "d" in found:
        sizes = sorted(found["d"]["sizes"].values(), key=lambda s: s["runs"])
        growth = (sizes[-1]["aggregate_s"] / sizes[-1]["runs"]) / (sizes[0]["aggregate_s"] / sizes[0]["runs"])
        worst = max(s["ratio_to_json_load"] for s in sizes)
        each = "; ".join(
            f"{s['runs']:,} runs {s['aggregate_s']:.2f} s ({1000 * s['aggregate_s'] / s['runs']:.3f} ms per run, {s['ratio_to_json_load']:.2f}× json.load)"
            for s in sizes
        )
        out.append(
            (
                "(d) summary: collect_runs + write_summary",
                f"**{growth:.2f}×** per-run cost from {sizes[0]['runs']:,} to {sizes[-1]['runs']:,} runs, at most **{worst:.2f}×** json.load: {each}",
                TARGETS["d"],
                growth <= 1.5 and worst <= 2,
            )
        )
    if "e" in found:
        e = found["e"]
        out.append(
            (
                f"(e) memory: peak RSS, training packs of {e['pack_size']}",
                f"**{e['max_rss_mb']:.0f} MB** (a process importing TensorFlow and Keras only: {e['import_only_rss_mb']:.0f} MB)",
                TARGETS["e"],
                e["max_rss_mb"] <= 1024,
            )
        )
    if "f" in found:
        m, c = found["f"]["measured"], found["f"]["calibrated"]
        within = all(abs(m[k] - 1) <= ESTIMATE_TOLERANCE for k in ("training_ratio", "device_ratio"))
        text = (
            f"from {c['runs']} finished runs, for {m['runs']} more: training **{m['training_ratio']:.2f}×** ({m['estimated_training_s']:.2f} s vs {m['recorded_training_s']:.2f} s), "
            f"device **{m['device_ratio']:.2f}×** ({m['estimated_device_s']:.1f} s vs {m['recorded_device_s']:.1f} s); before any run (calibrated here): training {c['training_ratio']:.2f}×, device {c['device_ratio']:.2f}× (start-up default {c['startup_s']:.0f} s)"
        )
        out.append(("(f) estimate ÷ recorded", text, TARGETS["f"], within))
    return out


def fit_table(a: dict) -> list[str]:
    """(a) in full: every way of training, its cost per run, ratios and accuracy."""
    nb, spe = a["notebook"], a["spe"]
    n_nb = len(nb["per_seed"])
    lines = [
        "| Way of training | Seconds per run | ÷ notebook | ÷ pack size 1 | Test accuracy (mean) | Peak RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| notebook: build, compile, `model.fit`, evaluate (a new model per seed; {nb['threads']} threads) | {nb['per_run_s']:.2f} (fit alone {nb['fit_only_s']:.2f}) | 1.0× | | {100 * nb['accuracy']:.2f}% ({n_nb} seeds) | {nb['max_rss_mb']:.0f} MB |",
        f"| the same with `steps_per_execution={spe['steps_per_execution']}` ({spe['threads']} threads) | {spe['per_run_s']:.2f} (fit alone {spe['fit_only_s']:.2f}) | {nb['per_run_s'] / spe['per_run_s']:.1f}× | | {100 * spe['accuracy']:.2f}% ({len(spe['per_seed'])} seeds) | {spe['max_rss_mb']:.0f} MB |",
    ]
    for k, p in sorted(a["packs"].items(), key=lambda kv: int(kv[0])):
        lines.append(
            f"| `train_runs`, pack of {k} (first pack in the process: {p['cold_per_run_s']:.2f} s per run) | **{p['per_run_s']:.3f}** | **{p['speedup_vs_notebook']:.1f}×** | {p['speedup_vs_pack1']:.1f}× | {100 * p['accuracy']:.2f}% ({p['seeds']} seeds) | {p['max_rss_mb']:.0f} MB |"
        )
    return lines


def planning_table(c: dict) -> list[str]:
    """(c) in full: wall time per size and the project's planning steps within it."""
    lines = [
        "| Runs | Jobs | `snakemake -n` | Per run | Per run after Snakemake's start | validate_config | expand_runs | plan_jobs | job_params |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in sorted(c["sizes"].values(), key=lambda s: s["runs"]):
        st = s["steps_s"]
        lines.append(
            f"| {s['runs']:,} | {s['jobs']:,} | {s['seconds']:.2f} s | {s['per_run_ms']:.3f} ms | {s['per_run_ms_after_startup']:.3f} ms | {st['validate_config']:.2f} s | {st['expand_runs']:.2f} s | {st['plan_jobs']:.2f} s | {st['job_params']:.2f} s |"
        )
    return lines


def notes(found: dict) -> list[str]:
    """How to read the figures, with the numbers that explain them."""
    repeats = max((found[k].get("repeats", 1) for k in ("a", "b") if k in found), default=1)
    kept = (
        f"(a) and (b) keep the fastest of {repeats} alternating repetitions of each side; all repetitions are in the JSON below. "
        if repeats > 1
        else ""
    )
    out = [
        f"- A shared machine: other people's jobs ran at the same time (see the load average), and they slow each side by different amounts. {kept}Re-run `bench/run.py` on a quiet machine for cleaner figures."
    ]
    if "a" in found:
        a = found["a"]
        k, pk = _pack(a, PACK)
        one = a["packs"][min(a["packs"], key=int)]
        out.append(
            f"- (a) A pack's cost per run is `train_runs`' wall time on the second pack of a process ÷ its size: everything a job does per run, i.e. the run's data split and standardization, training with validation after every epoch and a pack checkpoint every epoch, evaluation on the three splits with the metrics, and writing the run directory (metrics.json, history.csv, predictions.csv, model.keras). "
            f"Of that, the compiled training steps (the engine's `fit_seconds`, without the validation) take {pk['warm_fit_per_run_s']:.3f} s per run in the pack of {k} and {one['warm_fit_per_run_s']:.3f} s at pack size 1; most of the rest is per-run work that packing does not share. "
            "The notebook's cost is build + compile + `model.fit` + `evaluate` with the data already split; it runs with TensorFlow's default threads and with the project's, and the faster counts."
        )
        out.append(
            f"- (a) Release 0.1's `fit_run` is gone with the old engine; its figures are those recorded in this file on 2026-11-25 (mean of 3 seeds {a['release_0_1_fit_run']['mean_s']:.2f} s, later runs {a['release_0_1_fit_run']['later_s']:.2f} s), on this machine under other load, and without writing model.keras. Compare with care."
        )
    if "b" in found:
        b = found["b"]
        plots = b["snakemake_jobs"].get("plots", {}).get("seconds")
        if b["ratio_to_tables"] < 1:
            out.append(
                f"- (b) A ratio below 1 is noise: the lower bound cannot be slower than the workflow on a quiet machine; the sides ran at different loads (repetitions: {b['seconds_by_repeat']})."
            )
        out.append(
            f"- (b) Packing is on with the schema defaults (pack_size {b['pack_size']}, runs_per_job {b['runs_per_job']}): a pack holds the seeds of one data set and architecture, so this sweep trains {len(b['pack_members'])} packs of {max(b['pack_members'])}."
        )
        if plots is not None:
            out.append(
                f"- (b) The lower bound only trains, so the ratio is taken when the summary tables are written. Drawing the plots afterwards (rule `plots`, {plots:.1f} s) is extra work, shown in the second ratio."
            )
    if "c" in found:
        c = found["c"]
        big = max(c["sizes"].values(), key=lambda s: s["runs"])
        ours = sum(big["steps_s"].values())
        out.append(
            f"- (c) Snakemake alone starts in {c['snakemake_startup_s']:.1f} s (`snakemake --version`), which dominates small sweeps. At {big['runs']:,} runs the project's planning steps take {ours:.1f} s of the {big['seconds']:.1f} s; the rest is Snakemake's own work per job ({big['jobs']:,} jobs: the DAG, resources, listing each job)."
        )
    if "d" in found:
        sizes = sorted(found["d"]["sizes"].values(), key=lambda s: s["runs"])
        if "collect_s" in sizes[0]:
            each = ", ".join(
                f"{s['runs']:,} runs: reading {s['collect_s']:.2f} s ({s['collect_ratio_to_json_load']:.2f}× json.load), tables {s['aggregate_s'] - s['collect_s']:.2f} s"
                for s in sizes
            )
            out.append(
                f"- (d) The generated grid has {sizes[0]['cells']:,} cells at every size (more seeds per cell as it grows). Reading the runs (`collect_runs`) and writing the tables (statistics, tests, chance levels, CSV, Markdown, LaTeX per cell), separately: {each}. "
                "The table work depends mostly on the number of cells, so with few seeds per cell it dominates the ratio to json.load."
            )
    if "e" in found:
        e = found["e"]
        out.append(
            f"- (e) The process of (a) that trains two packs of {e['pack_size']}. Importing TensorFlow and Keras alone takes {e['import_only_rss_mb']:.0f} MB; the peak of each (a) process by pack size: "
            + ", ".join(f"{k}: {v:.0f} MB" for k, v in e["by_pack_size_mb"].items())
            + "."
        )
    if "f" in found:
        f = found["f"]
        out.append(
            f"- (f) {f['runs_per_phase']} runs a sweep ({f['n_samples']:,} samples, the notebook model, {f['epochs']} epochs, one job, one pack). The estimate from records uses the finished runs' `fit_seconds` per run-epoch and the finished job's start-up ({f['measured']['startup_s']:.1f} s); "
            "the one made before any run calibrates one pack for two epochs in the estimating process and assumes a default start-up, so it is a rough figure by design (the report says which it is)."
        )
    if "b" in found:
        out.append(
            f"- (e) A training job of (b) ({found['b']['runs_per_job']} runs): {found['b']['job_max_rss_mb']:.0f} MB; Snakemake's benchmark file of it: {found['b']['snakemake_train_max_rss_mb']:.0f} MB."
        )
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
    for figure, measured_text, target, met in rows(found):
        lines.append(f"| {figure} | {measured_text} | {target} | {'yes' if met else 'no'} |")
    lines += ["", "Machine: " + "; ".join(f"{k} {v}" for k, v in description.items()), ""]
    loads = {k: f"{v['load_before']:.1f} → {v['load_after']:.1f}" for k, v in found.items() if "load_before" in v}
    lines += [
        "Load average (1 min) before → after each figure: " + ", ".join(f"({k}) {v}" for k, v in loads.items()),
        "",
    ]
    if "a" in found:
        a = found["a"]
        lines += [
            f"## (a) Cost per run ({a['n_train']:,} training rows, notebook model, {a['epochs']} epochs, batch 32)",
            "",
            *fit_table(a),
            "",
        ]
    if "c" in found:
        lines += ["## (c) Planning", "", *planning_table(found["c"]), ""]
    if "d" not in found:
        lines += ["(d) was not measured: bench/summary_time.py is being reworked.", ""]
    gpu = BENCH / "GPU.md"  # written by `bench/gpu.py --output bench/GPU.md` on a GPU machine
    lines += [
        "## GPU",
        "",
        gpu.read_text(encoding="utf-8").strip()
        if gpu.is_file()
        else "`bench/gpu.py` has not run on a GPU yet (no GPU machine was at hand); see bench/README.md.",
        "",
    ]
    search = (
        BENCH / "SEARCH.md"
    )  # written by `bench/search.py --output bench/SEARCH.md` (a search as packs vs one run at a time)
    if search.is_file():
        lines += [search.read_text(encoding="utf-8").strip(), ""]
    packing = (
        BENCH / "PACKING.md"
    )  # written from `bench/pack_equality.py`'s output (each run of the search packed and alone)
    if packing.is_file():
        lines += [packing.read_text(encoding="utf-8").strip(), ""]
    eeg = BENCH / "EEG.md"  # written by `bench/eeg_decoding.py --output bench/EEG.md` (minutes: not run here)
    if eeg.is_file():
        text = (
            eeg.read_text(encoding="utf-8").split("<details>")[0].strip()
        )  # its JSON stays in EEG.md: one JSON block here
        lines += ["## EEG decoding over time", "", text, "", "All numbers: `bench/EEG.md`.", ""]
    for name in ("PERMUTATION_SCALE.md", "PERMUTATIONS.md"):  # issue #26: bench/permutation_scale.py, _records.py
        section = BENCH / name  # minutes each: not run here, kept by their --output
        if section.is_file():
            lines += [section.read_text(encoding="utf-8").strip(), ""]
    lines += ["Notes:", "", *notes(found), ""]
    lines += [
        "<details><summary>All numbers (JSON)</summary>",
        "",
        "```json",
        json.dumps(found, indent=1, default=str),
        "```",
        "</details>",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: a smoke run of the harness, numbers not meaningful"
    )
    parser.add_argument(
        "--only", default="abcdef", help="figures to measure, e.g. 'ac' (default: abcdef; e comes with a)"
    )
    parser.add_argument(
        "--output", type=Path, help="Markdown results file (default: bench/RESULTS.md for full runs, none for --quick)"
    )
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
