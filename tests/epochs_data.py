"""Made-up EEG epochs for the tests: per subject an `-epo.fif` file (mne.EpochsArray) whose
deviant trials carry a time-locked effect on the EEG channels in one interval."""

from __future__ import annotations

from pathlib import Path

import numpy as np

EVENT_ID = {"standard/left": 1, "standard/right": 2, "deviant/left": 3, "deviant/right": 4}
CHANNELS = ["Fz", "Cz", "Pz", "EOG"]
TYPES = ["eeg", "eeg", "eeg", "eog"]
EFFECT = (0.2, 0.4)  # seconds: deviant trials are shifted by `amp` there
PATTERN = "sub-{subject}_task-odd_epo.fif"


def make_epochs(
    folder: Path,
    subjects=("01", "02", "03"),
    n=48,
    sfreq=100.0,
    tmin=-0.2,
    tmax=0.6,
    amp=2.0,
    seed=0,
    channels=None,
    codes=None,
    metadata=True,
) -> list[Path]:
    """Write one epochs file per subject into `folder`; their paths."""
    import mne
    import pandas as pd

    mne.set_log_level("ERROR")
    folder.mkdir(parents=True, exist_ok=True)
    info = mne.create_info(channels or CHANNELS, sfreq, TYPES)
    times = np.arange(round((tmax - tmin) * sfreq) + 1) / sfreq + tmin
    paths = []
    for k, subject in enumerate(subjects):
        rng = np.random.default_rng([seed, k])
        trial_codes = np.resize(np.array([1, 2, 3, 4] if codes is None else codes), n)
        rng.shuffle(trial_codes)
        x = rng.normal(size=(n, len(info["ch_names"]), len(times)))
        inside = (times >= EFFECT[0] - 1e-9) & (times < EFFECT[1] - 1e-9)
        x[np.ix_(trial_codes >= 3, [0, 1, 2], inside)] += amp
        meta = (
            pd.DataFrame({"response": np.where(trial_codes % 2 == 1, "left", "right"), "rt": rng.uniform(0.3, 0.9, n)})
            if metadata
            else None
        )
        events = np.c_[np.arange(n) * 100, np.zeros(n, int), trial_codes]
        used = {name: code for name, code in EVENT_ID.items() if code in set(trial_codes.tolist())}
        epochs = mne.EpochsArray(x * 1e-6, info, events=events, tmin=tmin, event_id=used, metadata=meta)
        path = folder / PATTERN.format(subject=subject)
        epochs.save(path, fmt="single", overwrite=True)
        paths.append(path)
    return paths
