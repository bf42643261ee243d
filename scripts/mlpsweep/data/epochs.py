"""MNE epochs files (`source: epochs`): trials of channels x samples, one file or one per subject.

A data set entry names one `-epo.fif` file, or a pattern with `{subject}` (one file per
subject; the subject becomes the group column `subject`). The trials' labels are their
conditions (event_id names; MNE's '/' tags select) or a column of the epochs' metadata.
Features are the picked channels x the samples of the crop (or of one time window),
flattened channel-major: feature `c * n_samples + t` is channel c at sample t, named
`<channel>@<time>`.

Samples: the file's own, every `decim`-th counted from t = 0 (so a window's samples do not
depend on the crop), then those inside [tmin, tmax]. A window of `length` seconds holds
round(length * sfreq / decim) samples from the first sample at or after its start; window
starts are tmin, tmin + step, ... while the window fits inside the crop.

Planning reads each file's header alone (`plan`: channels, sampling rate, times, events,
metadata; `mne.read_epochs(preload=False)`), checks the entry against it and gives the
subjects and window starts; a job reads each file once (`load_epochs`) and makes the
features of any window from the loaded trials (`window_features`). mne is imported only here,
and only when an epochs data set is planned or loaded.
"""

from __future__ import annotations

import functools
import glob
import itertools
import json
import math
import os
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..config import ConfigError
from ..refusal import refusal
from ..rundir import window_label
from .dataset import Dataset, DataError, checked_features, digest_text, encode_labels, file_digest

SUBJECT = "subject"  # the group column a `{subject}` pattern gives
SUBJECT_RE = re.compile(r"^[A-Za-z0-9]+$")  # a BIDS label: it names run directories (sub-<label>_seed0)
_TOL = 1e-3  # of a sample interval: times closer than this are one time
# channel types that `picks: data` selects (MNE's data channels)
DATA_TYPES = (
    "mag",
    "grad",
    "eeg",
    "csd",
    "seeg",
    "ecog",
    "dbs",
    "hbo",
    "hbr",
    "fnirs_cw_amplitude",
    "fnirs_fd_ac_amplitude",
    "fnirs_fd_phase",
    "fnirs_od",
)


@dataclass(frozen=True)
class Header:
    """What planning needs of one epochs file, read without its data."""

    path: str
    ch_names: tuple[str, ...]
    ch_types: tuple[str, ...]
    bads: tuple[str, ...]
    sfreq: float
    times: np.ndarray
    event_id: dict
    codes: np.ndarray  # each trial's event code
    metadata: object  # pandas DataFrame or None


@dataclass
class EpochsArrays:
    """The loaded trials of a data set, kept so that any window's features can be made."""

    trials: np.ndarray  # float32 (n_trials, n_channels, n_samples) of the crop
    times: np.ndarray  # (n_samples,) seconds
    ch_names: list[str]
    sfreq: float  # after decimation
    windows: dict | None  # the entry's {length, step}, or None
    tmin: float | None = None  # the entry's tmin: the first window's start (None: the first sample)


@dataclass(frozen=True)
class Plan:
    """What planning learns of an epochs data set: its subjects (None: one file without
    `{subject}`) and window starts (None: no windows)."""

    subjects: tuple[str, ...] | None
    windows: tuple[float, ...] | None


# ---------------------------------------------------------------- files


def pattern_files(path: str) -> list[tuple[str | None, str]]:
    """(subject, file) of every file the entry's path names, sorted by subject; a path
    without `{subject}` names one file (subject None), if it exists."""
    if "{subject}" not in path:
        return [(None, path)] if Path(path).is_file() else []
    regex = (
        re.escape(path)
        .replace(re.escape("{subject}"), "(?P<subject>[^/]+)", 1)
        .replace(re.escape("{subject}"), "(?P=subject)")
    )
    found = []
    for name in glob.glob(path.replace("{subject}", "*")):
        match = re.fullmatch(regex, Path(name).as_posix())
        if match and Path(name).is_file():
            found.append((match["subject"], name))
    return sorted(found)


def input_files(spec: dict) -> list[str]:
    """The files an epochs entry reads (Snakemake inputs of its training jobs)."""
    return [name for _, name in pattern_files(spec["path"])]


