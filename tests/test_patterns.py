"""Activation patterns (summary.patterns): a linear model's patterns equal MNE's LinearModel +
get_coef patterns (two and three classes); a cell trained on mne.EpochsArray data with a known
topography finds it at the effect; the evoked file loads with mne.read_evokeds and draws."""

import numpy as np
import pytest
from mlpsweep import patterns, rundir

mne = pytest.importorskip("mne")

CHANNELS = ["Fz", "FC1", "FC2", "Cz", "CP1", "CP2", "Pz", "Oz"]
TOPOGRAPHY = np.array([0.0, 0.2, 0.2, 0.6, 0.9, 0.9, 1.0, 0.3])  # the effect's weight per channel


def linear_data(n_classes: int, n=300, n_channels=4, n_samples=3, seed=0):
    """Trials x (channels x samples, channel-major) with correlated noise, feature means and
    scales far from 0 and 1, classes shifted along a channel pattern each."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    mixing = rng.normal(size=(n_channels, n_channels))
    noise = np.einsum("ij,tjs->tis", mixing, rng.normal(size=(n, n_channels, n_samples)))
    shifts = rng.normal(size=(n_classes, n_channels))
    x = noise + shifts[y][:, :, None] + 5.0
    x *= np.array([1.0, 3.0, 0.5, 2.0])[:n_channels, None]
    names = [f"c{c}@{t:.3f}" for c in range(n_channels) for t in range(n_samples)]
    return x.reshape(n, -1), y, names


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_linear_models_patterns_equal_mnes_get_coef_patterns(n_classes):
    """Haufe's pattern of logistic regression, against MNE's LinearModel + get_coef(...,
    "patterns_", inverse_transform=True) on the same data. The scaler does not centre: MNE
    inverse-transforms a pattern with sklearn's inverse_transform, which would add the feature
    means; the covariance needs no centring of X. Two classes: MNE's pattern is Cov(X) w =
    Var(s) A exactly; three: per class, Cov(X) w_k against ours for logit k minus the others' mean."""
    from mne.decoding import LinearModel, get_coef
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y, names = linear_data(n_classes)
    model = make_pipeline(StandardScaler(with_mean=False), LinearModel(LogisticRegression(C=1.0, max_iter=2000)))
    model.fit(x, y)
    reference = np.atleast_2d(get_coef(model, "patterns_", inverse_transform=True))
    scaler, linear = model[0], model[-1].model_
    x_std = (x - x.mean(axis=0)) / scaler.scale_
    scores_of = linear.decision_function(x / scaler.scale_)
    logits = np.c_[np.zeros(len(x)), scores_of] if n_classes == 2 else scores_of
    ours = patterns.feature_patterns(x_std, scaler.scale_, patterns.decision_scores(logits))
    assert ours.shape == reference.shape == (1 if n_classes == 2 else n_classes, x.shape[1])
    for mine, theirs in zip(ours, reference):
        assert np.corrcoef(mine, theirs)[0, 1] >= 0.99
    if n_classes == 2:
        s = patterns.decision_scores(logits)[:, 0]
        np.testing.assert_allclose(ours[0] * np.var(s, ddof=1), reference[0], rtol=1e-8)
    channels, per_channel = patterns.channel_patterns(x_std, scaler.scale_, logits, names)
    assert channels == ["c0", "c1", "c2", "c3"]
    np.testing.assert_allclose(per_channel, ours.reshape(len(ours), 4, 3).mean(axis=2))


def test_scores_and_their_names():
    logits = np.array([[1.0, 3.0, 2.0]])
    np.testing.assert_allclose(patterns.decision_scores(logits), [[-1.5, 1.5, 0.0]])
    np.testing.assert_allclose(patterns.decision_scores(logits[:, :2]), [[2.0]])
    assert patterns.score_names(["standard", "deviant"]) == ["deviant"]
    assert patterns.score_names(["a", "b", "c"]) == ["a", "b", "c"]


def test_patterns_csv_round_trips(tmp_path):
    text = rundir.patterns_csv(["b"], ["Cz", "Pz"], np.array([[1.5e-6, np.nan]]))
    (tmp_path / rundir.PATTERNS_FILE).write_text(text)
    found = rundir.read_patterns(tmp_path)
    assert found[0] == ("b", "Cz", 1.5e-6) and found[1][:2] == ("b", "Pz") and np.isnan(found[1][2])
    assert rundir.read_patterns(tmp_path / "nothing") is None


def topography_epochs(folder, n=120, seed=0):
    """One epochs file (mne.EpochsArray, standard 10-20 positions, 100 Hz, -0.2 to 0.6 s): noise
    of 10 µV; class b carries TOPOGRAPHY x 10 µV from 0.2 to 0.4 s. Its path."""
    rng = np.random.default_rng(seed)
    info = mne.create_info(CHANNELS, 100.0, "eeg")
    builtin = mne.channels.get_builtin_montages()
    info.set_montage("colin27_1020" if "colin27_1020" in builtin else "standard_1020")  # renamed in MNE 1.13
    times = np.arange(81) / 100.0 - 0.2
    codes = np.resize([1, 2], n)
    x = rng.normal(scale=10.0, size=(n, len(CHANNELS), len(times)))
    inside = (times >= 0.2 - 1e-9) & (times < 0.4 - 1e-9)
    x[np.ix_(codes == 2, range(len(CHANNELS)), inside)] += 10.0 * TOPOGRAPHY[:, None]
    events = np.c_[np.arange(n) * 100, np.zeros(n, int), codes]
    epochs = mne.EpochsArray(x * 1e-6, info, events=events, tmin=-0.2, event_id={"a": 1, "b": 2}, verbose="error")
    path = folder / "topo-epo.fif"
    epochs.save(path, overwrite=True, verbose="error")
    return path


