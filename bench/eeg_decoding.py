"""EEG decoding over time: MNE + scikit-learn against mlpsweep, side by side in one run.

The same time-resolved decoding of made-up epochs (per-subject -epo.fif files written with
mne.EpochsArray; a class-dependent topography in 0.2-0.5 s): windows of 0.1 s, one classifier
per window, leave one subject out, the 32-64-64 ReLU MLP, SGD at 0.01, batch 32, the same
epochs, 15 % of the training trials held out for validation on both sides.

- MNE: `SlidingEstimator(make_pipeline(StandardScaler(), MLPClassifier(...)))` over
  windows (each window's channels x samples flattened, channel-major), `cross_val_multiscore`
  with `LeaveOneGroupOut` and `n_jobs` = the cores; then what a user writes next: the scores
  as CSV, the cluster test over subjects (`permutation_cluster_1samp_test`) and the figure.
- mlpsweep: `snakemake --cores N` on a config with `source: epochs`, `windows:` and
  `leave_one_group_out` over subjects, end to end (start-up, training in packs, run
  directories, tables, plots, the time-course table and figure).

Both sides run in fresh processes, alternately; per side: end-to-end wall time (what a user
waits for) and the training alone per window-fold (core-seconds: MNE's cross-validation wall
time x cores, mlpsweep's packed training time summed over its runs, the traced step's
compilation reported apart). The two accuracy curves are compared per window against their
standard errors.

    .venv/bin/python bench/eeg_decoding.py                 # the small size (8 subjects x 10 windows)
    .venv/bin/python bench/eeg_decoding.py --size large    # 12 subjects x 20 windows x 2 seeds
    .venv/bin/python bench/eeg_decoding.py --size paper    # 20 subjects x 20 windows x 5 seeds (2,000 window-folds)
    .venv/bin/python bench/eeg_decoding.py --output bench/EEG.md   # keep the section (bench/run.py includes it)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import measured
import numpy as np
import yaml

SIZES = {
    "quick": {"subjects": 3, "trials": 40, "channels": 8, "windows": 4, "seeds": [0], "epochs": 2},
    "small": {"subjects": 8, "trials": 80, "channels": 16, "windows": 10, "seeds": [0], "epochs": 40},
    "large": {"subjects": 12, "trials": 80, "channels": 16, "windows": 20, "seeds": [0, 1], "epochs": 40},
    # the issue's paper-sized study: 2,000 window-folds (MNE's side alone takes about 17 minutes on 2 cores)
    "paper": {"subjects": 20, "trials": 80, "channels": 16, "windows": 20, "seeds": [0, 1, 2, 3, 4], "epochs": 40},
}
SFREQ, TMIN, LENGTH = 100.0, -0.2, 0.1
EFFECT = (0.2, 0.5)  # seconds where the classes differ
PATTERN = "data/sub-{subject}/eeg/sub-{subject}_task-bench_epo.fif"


# ---------------------------------------------------------------- data


def make_epochs(root: Path, size: dict, seed: int = 0) -> str:
    """Per-subject epochs files under `root` (two conditions, a/b); their path pattern."""
    import mne

    mne.set_log_level("ERROR")
    rng = np.random.default_rng(seed)
    n_times = int(round(size["windows"] * LENGTH * SFREQ))
    times = TMIN + np.arange(n_times) / SFREQ
    sample = np.round(times * SFREQ)
    inside = (sample >= round(EFFECT[0] * SFREQ)) & (sample < round(EFFECT[1] * SFREQ))
    info = mne.create_info([f"EEG{c:03d}" for c in range(size["channels"])], SFREQ, "eeg")
    topography = rng.normal(0, 1, size["channels"])  # shared by subjects: cross-subject decoding can work
    for s in range(size["subjects"]):
        y = np.arange(size["trials"]) % 2
        x = rng.normal(0, 1.0, (size["trials"], size["channels"], n_times))
        own = topography + rng.normal(0, 0.5, size["channels"])  # each subject's own variation
        x[:, :, inside] += (0.2 * (2 * y - 1))[:, None, None] * own[None, :, None]
        events = np.column_stack([np.arange(size["trials"]) * 200, np.zeros(size["trials"], int), y + 1])
        epochs = mne.EpochsArray(x * 1e-6, info, events=events, tmin=TMIN, event_id={"a": 1, "b": 2})
        path = root / PATTERN.format(subject=f"{s + 1:02d}")
        path.parent.mkdir(parents=True, exist_ok=True)
        epochs.save(path, overwrite=True)
    return str(root / PATTERN)


# ---------------------------------------------------------------- MNE + scikit-learn (run in a fresh process)

MNE_SIDE = r"""
import json, sys, time, glob, re, warnings
t0 = time.perf_counter()
import numpy as np, mne, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from mne.decoding import SlidingEstimator, cross_val_multiscore
from mne.stats import permutation_cluster_1samp_test
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.exceptions import ConvergenceWarning
mne.set_log_level("ERROR")
pattern, out, cores, epochs_n, seeds, length = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5]), float(sys.argv[6])
t_import = time.perf_counter()
xs, ys, groups = [], [], []
for name in sorted(glob.glob(pattern.replace("{subject}", "*"))):
    subject = re.search(r"sub-([^/_]+)_", name)[1]
    ep = mne.read_epochs(name, preload=True)
    data = ep.get_data(picks="eeg")
    xs.append(data); ys.append(ep.events[:, 2]); groups += [subject] * len(data)