def _mne():
    import mne

    mne.set_log_level("ERROR")
    return mne


def _read(path: str, preload: bool):
    mne = _mne()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # file-name conventions (…-epo.fif) are MNE's advice, not ours to enforce
        return mne.read_epochs(path, preload=preload, verbose="error")


@functools.lru_cache(maxsize=4096)
def _header(path: str, mtime_ns: int, size: int) -> Header:
    try:
        epochs = _read(path, preload=False)
    except Exception as exc:  # MNE raises ValueError, OSError, KeyError, ... on a file that is no epochs file
        raise DataError(f"{path}: not an MNE epochs file ({type(exc).__name__}: {str(exc).strip()[:200]})") from None
    info = epochs.info
    return Header(
        path,
        tuple(info["ch_names"]),
        tuple(epochs.get_channel_types()),
        tuple(info["bads"]),
        float(info["sfreq"]),
        np.asarray(epochs.times, dtype=np.float64),
        dict(epochs.event_id),
        np.asarray(epochs.events[:, 2]),
        epochs.metadata,
    )


def read_header(path: str) -> Header:
    """A file's header, read once per process (per version of the file)."""
    stat = os.stat(path)
    return _header(str(path), stat.st_mtime_ns, stat.st_size)


# ---------------------------------------------------------------- channels, samples, windows


def picked_channels(header: Header, picks) -> list[str]:
    """Channel names of `picks`: 'all', 'data', a channel type (bad channels left out, as MNE
    does), or a list of channel names and types. Raises KeyError naming what is missing."""
    items = [picks] if isinstance(picks, str) else list(picks)
    names = []
    for item in items:
        if item in header.ch_names:
            chosen = [item]
        elif item in ("all", "data", "meg") or item in header.ch_types:
            types = {"all": set(header.ch_types), "data": set(DATA_TYPES), "meg": {"mag", "grad"}}.get(item, {item})
            chosen = [c for c, t in zip(header.ch_names, header.ch_types) if t in types and c not in header.bads]
        else:
            raise KeyError(item)
        names += [c for c in chosen if c not in names]
    return names


def crop_samples(times: np.ndarray, sfreq: float, tmin, tmax, decim: int) -> np.ndarray:
    """Indices of the samples kept: every `decim`-th counted from t = 0, inside [tmin, tmax]."""
    tol = _TOL / sfreq
    index = np.round(times * sfreq).astype(np.int64)
    keep = index % decim == 0
    if tmin is not None:
        keep &= times >= tmin - tol
    if tmax is not None:
        keep &= times <= tmax + tol
    return np.flatnonzero(keep)


def window_size(length: float, sfreq: float) -> int:
    """Samples in a window of `length` seconds at the (decimated) sampling rate."""
    return int(round(length * sfreq))


def window_offset(times: np.ndarray, sfreq: float, start: float) -> int:
    """The first sample (of the crop's `times`) at or after `start`."""
    return int(np.searchsorted(times, start - _TOL / sfreq))


def starts_of(times: np.ndarray, sfreq: float, windows: dict, tmin=None) -> list[float]:
    """Window starts: tmin (else the first sample), every step, while the window fits."""
    first = float(times[0]) if tmin is None else float(tmin)
    n = window_size(windows["length"], sfreq)
    starts = []
    for k in itertools.count():
        start = round(first + k * windows["step"], 6) + 0.0  # + 0.0: no -0.0
        if start > times[-1] + _TOL / sfreq or window_offset(times, sfreq, start) + n > len(times):
            break
        starts.append(start)
    return starts


def feature_names(ch_names: list[str], times: np.ndarray, sfreq: float) -> list[str]:
    """`<channel>@<time>` of each feature, channel-major."""
    decimals = max(3, math.ceil(math.log10(max(sfreq, 1.0))))
    return [f"{c}@{t:.{decimals}f}" for c in ch_names for t in times]


