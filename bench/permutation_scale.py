"""A permutation time course at scale, end to end (issue #26, points 3 and 4).

The issue's workload: within-subject decoding over time of 10 subjects (5 folds, 10 windows of
0.1 s, 500 real runs), with `summary.permutations` label-permutation runs per real run, the
notebook's network (32-64-64 ReLU, SGD 0.01, batch 32, 5 epochs), packs of 64, through
`snakemake --cores 2` with the default profile, from made-up epochs of the issue's size: 32 EEG
channels at 120 Hz, so 384 features a window (the issue's 384 feature names), 400 trials per
subject in two conditions, and a class difference over a few channels at 0.25-0.5 s.

Reported per size, from the jobs' own accounts (job_time.py: each training job's manifest
keeps its seconds per part) and Snakemake's benchmark files:
- wall time end to end, and against the training steps' own time (their core-seconds / cores);
- the training jobs' time per part (start-up, data, compiling, training, validation,
  checkpoints, evaluation, writing, other) and the share not training;
- files and bytes per real and per permutation run;
- the time course's own cost (its rule's wall time), the summary's and the plots'.

    .venv/bin/python bench/permutation_scale.py                       # 5,500 runs (10 permutations), ~2 min
    .venv/bin/python bench/permutation_scale.py --size 5500 --size 50500 --size 50500-6jobs --output bench/PERMUTATION_SCALE.md
    .venv/bin/python bench/permutation_scale.py --size quick          # tiny: checks the harness (tests/test_bench.py)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import machine
import measured
import yaml

sys.path.insert(0, str(measured.REPO / "scripts"))

from mlpsweep.job_time import PARTS, TRAINING, WRITER  # noqa: E402

# subjects x folds x windows real runs, each with `permutations` label-permutation runs
SIZES = {
    "quick": {"subjects": 2, "folds": 2, "windows": 2, "permutations": 2, "trials": 60, "runs_per_job": 16, "pack": 8},
    "5500": {"subjects": 10, "folds": 5, "windows": 10, "permutations": 10, "trials": 400, "runs_per_job": 2752},
    # one job per core, as the 5,500 size and config/config.yaml: TensorFlow starts once per core
    "50500": {"subjects": 10, "folds": 5, "windows": 10, "permutations": 100, "trials": 400, "runs_per_job": 25280},
    # the same sweep in 6 jobs (3 per core): what each further job start costs
    "50500-6jobs": {"subjects": 10, "folds": 5, "windows": 10, "permutations": 100, "trials": 400, "runs_per_job": 8448},
}
PACK, RUNS_PER_JOB, CORES = 64, 1024, 2
CHANNELS, SFREQ, TMIN, EFFECT = 32, 120.0, -0.2, (0.25, 0.5)
PATTERN = "data/sub-{subject}/eeg/sub-{subject}_task-bench_epo.fif"


def make_epochs(root: Path, size: dict, seed: int = 0) -> None:
    """Per-subject epochs files under `root`: two balanced conditions, white noise, and a class
    difference over 8 of the channels inside EFFECT (deterministic)."""
    import mne
    import numpy as np

    mne.set_log_level("ERROR")
    rng = np.random.default_rng(seed)
    n_times = round(size["windows"] * 0.1 * SFREQ)
    times = TMIN + np.arange(n_times) / SFREQ
    inside = (times >= EFFECT[0]) & (times < EFFECT[1])
    info = mne.create_info([f"EEG{c:03d}" for c in range(CHANNELS)], SFREQ, "eeg")
    for s in range(size["subjects"]):
        y = np.arange(size["trials"]) % 2
        x = rng.normal(0, 1.0, (size["trials"], CHANNELS, n_times))
        x[:, :8, :][:, :, inside] += (0.3 * (2 * y - 1))[:, None, None]
        events = np.column_stack([np.arange(size["trials"]) * 200, np.zeros(size["trials"], int), y + 1])
        epochs = mne.EpochsArray(x * 1e-6, info, events=events, tmin=TMIN, event_id={"standard": 1, "deviant": 2})
        path = root / PATTERN.format(subject=f"{s + 1:02d}")
        path.parent.mkdir(parents=True, exist_ok=True)
        epochs.save(path, fmt="single", overwrite=True)


def config(size: dict) -> dict:
    """The sweep: windows of 0.1 s every 0.1 s from -0.2 s (the epochs hold `windows` of them)."""
    return {
        "results": "results",
        "datasets": {
            "eeg": {
                "source": "epochs",
                "path": PATTERN,
                "conditions": ["standard", "deviant"],
                "windows": {"length": 0.1, "step": 0.1},
            }
        },
        "architectures": {"notebook": {"hidden": [32, 64, 64], "activation": "relu"}},
        "training": {"optimizer": "sgd", "learning_rate": 0.01, "batch_size": 32, "epochs": 5},
        "split": {"method": "kfold", "folds": size["folds"], "within": "subject"},
        "seeds": [0],
        "execution": {
            "pack_size": size.get("pack", PACK),
            "runs_per_job": size.get("runs_per_job", RUNS_PER_JOB),
            "threads": 1,
        },
        "summary": {"permutations": size["permutations"]},
    }


def count(results: Path) -> dict:
    """Files and bytes of the run records: real runs' directories, permutation runs' compact files."""
    out = {"real_files": 0, "real_bytes": 0, "perm_files": 0, "perm_bytes": 0, "other_files": 0, "other_bytes": 0}
    for path in (results / "runs").rglob("*"):
        if not path.is_file():
            continue
        kind = "perm" if "permutations" in path.parts else "real"
        out[f"{kind}_files"] += 1
        out[f"{kind}_bytes"] += path.stat().st_size
    for path in results.rglob("*"):
        if path.is_file() and "runs" not in path.relative_to(results).parts[:1]:
            out["other_files"] += 1
            out["other_bytes"] += path.stat().st_size
    return out


def job_parts(results: Path) -> dict:
    """The training jobs' seconds per part, summed over jobs (their manifests), and the job count."""
    total = dict.fromkeys((*PARTS, "other", "wall", WRITER), 0.0)
    jobs = 0
    for manifest in sorted((results / "jobs").glob("chunk*.json")):
        seconds = json.loads(manifest.read_text()).get("seconds")
        if seconds is None:
            continue
        jobs += 1
        for part in total:
            total[part] += seconds.get(part, 0.0)
    total["jobs"] = jobs
    return total


