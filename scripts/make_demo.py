"""Write a small made-up EEG study that the examples read: `make demo`, or
`.venv/bin/python scripts/make_demo.py [ROOT]`.

Per subject one MNE epochs file, `ROOT/derivatives/sub-XX/eeg/sub-XX_task-oddball_epo.fif`
(what config/examples/decoding-over-time.yaml reads), and one table of per-trial features,
`ROOT/data/eeg_features.csv` (what the README's first example reads: per trial the subject,
the mean amplitude of each EEG channel in three intervals, and the condition). The data are
deterministic (the same bytes on every run and machine): 16 EEG channels of the standard
10-20 montage and one EOG channel at 100 Hz from -0.2 to 0.8 s, white noise of 10 µV, two
runs of 40 trials per subject, conditions standard and deviant (each tagged loud or soft), and
one known effect: deviant trials carry a positive deflection over centro-parietal channels
from 0.25 to 0.5 s (a P300), so decoding is at chance before it and above chance inside it.
Metadata per trial: `run` (1, 2), `response` (left, right, unrelated to the condition), `rt`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

CHANNELS = ["Fp1", "Fp2", "F3", "Fz", "F4", "T7", "C3", "Cz", "C4", "T8", "P3", "Pz", "P4", "O1", "Oz", "O2"]
WEIGHTS = {"Cz": 0.6, "C3": 0.4, "C4": 0.4, "P3": 0.8, "Pz": 1.0, "P4": 0.8, "Oz": 0.3}  # the effect's topography
EVENT_ID = {"standard/loud": 1, "standard/soft": 2, "deviant/loud": 3, "deviant/soft": 4}
SFREQ = 100.0
TMIN, TMAX = -0.2, 0.8
EFFECT = (0.25, 0.5)  # seconds: where deviant trials differ from standard ones
NOISE_UV = 10.0
PATTERN = "derivatives/sub-{subject}/eeg/sub-{subject}_task-oddball_epo.fif"
FEATURES = "data/eeg_features.csv"
FEATURE_BINS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6))  # seconds: the table's mean amplitudes


def trials(rng: np.random.Generator, n: int, deviant_share: float) -> np.ndarray:
    """Event codes of one run: round(n * deviant_share) deviants, loud and soft alternating."""
    deviants = round(n * deviant_share)
    codes = np.array([1 + i % 2 for i in range(n - deviants)] + [3 + i % 2 for i in range(deviants)])
    rng.shuffle(codes)
    return codes


def subject_data(k: int, runs: int, trials_per_run: int, amplitude_uv: float, deviant_share: float, seed: int):
    """One subject's (data in volts: trials x channels x samples, event codes, run numbers)."""
    rng = np.random.default_rng([seed, k])
    times = np.arange(round((TMAX - TMIN) * SFREQ) + 1) / SFREQ + TMIN
    codes = np.concatenate([trials(rng, trials_per_run, deviant_share) for _ in range(runs)])
    run_of = np.repeat(np.arange(1, runs + 1), trials_per_run)
    x = rng.normal(scale=NOISE_UV, size=(len(codes), len(CHANNELS) + 1, len(times)))
    bump = np.where(
        (times >= EFFECT[0]) & (times < EFFECT[1]), np.sin(np.pi * (times - EFFECT[0]) / (EFFECT[1] - EFFECT[0])), 0.0
    )
    topography = np.array([WEIGHTS.get(ch, 0.0) for ch in CHANNELS] + [0.0])
    gain = 1.0 + 0.2 * rng.standard_normal()  # subjects differ a little in effect size
    x[codes >= 3] += gain * amplitude_uv * topography[:, None] * bump[None, :]
    return x * 1e-6, codes, run_of, times


def make_demo(
    root: Path,
    subjects: int = 6,
    runs: int = 2,
    trials_per_run: int = 40,
    amplitude_uv: float = 4.0,
    deviant_share: float = 0.5,
    seed: int = 0,
) -> list[Path]:
    """Write the epochs files and the features table under `root`; the paths written."""
    import mne
    import pandas as pd

    mne.set_log_level("ERROR")
    info = mne.create_info([*CHANNELS, "EOG"], SFREQ, ["eeg"] * len(CHANNELS) + ["eog"])
    info.set_montage("standard_1020")
    written, rows = [], []
    for k in range(subjects):
        subject = f"{k + 1:02d}"
        x, codes, run_of, times = subject_data(k, runs, trials_per_run, amplitude_uv, deviant_share, seed)
        rng = np.random.default_rng([seed, k, 1])
        metadata = pd.DataFrame(
            {
                "run": run_of,
                "response": rng.choice(["left", "right"], len(codes)),
                "rt": rng.uniform(0.3, 0.9, len(codes)).round(3),
            }
        )
        events = np.c_[np.arange(len(codes)) * 200, np.zeros(len(codes), int), codes]
        used = {name: code for name, code in EVENT_ID.items() if code in set(codes.tolist())}
        epochs = mne.EpochsArray(x, info, events=events, tmin=TMIN, event_id=used, metadata=metadata)
        path = root / PATTERN.format(subject=subject)
        path.parent.mkdir(parents=True, exist_ok=True)
        epochs.save(path, fmt="single", overwrite=True)
        written.append(path)
        features = {}
        for lo, hi in FEATURE_BINS:
            inside = (times >= lo) & (times < hi)
            for c, channel in enumerate(CHANNELS):
                features[f"{channel}_{lo:.1f}-{hi:.1f}s"] = (x[:, c, inside].mean(axis=1) * 1e6).round(4)
        rows.append(
            pd.DataFrame({"subject": subject, **features, "condition": np.where(codes >= 3, "deviant", "standard")})
        )
    table = root / FEATURES
    table.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(rows, ignore_index=True).to_csv(table, index=False)
    written.append(table)
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=".", help="where derivatives/ and data/ go (default: here)")
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--runs", type=int, default=2, help="runs per subject (metadata column 'run')")
    parser.add_argument("--trials-per-run", type=int, default=40)
    parser.add_argument("--amplitude", type=float, default=4.0, help="the deviants' effect at Pz, µV (noise: 10 µV)")
    parser.add_argument(
        "--deviant-share", type=float, default=0.5, help="share of deviant trials (0.5: balanced; below: unbalanced)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    paths = make_demo(
        Path(args.root), args.subjects, args.runs, args.trials_per_run, args.amplitude, args.deviant_share, args.seed
    )
    size = sum(p.stat().st_size for p in paths) / 1e6
    root = Path(args.root)
    print(f"wrote {len(paths) - 1} epochs files ({root / PATTERN}) and {root / FEATURES}: {size:.1f} MB")


if __name__ == "__main__":
    main()