def window_features(data: Dataset, start: float, length: float) -> np.ndarray:
    """The features (n_trials, n_channels * window samples; channel-major) of the window of
    `length` seconds starting at `start`, from a data set `load_epochs` loaded."""
    e = _arrays(data)
    i0, n = window_offset(e.times, e.sfreq, start), window_size(length, e.sfreq)
    if n < 1 or i0 + n > len(e.times):
        raise DataError(
            refusal(
                data.where,
                f"the window {window_label(start)} s of {length} s does not fit in the crop ({e.times[0]:+.3f} to"
                f" {e.times[-1]:+.3f} s)",
                "choose windows inside tmin and tmax",
            )
        )
    return np.ascontiguousarray(e.trials[:, :, i0 : i0 + n]).reshape(len(e.trials), -1)


def window_starts(data: Dataset) -> list[float]:
    """Every window start of a loaded epochs data set's crop (its entry's windows)."""
    e = _arrays(data)
    if not e.windows:
        return []
    return starts_of(e.times, e.sfreq, e.windows, e.tmin)


def window_dataset(data: Dataset, start: float) -> Dataset:
    """The data set a windowed run trains on: the window's features, all else shared."""
    e = _arrays(data)
    length = e.windows["length"]
    i0, n = window_offset(e.times, e.sfreq, start), window_size(length, e.sfreq)
    names = feature_names(e.ch_names, e.times[i0 : i0 + n], e.sfreq)
    return replace(
        data,
        x=window_features(data, start, length),
        feature_names=names,
        where=f"{data.where}, window {window_label(start)} s",
    )


def _arrays(data: Dataset) -> EpochsArrays:
    if data.epochs is None:
        raise DataError(refusal(data.where, "has no time windows (not an epochs data set)", "use source: epochs"))
    return data.epochs


# ---------------------------------------------------------------- labels


def matched_events(event_id: dict, condition: str) -> list[str]:
    """Event names a condition selects: itself, else (MNE's tags) every name whose
    '/'-separated parts include all of the condition's."""
    if condition in event_id:
        return [condition]
    tags = set(condition.split("/"))
    return [name for name in event_id if tags <= set(name.split("/"))]