def recorded(results: Path) -> dict:
    """From the runs' records and Snakemake's benchmark files, for any release: the runs' training
    seconds (fit_seconds: the epochs' steps and validation) and the training jobs' wall time."""
    from mlpsweep import record, rundir

    fit = 0.0
    for run in rundir.discover(results):
        rec = record.read(results / run)
        fit += float((rec.stored.get("metrics") or {}).get("fit_seconds") or 0.0) if rec is not None else 0.0
    jobs = sum(
        float(t.read_text().splitlines()[1].split("\t")[0]) for t in (results / "benchmarks" / "train").glob("*.tsv")
    )
    return {"fit_seconds": fit, "jobs_wall": jobs}


def rule_seconds(results: Path, rule: str) -> float | None:
    """A rule's wall time from its Snakemake benchmark file."""
    path = results / "benchmarks" / f"{rule}.tsv"
    if not path.exists():
        return None
    return float(path.read_text().splitlines()[1].split("\t")[0])


def run_workflow(sweepdir: Path, log: Path, repo: Path) -> measured.Finished:
    """`snakemake --cores 2` of `repo`'s workflow (this checkout's, or an earlier release's for a
    side-by-side comparison) in `sweepdir`, with that checkout's scripts on the path."""
    snakefile, profile = repo / "workflow" / "Snakefile", repo / "profiles" / "default"
    cmd = [measured.SNAKEMAKE, "--snakefile", str(snakefile), "--directory", str(sweepdir),
           "--profile", str(profile), "--cores", str(CORES)]  # fmt: skip
    env = {**measured.ENV, "PYTHONPATH": str(repo / "scripts")}
    proc = subprocess.Popen(cmd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    return measured.finish(proc, time.perf_counter(), log)


def measure(name: str, size: dict, workdir: Path, repo: Path = measured.REPO) -> dict:
    sweepdir = workdir / name
    shutil.rmtree(sweepdir, ignore_errors=True)
    (sweepdir / "config").mkdir(parents=True)
    make_epochs(sweepdir, size)
    (sweepdir / "config" / "config.yaml").write_text(yaml.safe_dump(config(size), sort_keys=False))
    load_before = os.getloadavg()[0]
    done = run_workflow(sweepdir, workdir / f"{name}.log", repo).check(f"size {name}")
    results = sweepdir / "results"
    real = size["subjects"] * size["folds"] * size["windows"]
    parts = job_parts(results)
    files = count(results)
    records = recorded(results)
    training = sum(parts[p] for p in TRAINING)
    found = {
        "size": name if repo == measured.REPO else f"{name}, {repo.name}",
        **{k: size[k] for k in ("subjects", "folds", "windows", "permutations", "trials")},
        "real_runs": real,
        "perm_runs": real * size["permutations"],
        "runs_per_job": size.get("runs_per_job", RUNS_PER_JOB),
        "wall": done.seconds,
        "cpu": done.cpu_seconds,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "parts": parts,
        "training": training,
        "training_wall": training / CORES,  # the training steps' own time on the cores, had nothing else run
        "files": files,
        "recorded": records,
        "rules": {r: rule_seconds(results, r) for r in ("sweep_config", "summarize", "plots", "timecourse")},
    }
    if size is SIZES["quick"]:
        return found
    shutil.rmtree(sweepdir / "results", ignore_errors=True)  # tens of thousands of records: not kept
    return found


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "–"


def render(found: list[dict], description: dict) -> str:
    lines = [
        "## A permutation time course at scale (bench/permutation_scale.py)",
        "",
        f"Machine: {description['cpu']}, {description['cores']} cores, {description['memory']}; "
        f"TensorFlow {description.get('tensorflow', description.get('tensorflow-cpu', '?'))}, Keras {description.get('keras', '?')}. "
        "One run per size, `snakemake --cores 2`, packs of 64; runs per job: "
        + ", ".join(f"{f['size']}: {f['runs_per_job']:,}" for f in found)
        + ".",
        "",
        "| size | runs (real + permutation) | wall s | training s (core) | wall ÷ training | "
        "not training, share of jobs | files per real run | bytes per real run | files per perm. run | "
        "bytes per perm. run | time course s | summary s | plots s | load before/after |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for f in found:
        p, n = f["parts"], f["files"]
        share = 1 - f["training"] / p["wall"] if p["wall"] else float("nan")
        perm = max(f["perm_runs"], 1)
        rules = {k: ("" if v is None else f"{v:.1f}") for k, v in f["rules"].items()}
        lines.append(
            f"| {f['size']} | {f['real_runs']:,} + {f['perm_runs']:,} | {f['wall']:.0f} | {f['training']:.0f} | "
            f"{ratio(f['wall'], f['training_wall'])} | {share:.0%} | {n['real_files'] / f['real_runs']:.1f} | "
            f"{n['real_bytes'] / f['real_runs'] / 1024:.1f} KB | {n['perm_files'] / perm:.4f} | "
            f"{n['perm_bytes'] / perm:.0f} B | {rules['timecourse']} | {rules['summarize']} | {rules['plots']} | "
            f"{f['load_before']:.1f}/{f['load_after']:.1f} |"
        )
    lines += [
        "",
        "From the runs' records (fit_seconds: steps and validation) and Snakemake's benchmark files, for any release:",
        "",
        "| size | wall s | training jobs' wall s | runs' fit_seconds | not training, share of jobs |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for f in found:
        r = f["recorded"]
        share = 1 - r["fit_seconds"] / r["jobs_wall"] if r["jobs_wall"] else float("nan")
        lines.append(f"| {f['size']} | {f['wall']:.0f} | {r['jobs_wall']:.1f} | {r['fit_seconds']:.1f} | {share:.0%} |")
    lines += [
        "",
        "Training jobs' time per part, summed over the jobs (job_time.py; seconds, share of the jobs' wall time):",
        "",
        "| size | jobs | " + " | ".join(PARTS) + " | other | jobs' wall | writer thread (beside) |",
        "| --- | ---: | " + " | ".join("---:" for _ in PARTS) + " | ---: | ---: | ---: |",
    ]
    for f in found:
        p = f["parts"]
        if not p["wall"]:  # an earlier release's jobs keep no account of their time
            continue
        cells = [f"{p[part]:.1f} ({p[part] / p['wall']:.0%})" for part in (*PARTS, "other")]
        lines.append(f"| {f['size']} | {p['jobs']} | " + " | ".join(cells) + f" | {p['wall']:.1f} | {p[WRITER]:.1f} |")
    lines += [
        "",
        "wall ÷ training: the end-to-end wall time over the training steps' own time (the jobs' training and "
        "validation core-seconds ÷ 2 cores); the issue's target at the large size is at most 2. Not training: "
        "everything in a training job but its compiled steps and per-epoch validation (start-up, data, compiling, "
        "checkpoints, evaluation, writing, other), as a share of the jobs' wall time; target at most 25 %.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", action="append", choices=sorted(SIZES), help="default: 5500")
    parser.add_argument("--output", type=Path, help="write the Markdown section here")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument(
        "--before",
        type=Path,
        help="also run each size with the workflow of this checkout (an earlier release), alternately",
    )
    args = parser.parse_args(argv)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="mlpsweep-permscale-"))
    started = time.perf_counter()
    try:
        found = []
        for name in args.size or ["5500"]:
            if args.before:
                found.append(measure(name, SIZES[name], workdir, args.before.resolve()))
            found.append(measure(name, SIZES[name], workdir))
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    text = render(found, machine.describe())
    text += f"\nWhole benchmark: {time.perf_counter() - started:.0f} s.\n"
    return measured.emit(text, args.output)


if __name__ == "__main__":
    sys.exit(main())