@pytest.fixture(scope="module")
def patterned(tmp_path_factory):
    """A cell (3 folds x 2 seeds x 4 windows, a small MLP) trained with summary.patterns on
    topography_epochs; its runs summarized and its patterns written."""
    from mlpsweep.config import validate_config
    from mlpsweep.data.epochs import channel_info
    from mlpsweep.grid import expand_runs
    from mlpsweep.pattern_maps import write_pattern_outputs
    from mlpsweep.tables.runs import collect_runs
    from mlpsweep.tables.summary import write_summary
    from mlpsweep.timecourse_plots import write_timecourse_outputs
    from mlpsweep.training import DataCache, JobSettings, train_runs

    folder = tmp_path_factory.mktemp("patterns")
    path = topography_epochs(folder)
    entry = {"source": "epochs", "path": str(path), "windows": {"length": 0.2, "step": 0.2}}
    cfg = validate_config(
        {
            "datasets": {"topo": entry},
            "architectures": {"mlp": {"hidden": [8]}},
            "training": {"epochs": 15, "optimizer": "adam", "learning_rate": 0.01, "batch_size": 16},
            "split": {"method": "kfold", "folds": 3},
            "seeds": [0, 1],
            "summary": {"patterns": True, "cluster_permutations": 100},
        }
    )
    runs = expand_runs(cfg)
    results = folder / "results"
    statuses = train_runs(runs, results, DataCache(), JobSettings(patterns=True))
    assert set(statuses.values()) == {"finished"}
    write_summary(collect_runs(results, rundir.discover(results)), cfg["summary"], results / "summary")
    table = write_timecourse_outputs(results, results / "summary", results / "plots", cfg["summary"])
    cells = write_pattern_outputs(results, results / "summary", results / "plots", {"topo": channel_info(entry)}, table)
    return results, cells


def test_the_cells_pattern_at_the_effect_is_the_planted_topography(patterned):
    """At the window of the effect (0.2-0.4 s) the cell's pattern correlates with the planted
    topography (measured r = 0.997; required >= 0.9), positive where the effect is. Its size is
    data units per unit of decision score (V per logit), so it is not compared with the 10 µV."""
    (cell,) = patterned[1]
    assert cell.scores == ["b"] and cell.channels == CHANNELS and cell.n_runs == 24 and cell.n_skipped == 0
    at_effect = cell.data[0, :, list(cell.starts).index(0.2)]
    assert np.corrcoef(at_effect, TOPOGRAPHY)[0, 1] >= 0.9
    assert at_effect[CHANNELS.index("Pz")] > 0 and CHANNELS[int(np.argmax(at_effect))] in ("CP1", "CP2", "Pz")


def test_the_evoked_file_loads_with_mne_and_draws(patterned):
    results, cells = patterned
    (evoked,) = mne.read_evokeds(results / "summary" / "patterns" / "topo_mlp_default-ave.fif", verbose="error")
    assert evoked.ch_names == CHANNELS and evoked.comment == "b vs a" and evoked.nave == 24
    np.testing.assert_allclose(evoked.times, np.arange(-0.1, 0.55, 0.1), atol=1e-6)  # centres -0.1, 0.1, 0.3, 0.5
    np.testing.assert_allclose(evoked.data[:, ::2], cells[0].data[0], rtol=1e-6)
    assert np.isnan(evoked.data[:, 1::2]).all()  # between the window centres
    assert np.isfinite(evoked.get_montage().get_positions()["ch_pos"]["Pz"]).all()
    evoked.plot_topomap(times=[0.3], ch_type="eeg", show=False)
    assert sorted(p.name for p in (results / "plots" / "patterns").iterdir()) == [
        "topo_mlp_default.pdf",
        "topo_mlp_default.png",
    ]


def test_runs_without_patterns_are_skipped_and_counted(patterned, tmp_path):
    import shutil

    from mlpsweep.pattern_maps import write_pattern_outputs

    results, _ = patterned
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    gone = sorted(copy.rglob(rundir.PATTERNS_FILE))[:3]
    for path in gone:
        path.unlink()
    (cell,) = write_pattern_outputs(copy, copy / "summary", copy / "plots")
    assert cell.n_skipped == 3 and cell.n_runs == 21
    assert "3 windowed runs skipped" in (copy / "summary" / "patterns" / "README.md").read_text()


def test_the_figure_shows_the_windows_of_significant_clusters_else_all():
    from mlpsweep.pattern_maps import MAX_MAPS, CellPatterns, shown_windows

    starts = np.round(np.arange(-0.2, 1.0, 0.05), 3)
    cell = CellPatterns(
        ("d", "a", "h"), ["b"], ["Cz"], starts, starts + 0.05, np.zeros((1, 1, len(starts))), 1, "runs", 1, 0
    )
    assert shown_windows(cell, [0.3, 0.35]) == ([10, 11], "windows of the significant clusters")
    shown, what = shown_windows(cell, [])
    assert len(shown) == MAX_MAPS and shown[0] == 0 and shown[-1] == len(starts) - 1 and what.startswith("all windows")
