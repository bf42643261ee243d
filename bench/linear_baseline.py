"""The cost of a linear baseline (`hidden: []`) per window-fold, as a share of the MLP's.

Made-up epochs (tests' kind: per-subject mne.EpochsArray files, two classes differing in
0.2-0.4 s), windows of 0.1 s, leave one subject out; the 32-64-64 ReLU MLP and logistic
regression (`hidden: []`, l2 1e-3) on the same windows, folds and seeds, Adam, batch 32, the
same epochs. In one process each architecture's runs train through `mlpsweep.training.train_runs`
(everything a job does per run: splits, packed training, checkpoints, evaluation, run directories)
twice: a cold pass (seed 0: traces the step) and a warm pass (seed 1), as a job trains its later
packs. Cost per window-fold = the warm pass's wall time / its runs; the ratio is linear / MLP.

    .venv/bin/python bench/linear_baseline.py            # 6 subjects x 8 windows, 30 epochs
    .venv/bin/python bench/linear_baseline.py --quick    # checks the harness
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
SFREQ, TMIN = 50.0, -0.2


def make_epochs(folder: Path, subjects: int, trials: int) -> str:
    import mne

    times = TMIN + np.arange(60) / SFREQ  # -0.2 .. 0.98 s
    inside = (times >= 0.2 - 1e-9) & (times < 0.4 - 1e-9)
    info = mne.create_info([f"E{k}" for k in range(16)], SFREQ, "eeg")
    topography = np.linspace(-1, 1, 16)
    for s in range(subjects):
        rng = np.random.default_rng(s)
        y = np.arange(trials) % 2
        x = rng.normal(0, 1, (trials, 16, len(times)))
        x[:, :, inside] += (0.5 * (2 * y - 1))[:, None, None] * topography[None, :, None]
        events = np.column_stack([np.arange(trials) * 100, np.zeros(trials, int), y + 1])
        epochs = mne.EpochsArray(x * 1e-6, info, events=events, tmin=TMIN, event_id={"a": 1, "b": 2}, verbose="error")
        epochs.save(folder / f"sub-{s + 1:02d}_epo.fif", verbose="error")
    return str(folder / "sub-{subject}_epo.fif")


def runs_of(path: str, windows: int, epochs: int, seed: int) -> dict[str, list]:
    from mlpsweep.config import validate_config
    from mlpsweep.grid import expand_runs

    cfg = {
        "datasets": {
            "eeg": {
                "source": "epochs",
                "path": path,
                "tmax": round(TMIN + 0.1 * windows, 3),
                "windows": {"length": 0.1, "step": 0.1},
            }
        },
        "architectures": {"mlp": {"hidden": [32, 64, 64]}, "linear": {"hidden": [], "l2": 1e-3}},
        "training": {"epochs": epochs, "batch_size": 32, "optimizer": "adam", "learning_rate": 0.001},
        "split": {"method": "leave_one_group_out", "group": "subject"},
        "seeds": [seed],
        "execution": {"threads": 1, "pack_size": 512, "runs_per_job": 4096},
    }
    runs = expand_runs(validate_config(cfg))
    return {arch: [r for r in runs if r.architecture == arch] for arch in ("mlp", "linear")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    subjects, trials, windows, epochs = (3, 20, 2, 2) if args.quick else (6, 60, 8, 30)
    from mlpsweep.training import DataCache, JobSettings, configure_backend, train_runs

    configure_backend(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "data").mkdir()
        path = make_epochs(tmp / "data", subjects, trials)
        seconds = {}
        for seed, phase in ((0, "cold"), (1, "warm")):
            for arch, runs in runs_of(path, windows, epochs, seed).items():
                start = time.perf_counter()
                done = train_runs(runs, tmp / "results", DataCache(), JobSettings())
                seconds[arch, phase] = (time.perf_counter() - start, len(runs))
                assert set(done.values()) == {"finished"}, done
    print(
        f"linear baseline cost: {subjects} subjects x {windows} windows (leave one subject out), {epochs} epochs, 1 thread"
    )
    print("| architecture | pass | runs (window-folds) | wall s | s per window-fold |")
    print("| --- | --- | ---: | ---: | ---: |")
    for (arch, phase), (wall, n) in seconds.items():
        print(f"| {arch} | {phase} | {n} | {wall:.2f} | {wall / n:.4f} |")
    per = {arch: seconds[arch, "warm"][0] / seconds[arch, "warm"][1] for arch in ("mlp", "linear")}
    print(f"\nwarm pass: linear / MLP per window-fold = {per['linear'] / per['mlp']:.2f}")


if __name__ == "__main__":
    main()