def trial_labels(
    codes: np.ndarray, event_id: dict, metadata, spec: dict, where: str, unmatched: list | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(rows kept, their raw labels) of one file's trials; problems raise ValueError(key,
    problem, fix). A condition the file's event_id lacks selects none of its trials (a
    subject without trials of a condition), and is appended to `unmatched` if given."""
    conditions, label = spec["conditions"], spec["label"]
    keep = np.ones(len(codes), bool)
    by_condition = None
    if conditions:
        by_condition = np.full(len(codes), -1)
        for i, condition in enumerate(conditions):
            names = matched_events(event_id, condition)
            if not names and unmatched is not None:
                unmatched.append(condition)
            hit = np.isin(codes, [event_id[n] for n in names])
            twice = hit & (by_condition >= 0)
            if twice.any():
                raise ValueError(
                    "conditions",
                    f"conditions {conditions[int(by_condition[twice][0])]!r} and {condition!r}"
                    f" both select trial {int(np.flatnonzero(twice)[0])} of {where}",
                    "list conditions that select disjoint events",
                )
            by_condition[hit] = i
        keep = by_condition >= 0
    if label is None:
        if by_condition is not None:
            return keep, np.asarray(conditions, dtype=object)[by_condition[keep]]
        names = {code: name for name, code in event_id.items()}
        return keep, np.array([names.get(int(c), str(int(c))) for c in codes], dtype=object)
    column = label["metadata"]
    if metadata is None:
        raise ValueError(
            "label",
            f"{where} has no metadata, so no column {column!r}",
            "label the trials by condition (leave label out) or add metadata to the epochs",
        )
    if column not in metadata.columns:
        raise ValueError(
            "label",
            f"metadata column {column!r} is not in {where} (columns: {', '.join(map(str, metadata.columns[:20]))})",
            "name an existing metadata column",
        )
    values = metadata[column].to_numpy()[keep]
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values.tolist()):
        raise ValueError(
            "label",
            f"metadata column {column!r} of {where} has missing values",
            "fill them, or select trials with conditions",
        )
    return keep, np.array([str(v) for v in values.tolist()], dtype=object)


def shape(spec: dict) -> tuple[int, int, int]:
    """(trials, features of one run, classes) of an epochs entry, from its files' headers
    alone (pre-flight sizing): a windowed run's features are one window's."""
    rows, labels, features = 0, set(), 0
    for _, name in pattern_files(spec["path"]):
        header = read_header(name)
        keep, raw = trial_labels(header.codes, header.event_id, header.metadata, spec, name)
        rows += int(keep.sum())
        labels |= set(raw.tolist())
        samples = crop_samples(header.times, header.sfreq, spec["tmin"], spec["tmax"], spec["decim"])
        n = window_size(spec["windows"]["length"], header.sfreq / spec["decim"]) if spec["windows"] else len(samples)
        features = len(picked_channels(header, spec["picks"])) * n
    return rows, features, max(2, len(labels))


# ---------------------------------------------------------------- planning


def _fail(source: str, key: str, problem: str, fix: str):
    raise ConfigError(refusal(source, problem, fix, key=key))


def plan(spec: dict, split: dict, source: str = "config") -> Plan:
    """Check an epochs entry against its files' headers (no data is read) and give its
    subjects and window starts; refusals name the file, the key and the fix."""
    files = pattern_files(spec["path"])
    versions = [(name, os.stat(name).st_mtime_ns, os.stat(name).st_size) for _, name in files]
    return _plan(json.dumps(spec, sort_keys=True), json.dumps(split, sort_keys=True), source, json.dumps(versions))


@functools.lru_cache(maxsize=256)
def _plan(spec_json: str, split_json: str, source: str, versions: str) -> Plan:
    """plan(), once per entry, split and version of its files."""
    spec, split = json.loads(spec_json), json.loads(split_json)
    entry = f"datasets.{spec.get('name', '<name>')}"
    path = spec["path"]
    files = pattern_files(path)
    if not files:
        what = "no file matches the pattern" if "{subject}" in path else "the file does not exist"
        _fail(
            source,
            f"{entry}.path",
            f"{what} {path!r} (working directory {os.getcwd()})",
            "check the path; {subject} stands for the subject label,"
            " relative paths start at the directory snakemake runs in",
        )
    bad = [s for s, _ in files if s is not None and not SUBJECT_RE.match(s)]
    if bad:
        _fail(
            source,
            f"{entry}.path",
            f"subject label {bad[0]!r} (from {dict((s, f) for s, f in files)[bad[0]]})"
            " has characters other than letters and digits",
            "name files by BIDS subject labels (sub-01, not sub-01_a) or make the pattern more specific",
        )
    reference = None
    counts = {}
    missing: dict[str, list[str]] = {}  # condition -> files whose event_id lacks it
    for subject, name in files:
        try:
            header = read_header(name)
        except DataError as exc:
            _fail(
                source,
                f"{entry}.path",
                str(exc),
                "point the path at MNE epochs files (saved with epochs.save(...-epo.fif))",
            )
        try:
            channels = picked_channels(header, spec["picks"])
        except KeyError as exc:
            _fail(
                source,
                f"{entry}.picks",
                f"{exc.args[0]!r} is neither a channel nor a channel type of {name}",
                "give channel names of the file, a channel type (eeg, meg, ...), 'data' or 'all'",
            )
        if not channels:
            _fail(
                source,
                f"{entry}.picks",
                f"{spec['picks']!r} picks no channel of {name}",
                "give channel names of the file, a channel type (eeg, meg, ...), 'data' or 'all'",
            )
        t0, t1 = header.times[0], header.times[-1]
        for key, value in (("tmin", spec["tmin"]), ("tmax", spec["tmax"])):
            if value is not None and not (t0 - _TOL / header.sfreq <= value <= t1 + _TOL / header.sfreq):
                _fail(
                    source,
                    f"{entry}.{key}",
                    f"{value} s is outside the epochs of {name} ({t0:+.3f} to {t1:+.3f} s)",
                    f"give a {key} inside that interval, or leave it out",
                )
        samples = crop_samples(header.times, header.sfreq, spec["tmin"], spec["tmax"], spec["decim"])
        if len(samples) == 0:
            _fail(
                source,
                f"{entry}.tmin",
                f"the crop {spec['tmin']} to {spec['tmax']} s with decim {spec['decim']} keeps no sample of {name}",
                "widen the crop or lower decim",
            )
        times = header.times[samples]
        if reference is None:
            reference = (name, channels, header.sfreq, times)
            ref_bads = header.bads
        else:
            ref_name, ref_channels, ref_sfreq, ref_times = reference
            if header.sfreq != ref_sfreq:
                _fail(
                    source,
                    f"{entry}.path",
                    f"{name} is sampled at {header.sfreq:g} Hz, {ref_name} at {ref_sfreq:g} Hz",
                    "resample the files to one rate (epochs.resample) before decoding across them",
                )
            marked = _marked_bad(channels, header.bads, name, ref_channels, ref_bads, ref_name)
            if marked:
                _fail(source, f"{entry}.picks", *marked)
            if channels != ref_channels:
                i = next(
                    (k for k, (a, b) in enumerate(zip(channels, ref_channels)) if a != b),
                    min(len(channels), len(ref_channels)),
                )
                mine = channels[i] if i < len(channels) else "(none)"
                theirs = ref_channels[i] if i < len(ref_channels) else "(none)"
                _fail(
                    source,
                    f"{entry}.picks",
                    f"{name} differs in its picked channels from {ref_name}:"
                    f" channel {i + 1} is {mine!r} there, {theirs!r} in {ref_name}",
                    "pick the same channels in every file (list them by name, or interpolate bad channels)",
                )
            if len(times) != len(ref_times) or not np.allclose(times, ref_times, atol=_TOL / header.sfreq):
                _fail(
                    source,
                    f"{entry}.tmin",
                    f"{name} keeps other sample times ({times[0]:+.3f} to {times[-1]:+.3f} s, {len(times)} samples)"
                    f" than {ref_name} ({ref_times[0]:+.3f} to {ref_times[-1]:+.3f} s, {len(ref_times)} samples)",
                    "set tmin and tmax inside every file's epochs",
                )
        try:
            unmatched: list = []
            keep, labels = trial_labels(header.codes, header.event_id, header.metadata, spec, name, unmatched)
        except ValueError as exc:
            key, problem, fix = exc.args
            _fail(source, f"{entry}.{key}", problem, fix)
        for condition in unmatched:
            missing.setdefault(condition, []).append(name)
            if len(missing[condition]) == len(files):
                events = sorted({e for _, f in files for e in read_header(f).event_id})
                where = name if len(files) == 1 else f"any of the {len(files)} files (e.g. {name})"
                _fail(
                    source,
                    f"{entry}.conditions",
                    f"condition {condition!r} is not in the event_id of {where} (events: {', '.join(events)})",
                    "use event names or '/' tags of the files' event_id",
                )
        if not keep.any():
            _fail(
                source,
                f"{entry}.conditions",
                f"{name} has no trial of the conditions {spec['conditions']}",
                "check the conditions, or remove that file",
            )
        values, n = np.unique(labels.astype(str), return_counts=True)
        counts[subject if subject is not None else name] = (name, dict(zip(values.tolist(), n.tolist())))
    _, channels, header_sfreq, times = reference
    sfreq = header_sfreq / spec["decim"]
    windows = None
    if spec["windows"]:
        length = spec["windows"]["length"]
        if window_size(length, sfreq) < 1:
            _fail(
                source,
                f"{entry}.windows.length",
                f"{length} s holds no sample at {sfreq:g} Hz (after decim {spec['decim']})",
                f"give a length of at least {1 / sfreq:g} s",
            )
        crop = times[-1] - times[0] + 1 / sfreq
        if window_size(length, sfreq) > len(times):
            _fail(
                source,
                f"{entry}.windows.length",
                f"a window of {length} s is longer than the crop ({times[0]:+.3f} to {times[-1]:+.3f} s, {crop:.3f} s)",
                "shorten the windows or widen tmin/tmax",
            )
        windows = tuple(starts_of(times, sfreq, spec["windows"], spec["tmin"]))
        if not windows:
            _fail(
                source,
                f"{entry}.windows.length",
                f"no window of {length} s fits in the crop from tmin {spec['tmin']}",
                "shorten the windows or widen tmin/tmax",
            )
        labels = [window_label(s) for s in windows]
        if len(set(labels)) != len(labels):
            _fail(
                source,
                f"{entry}.windows.step",
                f"step {spec['windows']['step']} s gives windows whose starts are one millisecond apart or less"
                " (run directories name them to the millisecond)",
                "use a step of at least 0.001 s",
            )
    subjects = None if files[0][0] is None else tuple(s for s, _ in files)
    within = split.get("within")
    if within:
        if subjects is None:
            _fail(
                source,
                "split.within",
                f"{spec['path']!r} names one file, without {{subject}}, so there is no subject to decode within",
                "name files by a pattern with {subject}, or remove split.within",
            )
        _check_within(counts, split, source)
    return Plan(subjects, windows)


def _marked_bad(channels, bads, name, ref_channels, ref_bads, ref_name) -> tuple[str, str] | None:
    """(problem, fix) where two files' picked channels differ because one marks a channel bad
    (MNE leaves bad channels out of a type's picks), else None."""
    pairs = ((channels, ref_channels, bads, name), (ref_channels, channels, ref_bads, ref_name))
    for mine, theirs, bad_in, other in pairs:
        lost = [c for c in theirs if c not in mine and c in bad_in]
        if lost:
            elsewhere = ref_name if other == name else name
            many = len(lost) > 1
            problem = (
                f"{other} marks channel{'s' if many else ''} {', '.join(map(repr, lost))} bad (info['bads']),"
                f" so its picks leave {'them' if many else 'it'} out and its channels differ from {elsewhere}'s"
            )
            fix = (
                "interpolate bad channels (epochs.interpolate_bads()) or drop them (epochs.drop_channels) in every"
                " subject's file, or list the channels to use under picks"
            )
            return problem, fix
    return None


def _check_within(counts: dict, split: dict, source: str) -> None:
    """Each subject's trials must hold two classes (and enough of each for its folds)."""
    need = split["folds"] if split["method"] == "kfold" else 3
    for subject, (name, classes) in counts.items():
        if len(classes) < 2:
            _fail(
                source,
                "split.within",
                f"subject {subject!r} ({name}) has trials of one class only ({next(iter(classes))!r}),"
                " but within-subject decoding needs two",
                "remove that subject's file, or decode across subjects (leave_one_group_out)",
            )
        small = min(classes, key=classes.get)
        if classes[small] < need:
            _fail(
                source,
                "split.folds",
                f"subject {subject!r} ({name}) has {classes[small]} trials of class {small!r},"
                f" too few for {need} stratified folds within the subject",
                "lower split.folds, or remove that subject's file",
            )


# ---------------------------------------------------------------- loading


def load_epochs(spec: dict, group: str | None = None) -> Dataset:
    """`source: epochs`: each file read once; the features of the whole crop (x) and the
    trials kept for windows (`Dataset.epochs`). `group` must be `subject` (or None)."""
    entry = f"datasets.{spec.get('name', '<name>')}"
    files = pattern_files(spec["path"])
    if not files:
        raise DataError(refusal(spec["path"], "no epochs file found", f"check {entry}.path"))
    if group is not None and (group != SUBJECT or files[0][0] is None):
        raise DataError(
            refusal(
                spec["path"],
                f"an epochs data set's only group column is {SUBJECT!r}, from a path with {{subject}}",
                f"set split.group (or split.within) to {SUBJECT} and name files by a pattern",
            )
        )
    parts, labels, groups, digests = [], [], [], []
    channels = times = sfreq = None
    for subject, name in files:
        try:
            epochs = _read(name, preload=True)
        except Exception as exc:
            raise DataError(
                refusal(
                    name,
                    f"not an MNE epochs file ({type(exc).__name__}: {exc})",
                    f"point {entry}.path at epochs files",
                )
            ) from None
        header = read_header(name)
        names = picked_channels(header, spec["picks"])
        samples = crop_samples(header.times, header.sfreq, spec["tmin"], spec["tmax"], spec["decim"])
        if channels is None:
            channels, times, sfreq = names, header.times[samples], header.sfreq / spec["decim"]
        elif names != channels or len(samples) != len(times):
            raise DataError(
                refusal(
                    name,
                    "channels or samples differ from the first file's",
                    "give every file the same channels, rate and epoch times",
                )
            )
        try:
            keep, raw = trial_labels(header.codes, header.event_id, header.metadata, spec, name)
        except ValueError as exc:
            key, problem, fix = exc.args
            raise DataError(refusal(None, problem, f"{fix} ({entry}.{key})")) from None
        data = epochs.get_data(picks=names)[keep][:, :, samples]
        parts.append(data.astype(np.float32))
        labels.append(raw)
        groups += [subject] * int(keep.sum())
        digests.append((subject or "", file_digest(name)))
    trials = np.concatenate(parts)
    raw = np.concatenate(labels)
    if spec["conditions"] and spec["label"] is None:
        y = np.array([spec["conditions"].index(v) for v in raw.tolist()], dtype=np.int64)
        class_names = list(spec["conditions"])
    else:
        y, class_names = encode_labels(raw.astype(str), f"data set {spec['path']}")
    x = checked_features(trials.reshape(len(trials), -1), f"data set {spec['path']}")
    fingerprint = digest_text("\n".join(f"{s}:{d}" for s, d in digests))
    dataset = Dataset(
        x,
        y,
        class_names,
        fingerprint,
        None if group is None else np.array(groups, dtype=object),
        f"dataset '{spec.get('name', spec['path'])}' (epochs {spec['path']})",
    )
    dataset.feature_names = feature_names(channels, times, sfreq)
    dataset.epochs = EpochsArrays(x.reshape(trials.shape), times, channels, sfreq, spec["windows"], spec["tmin"])
    dataset.group_fingerprints = {s: d for s, d in digests if s}
    return dataset


# ---------------------------------------------------------------- new trials for a trained model


def read_features(spec: dict, path: str, names: list[str], n_features: int, ignore: tuple = ()) -> np.ndarray:
    """New trials for a trained model (scripts/predict.py): an epochs file's channels at the
    model's samples, found by the model's feature names (`<channel>@<time>`), so a model of any
    window takes the whole epochs. The file's conditions and metadata are not read."""
    where = f"new data file {path}"
    if not Path(path).is_file():
        raise DataError(refusal(where, "not found", "check the path"))
    try:
        header = read_header(path)
    except DataError as exc:
        raise DataError(refusal(None, str(exc), "give an MNE epochs file (-epo.fif) like the data set's")) from None
    if not names or len(names) != n_features:
        raise DataError(
            refusal(where, "the model lists no feature names", "re-export its run with scripts/export_models.py")
        )
    channels = list(dict.fromkeys(name.rsplit("@", 1)[0] for name in names))
    absent = [c for c in channels if c not in header.ch_names]
    if absent:
        raise DataError(
            refusal(
                where,
                f"channel{'s' if len(absent) > 1 else ''} {', '.join(map(repr, absent[:10]))} of the model missing"
                f" (the file has {', '.join(header.ch_names[:20])})",
                "give epochs with the data set's channels",
            )
        )
    samples = crop_samples(header.times, header.sfreq, None, None, spec.get("decim", 1))
    available = feature_names(channels, header.times[samples], header.sfreq / spec.get("decim", 1))
    column = {name: i for i, name in enumerate(available)}
    missing = [name for name in names if name not in column]
    if missing:
        raise DataError(
            refusal(
                where,
                f"samples {', '.join(map(repr, missing[:3]))} of the model are not in the file"
                f" (its epochs run from {header.times[0]:+.3f} to {header.times[-1]:+.3f} s at {header.sfreq:g} Hz)",
                "give epochs with the data set's sampling rate and epoch times",
            )
        )
    data = _read(path, preload=True).get_data(picks=channels)[:, :, samples].astype(np.float32)
    x = data.reshape(len(data), -1)[:, [column[name] for name in names]]
    return checked_features(x, where, names)


# ---------------------------------------------------------------- channel positions for the summary


def channel_info(spec: dict):
    """The measurement info (channels, types, positions of its montage) of an epochs entry's
    first file, without its data; None where it has no file (rule `patterns` draws topomaps with it)."""
    files = pattern_files(spec["path"])
    if not files:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _mne().io.read_info(files[0][1], verbose="error")
