"""Decoding over time end to end: per-subject epochs made with mne.EpochsArray (a known effect
at 0.2-0.4 s), leave one subject out over windows, with temporal generalization, through
Snakemake: the time course is at chance before the effect and above threshold inside it,
the cluster test finds the interval, and the generalization diagonal inside the effect beats
the matrix's corners."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_snakemake, write_config

pytestmark = pytest.mark.workflow

SUBJECTS, TRIALS, SFREQ, TMIN = 6, 30, 50.0, -0.2
EFFECT = (0.2, 0.4)


def make_epochs(folder):
    """sub-XX_epo.fif per subject: 4 EEG channels, 0.8 s, classes a/b differing in 0.2-0.4 s."""
    import mne

    rng = np.random.default_rng(0)
    times = TMIN + np.arange(40) / SFREQ
    inside = (np.round(times * SFREQ) >= EFFECT[0] * SFREQ) & (np.round(times * SFREQ) < EFFECT[1] * SFREQ)
    info = mne.create_info(["Fz", "Cz", "Pz", "Oz"], SFREQ, "eeg")
    for s in range(SUBJECTS):
        y = np.arange(TRIALS) % 2
        x = rng.normal(0, 1, (TRIALS, 4, len(times)))
        x[:, :, inside] += (2.0 * (2 * y - 1))[:, None, None] * np.array([1.0, 0.5, -0.5, -1.0])[None, :, None]
        events = np.column_stack([np.arange(TRIALS) * 100, np.zeros(TRIALS, int), y + 1])
        mne.EpochsArray(x * 1e-6, info, events=events, tmin=TMIN, event_id={"a": 1, "b": 2}, verbose="error").save(
            folder / f"sub-{s + 1:02d}_epo.fif", verbose="error"
        )


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("eeg")
    (workdir / "data").mkdir()
    make_epochs(workdir / "data")
    cfg = {
        "datasets": {
            "eeg": {"source": "epochs", "path": "data/sub-{subject}_epo.fif", "windows": {"length": 0.1, "step": 0.1}}
        },
        "architectures": {"mlp": {"hidden": [16]}},
        "training": {"epochs": 15, "batch_size": 16, "learning_rate": 0.05},
        "split": {"method": "leave_one_group_out", "group": "subject"},
        "seeds": [0],
        "summary": {"generalization": True},
        "execution": {"runs_per_job": 100, "pack_size": 100, "threads": 1},
    }
    write_config(workdir, cfg)
    results = workdir / "results"
    run_snakemake(
        workdir, "results/summary/timecourse.csv", "results/summary/generalization"
    )  # plots/ aside: not under test
    return results


def test_time_course_is_at_chance_before_the_effect_and_significant_inside(sweep):
    table = pd.read_csv(sweep / "summary" / "timecourse.csv", dtype={"window": str})
    assert table["window"].tolist() == ["-0.200", "-0.100", "+0.000", "+0.100", "+0.200", "+0.300", "+0.400", "+0.500"]
    assert (
        (table["protocol"] == "cross-subject").all()
        and (table["n_observations"] == SUBJECTS).all()
        and (table["n"] == SUBJECTS).all()
    )
    before, inside = table[table["window_start"] < 0.1], table[table["window"].isin(["+0.200", "+0.300"])]
    assert (before["test_accuracy_mean"] < before["chance_threshold"]).all()
    assert (inside["test_accuracy_mean"] > inside["chance_threshold"]).all()
    assert inside["significant"].all() and not before["significant"].any()
    assert (sweep / "plots" / "timecourse" / "eeg.png").is_file()


def test_generalization_diagonal_inside_the_effect_beats_corners(sweep):
    matrix = pd.read_csv(sweep / "summary" / "generalization" / "eeg_mlp_default.csv", index_col="train_window")
    values = matrix.to_numpy()
    assert values.shape == (8, 8)
    inside = [values[k, k] for k in (4, 5)]
    assert min(inside) > max(values[0, 0], values[0, -1], values[-1, 0], values[-1, -1])
    assert (sweep / "plots" / "generalization" / "eeg_mlp_default.png").is_file()


def test_each_run_generalizes_to_its_own_window_with_its_test_accuracy(sweep):
    """The standardization and the windows of generalization.evaluate are those of training."""
    for path in (sweep / "runs" / "eeg").rglob("metrics.json"):
        record = json.loads(path.read_text())
        own = pd.read_csv(path.parent / "generalization.csv", dtype={"test_window": str}).set_index("test_window")
        assert len(own) == 8
        label = f"{record['data']['window']['start']:+.3f}"
        assert own.loc[label, "accuracy"] == pytest.approx(record["metrics"]["test_accuracy"], abs=1e-6)
        assert own.loc[label, "n_test"] == record["data"]["n_test"]