X, y, groups = np.concatenate(xs), np.concatenate(ys), np.array(groups)
n = int(round(length * ep.info["sfreq"]))
n_windows = X.shape[2] // n
# each window's channels x samples, channel-major, as one "time point" of the sliding estimator
Xw = X[:, :, : n_windows * n].reshape(len(X), X.shape[1], n_windows, n).transpose(0, 1, 3, 2).reshape(len(X), -1, n_windows)
t_read = time.perf_counter()
scores = []
for seed in seeds:
    clf = MLPClassifier(hidden_layer_sizes=(32, 64, 64), activation="relu", solver="sgd", learning_rate_init=0.01, momentum=0.0, nesterovs_momentum=False,
                        batch_size=32, max_iter=epochs_n, alpha=0.0, shuffle=True, early_stopping=True, validation_fraction=0.15,
                        n_iter_no_change=epochs_n + 1, tol=0.0, random_state=seed)
    sliding = SlidingEstimator(make_pipeline(StandardScaler(), clf), scoring="accuracy", n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores.append(cross_val_multiscore(sliding, Xw, y, groups=groups, cv=LeaveOneGroupOut(), n_jobs=cores))
t_train = time.perf_counter()
scores = np.mean(scores, axis=0)  # folds (held-out subjects) x windows, mean over seeds
starts = ep.times[0] + np.arange(n_windows) * length
np.savetxt(f"{out}/scores.csv", scores, delimiter=",", header=",".join(f"{s:+.3f}" for s in starts), comments="")
T, clusters, p, _ = permutation_cluster_1samp_test(scores - 0.5, n_permutations=1000, tail=1, rng=0, out_type="mask")
mean, sem = scores.mean(0), scores.std(0, ddof=1) / np.sqrt(len(scores))
fig, ax = plt.subplots(figsize=(6.5, 3.4), layout="constrained")
centres = starts + length / 2
ax.plot(centres, mean, marker="o"); ax.fill_between(centres, mean - sem, mean + sem, alpha=0.2)
ax.axhline(0.5, linestyle=":", color="k")
significant = np.zeros(n_windows, bool)
for c, pv in zip(clusters, p):
    if pv < 0.05:
        idx = np.zeros(n_windows, bool); idx[c] = True; significant |= idx
        ax.axvspan(centres[idx].min() - length / 2, centres[idx].max() + length / 2, alpha=0.15)
ax.set_xlabel("Window centre (s)"); ax.set_ylabel("Accuracy"); ax.set_title("Sliding estimator, leave one subject out")
fig.savefig(f"{out}/timecourse.png", dpi=150); fig.savefig(f"{out}/timecourse.pdf")
t_end = time.perf_counter()
print(json.dumps({"import_s": t_import - t0, "read_s": t_read - t_import, "train_s": t_train - t_read, "write_s": t_end - t_train,
                  "window_folds": int(scores.size * len(seeds)), "mean": mean.tolist(), "sem": sem.tolist(), "starts": starts.tolist(),
                  "significant": significant.tolist()}))
"""


def run_mne(pattern: str, workdir: Path, size: dict, cores: int, tag: str) -> dict:
    out = workdir / f"mne-{tag}"
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-c",
        MNE_SIDE,
        pattern,
        str(out),
        str(cores),
        str(size["epochs"]),
        json.dumps(size["seeds"]),
        str(LENGTH),
    ]
    done = measured.run(cmd, workdir / f"mne-{tag}.log").check("MNE side")
    result = json.loads(done.output().strip().splitlines()[-1])
    per = result["train_s"] * cores / result["window_folds"]
    return {**result, "seconds": done.seconds, "cpu_seconds": done.cpu_seconds, "train_core_s_per_window_fold": per}


# ---------------------------------------------------------------- mlpsweep (Snakemake)


def sweep_config(pattern: str, size: dict, cores: int) -> dict:
    n_runs = size["subjects"] * size["windows"] * len(size["seeds"])
    per_job = math.ceil(n_runs / cores)
    return {
        "datasets": {
            "eeg": {
                "source": "epochs",
                "path": pattern,
                "conditions": ["a", "b"],
                "windows": {"length": LENGTH, "step": LENGTH},
            }
        },
        "architectures": {"mlp": {"hidden": [32, 64, 64]}},
        "training": {"optimizer": "sgd", "learning_rate": 0.01, "batch_size": 32, "epochs": size["epochs"]},
        "split": {"method": "leave_one_group_out", "group": "subject", "validation": 0.15},
        "seeds": size["seeds"],
        "execution": {"runs_per_job": per_job, "pack_size": per_job, "threads": 1},
    }


def run_mlpsweep(pattern: str, workdir: Path, size: dict, cores: int, tag: str) -> dict:
    sweepdir = workdir / f"mlpsweep-{tag}"
    (sweepdir / "config").mkdir(parents=True, exist_ok=True)
    (sweepdir / "config" / "config.yaml").write_text(
        yaml.safe_dump(sweep_config(pattern, size, cores), sort_keys=False)
    )
    cmd = measured.snakemake_cmd(sweepdir, cores)
    started = time.time()
    done = measured.run(cmd, workdir / f"mlpsweep-{tag}.log", cwd=sweepdir).check("mlpsweep sweep")
    results = sweepdir / "results"
    fit, trace, runs = 0.0, {}, 0
    for path in (results / "runs").rglob("metrics.json"):
        record = json.loads(path.read_text())
        fit += record["metrics"]["fit_seconds"]
        pack = record["provenance"]["pack"]
        trace[pack["key"]] = pack.get("trace_seconds", 0.0)
        runs += 1
    import pandas as pd

    table = pd.read_csv(results / "summary" / "timecourse.csv")
    return {
        "seconds": done.seconds,
        "cpu_seconds": done.cpu_seconds,
        "to_timecourse_s": (results / "summary" / "timecourse.csv").stat().st_mtime - started,
        "window_folds": runs,
        "packs": len(trace),
        "train_core_s_per_window_fold": fit / runs,
        "trace_s_per_window_fold": sum(trace.values()) / runs,
        "mean": table["observation_mean"].tolist(),
        "run_mean": table["test_accuracy_mean"].tolist(),
        "sem": table["sem"].tolist(),
        "starts": table["window_start"].tolist(),
        "significant": table["significant"].tolist(),
        "jobs": {"train": len(list((results / "benchmarks" / "train").glob("*.tsv")))},
    }


# ---------------------------------------------------------------- comparison and report


def compare(mne_side: dict, ours: dict) -> dict:
    """Per window: difference of the mean accuracies and its standard error."""
    a, b = np.asarray(mne_side["mean"]), np.asarray(ours["mean"])
    se = np.sqrt(np.asarray(mne_side["sem"]) ** 2 + np.asarray(ours["sem"]) ** 2)
    z = (b - a) / se
    return {
        "max_abs_diff": float(np.max(np.abs(b - a))),
        "mean_diff": float(np.mean(b - a)),
        "max_abs_z": float(np.max(np.abs(z))),
        "z": z.round(2).tolist(),
    }


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(size_name: str, cores: int, repeats: int, workdir: Path) -> dict:
    size = SIZES[size_name]
    pattern = make_epochs(workdir, size)
    loads, mnes, ours = [load()], [], []
    for rep in range(repeats):
        mnes.append(run_mne(pattern, workdir, size, cores, str(rep)))
        loads.append(load())
        ours.append(run_mlpsweep(pattern, workdir, size, cores, str(rep)))
        loads.append(load())
        shutil.rmtree(workdir / f"mlpsweep-{rep}" / ".snakemake", ignore_errors=True)
    mne_best, ours_best = min(mnes, key=lambda r: r["seconds"]), min(ours, key=lambda r: r["seconds"])
    return {
        "size": size_name,
        **size,
        "cores": cores,
        "repeats": repeats,
        "load_average": loads,
        "mne": mne_best,
        "mlpsweep": ours_best,
        "seconds_by_repeat": {
            "mne": [round(r["seconds"], 2) for r in mnes],
            "mlpsweep": [round(r["seconds"], 2) for r in ours],
        },
        "end_to_end_ratio": ours_best["seconds"] / mne_best["seconds"],
        "training_ratio": mne_best["train_core_s_per_window_fold"] / ours_best["train_core_s_per_window_fold"],
        "curves": compare(mne_best, ours_best),
    }


def section(found: list[dict]) -> str:
    """The Markdown section of bench/RESULTS.md."""
    lines = [
        "| Size | Window-folds | MNE + scikit-learn end to end | mlpsweep end to end (to the time-course table) | mlpsweep ÷ MNE | Training per window-fold: MNE / mlpsweep (core-s) | MNE ÷ mlpsweep | Curves: max abs. difference (max abs z) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in found:
        m, o, c = f["mne"], f["mlpsweep"], f["curves"]
        lines.append(
            f"| {f['size']}: {f['subjects']} subjects × {f['trials']} trials × {f['channels']} channels, {f['windows']} windows, {len(f['seeds'])} seed(s), {f['epochs']} epochs "
            f"| {o['window_folds']} | {m['seconds']:.1f} s | {o['seconds']:.1f} s ({o['to_timecourse_s']:.1f} s) | **{f['end_to_end_ratio']:.2f}×** "
            f"| {m['train_core_s_per_window_fold']:.3f} / {o['train_core_s_per_window_fold']:.3f} (+ {o['trace_s_per_window_fold']:.3f} compiling) | **{f['training_ratio']:.1f}×** "
            f"| {c['max_abs_diff']:.3f} ({c['max_abs_z']:.1f}) |"
        )
    lines.append("")
    for f in found:
        m, o = f["mne"], f["mlpsweep"]
        lines.append(
            f"- {f['size']}: MNE side {m['import_s']:.1f} s imports, {m['read_s']:.1f} s reading, {m['train_s']:.1f} s cross-validation, {m['write_s']:.1f} s table, cluster test and figure; "
            f"mlpsweep {o['packs']} pack(s) in {o['jobs']['train']} training job(s); repetitions (s): MNE {f['seconds_by_repeat']['mne']}, mlpsweep {f['seconds_by_repeat']['mlpsweep']}; "
            f"load average (1, 5, 15 min) before and after each side: {', '.join(f['load_average'])}; {f['cores']} cores."
        )
        lines.append(
            f"  Significant windows (cluster test): MNE {''.join('x' if s else '.' for s in m['significant'])}, mlpsweep {''.join('x' if s else '.' for s in o['significant'])}; "
            f"per-window z of the difference: {c_z(f)}."
        )
    return "\n".join(lines) + "\n"


def c_z(f: dict) -> str:
    return " ".join(f"{z:+.1f}" for z in f["curves"]["z"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--size", choices=list(SIZES), action="append", help="small (default), large, paper, quick; repeatable"
    )
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--output", type=Path, help="write the Markdown section here (e.g. bench/EEG.md)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="mlpsweep-eeg-bench-"))
    try:
        found = []
        for name in args.size or ["small"]:
            (workdir / name).mkdir()
            found.append(measure(name, args.cores, args.repeats, workdir / name))
        text = section(found)
        print(text)
        print(json.dumps(found, indent=1))
        if args.output:
            args.output.write_text(
                text
                + "\n<details><summary>All numbers (JSON)</summary>\n\n```json\n"
                + json.dumps(found, indent=1)
                + "\n```\n</details>\n",
                encoding="utf-8",
            )
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
