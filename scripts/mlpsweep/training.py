"""Train runs in packs and record each as a run directory of its own.

For the runs of one planned pack: load their data and splits (a data problem fails that run
alone), skip the finished ones, restore any checkpointed state, train the rest as one packed
computation (mlpsweep.engine) with a checkpoint after every epoch, evaluate each member and
write its run directory (rundir.py). A member's numbers are those it would have alone.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import auc, checkpoint, compact, provenance, record, rundir
from .data import DataError, Splits, class_weights, load_dataset, one_hot, run_folds, split_seed
from .data.splits import group_rows, labelled, standardized
from .export import MODEL_FORMAT, model_info
from .grid import Run
from .job_time import JobClock
from .preemption import StopFlag
from .progress import PackProgress
from .writer import THREAD_NAME, Writer

log = logging.getLogger("mlpsweep")
PATHS_LOGGED = 16  # run paths a pack's first log line lists (pack_line)


class Interrupted(RuntimeError):
    """Training stopped on a signal; every member keeps the checkpoint of its last epoch."""


def configure_backend(threads: int) -> None:
    """Threads matched to the job's cores, deterministic ops, and a GPU that is shared."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return  # JAX: XLA picks its threads; its CPU and GPU ops are deterministic here
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError as exc:  # TensorFlow already started in this process (tests, notebooks)
        log.warning("TensorFlow already initialized; thread and GPU settings unchanged (%s)", exc)
    tf.config.experimental.enable_op_determinism()


class DataCache:
    """Data sets loaded once per process, and what runs of a job share of their splits: the rows of
    each (subject, seed, fold), the windows' features, and the standardized parts of each
    (window, subject, seed, fold), which its label-permutation runs reuse with shuffled labels."""

    def __init__(self, keep_bytes: int = 256 * 2**20):
        self._data = {}
        self._rows: OrderedDict = OrderedDict()  # split rows: small integer arrays
        self._labels: OrderedDict = OrderedDict()  # a permutation's training and validation labels, per split
        self._windows: OrderedDict = OrderedDict()  # window data sets (features of every trial)
        self._bases: OrderedDict = OrderedDict()  # standardized parts, true labels
        self.keep_bytes = keep_bytes  # of windows, and of standardized parts, each (least recently used go)
        self._texts: dict = {}  # id(a config dict) -> (the dict, its JSON)
        self._group_rows: dict = {}  # (data set key, group) -> the group's rows

    def _text(self, obj) -> str:
        """The JSON of a config dict, made once per dict (a cell's runs share their data set entry and split)."""
        found = self._texts.get(id(obj))
        if found is None or found[0] is not obj:
            found = self._texts[id(obj)] = (obj, json.dumps(obj, sort_keys=True))  # held: its id is not reused
        return found[1]

    def dataset(self, config: dict):
        """The data set entry loaded (once: the runs of every window and subject share it)."""
        split = config["split"]
        group = split.get("within") or split["group"]  # both: folds over groups (runs) within subjects
        key = json.dumps([self._text(config["dataset"]), group, split["group"]])
        if key not in self._data:
            self._data[key] = load_dataset(config["dataset"], group)
            if run_folds.applies(split):
                self._data[key].split_groups = run_folds.trial_groups(config["dataset"], group, split["group"])
        return self._data[key]

    def run_data(self, config: dict):
        """The data set the run trains on: the loaded one, or its run's time window's features."""
        data = self.dataset(config)
        if config.get("window") is None:
            return data
        from .data.epochs import window_dataset

        key = json.dumps([self._text(config["dataset"]), self._text(config["split"]), config["window"]])
        found = _recent(self._windows, key)
        if found is None:
            found = self._windows[key] = window_dataset(data, config["window"])
            _trim(self._windows, self.keep_bytes, lambda d: d.x.nbytes)
        return found

    def splits(self, config: dict) -> tuple[Splits, str]:
        data = self.dataset(config)
        split = config["split"]
        subject, fold, seed = config.get("subject"), config.get("fold"), config["seed"]
        rows_key = json.dumps(
            [self._text(config["dataset"]), self._text(split), split_seed(split, seed), fold, subject]
        )
        base_key = json.dumps([rows_key, config.get("window")])
        permutation = config.get("permutation")
        labels_key = None if permutation is None else json.dumps([rows_key, permutation])
        base = _recent(self._bases, base_key)
        if base is None:
            base = standardized(
                self.run_data(config), split, seed, fold, group=subject, rows=_recent(self._rows, rows_key)
            )
            self._rows[rows_key] = base.rows
            self._bases[base_key] = base
            self._forget()
        labels = None if labels_key is None else _recent(self._labels, labels_key)
        if labels is not None:  # this permutation's labels, drawn for another window of the split
            return base.permuted(*labels), run_fingerprint(data, subject)
        at = None
        if subject is not None:
            at = self._group_rows.get((id(data), subject))
            if at is None:
                at = self._group_rows[(id(data), subject)] = group_rows(data, subject)
        out = labelled(data, base, split, seed, fold, permutation, group=subject, rows_of_group=at)
        if labels_key is not None:
            self._labels[labels_key] = (out.y_train, out.y_val)
            if len(self._labels) > 4096:
                self._labels.popitem(last=False)
        return out, run_fingerprint(data, subject)

    def _forget(self) -> None:
        """Keep the standardized parts within keep_bytes, the rows of 4,096 splits."""
        _trim(self._bases, self.keep_bytes, _nbytes)
        while len(self._rows) > 4096:
            self._rows.popitem(last=False)


def _trim(cache: OrderedDict, budget: int, size_of) -> None:
    """Drop the least recently used entries until the rest hold at most `budget` bytes (the newest stays)."""
    held = sum(size_of(v) for v in cache.values())
    while held > budget and len(cache) > 1:
        held -= size_of(cache.popitem(last=False)[1])


def _recent(cache: OrderedDict, key: str):
    """cache[key] marked as the most recently used; None where absent."""
    if key not in cache:
        return None
    cache.move_to_end(key)
    return cache[key]


def _nbytes(s: Splits) -> int:
    return s.x_train.nbytes + s.x_val.nbytes + s.x_test.nbytes


def run_fingerprint(data, subject: str | None) -> str:
    """The fingerprint of the data a run uses: its subject's own file (within-subject decoding
    of per-subject files: adding a subject retrains no other subject's runs), else the data set's."""
    if subject is not None and data.group_fingerprints and subject in data.group_fingerprints:
        return data.group_fingerprints[subject]
    return data.fingerprint


@dataclass
class Prepared:
    """A run ready to be trained: its directory, data and engine member."""

    run: Run
    run_dir: Path
    splits: Splits
    fingerprint: str
    started: str
    data: object = None  # the loaded Dataset of its entry (all windows): generalization tests other windows


def _member(p: Prepared, one_hots: dict | None = None):
    """The engine member of a prepared run; members whose runs share a split share its arrays
    (the pack then keeps one copy of them), through `one_hots` (per split, for one pack)."""
    from .engine.pack import Member

    c = p.run.config
    training, arch = c["training"], c["architecture"]
    s = p.splits
    one_hots = {} if one_hots is None else one_hots
    if id(s) not in one_hots:
        one_hots[id(s)] = (one_hot(s.y_train, s.n_classes), one_hot(s.y_val, s.n_classes))
    y_train, y_val = one_hots[id(s)]
    return Member(
        seed=c["seed"],
        x_train=s.x_train,
        y_train=y_train,
        x_val=s.x_val,
        y_val=y_val,
        epochs=training["epochs"],
        hyper={
            "learning_rate": training["learning_rate"],
            "momentum": training["momentum"],
            "l2": arch["l2"],
            "dropout": arch["dropout"],
        },
        class_weights=class_weights(s.y_train, s.n_classes, training["class_weight"]),
        early_stopping=training["early_stopping"],
    )


def prepare(
    runs: list[Run], results: Path, cache: DataCache, keep_compact: dict | None = None, read=None
) -> tuple[list[Prepared], dict[str, str]]:
    """Load each run's data; (runs to train, {path: status} of runs skipped or failed).
    `keep_compact`: execution.keep, whose compactly recorded runs get no directory. `read`: how a
    run's record is read (default record.read; a job's record.JobReader)."""
    read = read or record.read
    todo, statuses = [], {}
    for run in runs:
        run_dir = Path(results) / run.path
        if not (keep_compact and compact.keeps_scores_only(run, keep_compact)):
            run_dir.mkdir(parents=True, exist_ok=True)
        started = provenance.utc_now()
        try:
            splits, fingerprint = cache.splits(run.config)
        except DataError as exc:
            run_dir.mkdir(parents=True, exist_ok=True)
            rundir.write_failure(run_dir, run.hash, f"{type(exc).__name__}: {exc}", provenance.utc_now())
            handlers = _run_logs([run_dir])
            try:
                log.error("%s: FAILED: %s", run_dir, exc)
            finally:
                _close(handlers)
            statuses[run.path] = "failed"
            continue
        if record.is_done(read(run_dir), run.config, fingerprint):
            log.info("%s: already finished with this config and data; not training again", run_dir)
            statuses[run.path] = "skipped"
            continue
        (run_dir / rundir.METRICS_FILE).unlink(missing_ok=True)  # a stale result of another identity
        todo.append(Prepared(run, run_dir, splits, fingerprint, started, cache.dataset(run.config)))
    return todo, statuses


@dataclass(frozen=True)
class JobSettings:
    """What the packs of a training job share: how they train, stop, report and are written."""

    steps_per_execution: int = 256
    stop: StopFlag | None = None  # the job's signal flag; a fresh one if None
    extra_provenance: dict = field(default_factory=dict)  # what the job adds to each record (threads, GPU check)
    exporter: ModelExporter | None = None  # one per job: it reuses built models
    writer: Writer | None = None  # see train_runs
    progress_seconds: float = 30.0
    checkpoint_seconds: float = 0.0  # a pack's checkpoint after an epoch at most this often (and on a stop signal)
    generalization: bool = False  # summary.generalization: windowed runs are also tested at every window
    patterns: bool = False  # summary.patterns: windowed runs record their activation patterns (patterns.py)
    keep: dict | None = None  # execution.keep: compactly recorded runs (compact.py); None: every run a directory
    clock: JobClock | None = None  # the job's time per part (job_time.py); None: not timed
    read: Callable | None = None  # how a run's record is read before training it (see prepare)

    def part(self, name: str):
        """Time a block as one of the job's parts (job_time.PARTS), where the job is timed."""
        return nullcontext() if self.clock is None else self.clock.part(name)


def train_runs(runs: list[Run], results: Path, cache: DataCache, settings: JobSettings | None = None) -> dict[str, str]:
    """Train one planned pack's runs (those not finished yet); {run path: status}.

    Run directories are written by `settings.writer` (writer.py) while the caller goes on: the
    statuses of runs whose writing then fails are in `writer.failures`. Without a writer, one is
    used here and drained before returning (statuses then count failed writes as failed)."""
    settings = settings or JobSettings()
    own = settings.writer is None
    stop, exporter = settings.stop or StopFlag(), settings.exporter or ModelExporter()
    job = replace(settings, stop=stop, exporter=exporter, writer=settings.writer or Writer())
    with job.part("data"):
        todo, statuses = prepare(runs, Path(results), cache, job.keep, job.read)
    groups: dict[int, list[Prepared]] = {}
    for p in todo:  # one computation needs members with equal numbers of training rows
        groups.setdefault(len(p.splits.y_train), []).append(p)
    try:
        for group in groups.values():
            statuses.update(_train_pack(group, Path(results), job))
    finally:
        if own:
            statuses.update(dict.fromkeys(job.writer.close(), "failed"))
    return statuses


def _shape(p: Prepared):
    from .engine.network import Shape

    arch = p.run.config["architecture"]
    return Shape(p.splits.n_features, tuple(arch["hidden"]), p.splits.n_classes, arch["activation"], arch["batch_norm"])


def build_pack(group: list[Prepared], steps_per_execution: int):
    """The engine's Pack of these prepared runs (of one kind), members in the given order."""
    from dataclasses import replace

    from .engine.pack import Pack

    one_hots: dict = {}
    members = [_member(p, one_hots) for p in group]
    shape = replace(_shape(group[0]), dropout=any(m.hyper["dropout"] > 0 for m in members))
    training = group[0].run.config["training"]
    return Pack(shape, training["optimizer"], training["batch_size"], members, steps_per_execution)


def _train_pack(group: list[Prepared], results: Path, job: JobSettings) -> dict[str, str]:
    from .engine.pack import EarlyStopping

    group = sorted(group, key=lambda p: p.run.path)
    stop = job.stop
    with job.part("data"):
        pack = build_pack(group, job.steps_per_execution)
    key = checkpoint.pack_key([p.run.hash for p in group])
    ckpt = checkpoint.path_of(results, key)
    resumed = {}
    with job.part("checkpoints"):
        restored = checkpoint.find(results, {p.run.path: (p.run.hash, p.fingerprint) for p in group})
        for k, p in enumerate(group):
            found = restored.get(p.run.path)
            if found is None:
                continue
            _restore(pack, k, found, EarlyStopping)
            resumed[p.run.path] = found.state["epoch"]
            log.info("%s: resuming from epoch %d (checkpoint %s)", p.run_dir, found.state["epoch"], found.path.name)
    handlers = _run_logs([p.run_dir for p in group if not compact.keeps_scores_only(p.run, job.keep)])
    try:
        log.info("%s", pack_line(key, [p.run.path for p in group]))
        t0 = saved = time.perf_counter()
        unsaved = False  # epochs completed since the last checkpoint

        def save() -> float:
            with job.part("checkpoints"):
                checkpoint.save(ckpt, _states(pack, group), _arrays(pack))
            return time.perf_counter()

        progress = PackProgress(key, job.progress_seconds)
        while any(m.active for m in pack.members):
            if stop.set or not _timed_epoch(pack, job.clock, stop):
                if unsaved:  # the state of the last completed epoch (a stopped epoch is undone)
                    save()
                epochs = sorted({m.epoch for m in pack.members})
                log.warning(
                    "interrupted by signal %s; the checkpoint keeps epoch %s and a retry resumes there",
                    stop.signum,
                    "/".join(map(str, epochs)),
                )
                raise Interrupted(f"signal {stop.signum}; each run resumes after its last completed epoch")
            unsaved = True
            if time.perf_counter() - saved >= job.checkpoint_seconds:
                saved, unsaved = save(), False
            progress.epoch_done(pack.members)
        seconds = time.perf_counter() - t0
        with job.part("evaluation"):
            statuses = _record(pack, group, key, resumed, job, seconds)
    finally:
        _close(handlers)
    for path in {ckpt, *(f.path for f in restored.values())}:  # after the pack's writes (one thread, in order)
        job.writer.submit(None, lambda path=path: checkpoint.remove_if_done(path, results))
    return statuses


def _timed_epoch(pack, clock: JobClock | None, stop: StopFlag) -> bool:
    """pack.train_epoch, its time split into the job's compiling, training and validation parts."""
    if clock is None:
        return pack.train_epoch(lambda: stop.set)
    trace, validation = pack.trace_seconds, pack.validation_seconds
    with clock.part("training"):
        done = pack.train_epoch(lambda: stop.set)
    clock.move("training", "compiling", pack.trace_seconds - trace)
    clock.move("training", "validation", pack.validation_seconds - validation)
    return done


def _run_logs(run_dirs: list[Path]) -> list[logging.Handler]:
    """Each run's train.log receives the job's log while its pack trains, but the lines about
    its siblings. Which runs a line names is found once per line, not once per run's log (at
    4,096 runs a pack, once per log would be 4,096 x 4,096 searches a line)."""
    handlers = []
    dirs = [str(d) for d in run_dirs]
    last = [(None, frozenset())]  # the line last looked at, and the runs it names

    def named(record) -> frozenset:
        found = last[0]
        if found[0] is not record:
            msg = record.getMessage()
            found = last[0] = (record, frozenset(d for d in dirs if d in msg))
        return found[1]

    for run_dir in run_dirs:
        own = str(run_dir)
        handler = logging.FileHandler(run_dir / rundir.LOG_FILE)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        # lines of the writer thread are about packs before this one: each run's own goes to its log
        handler.addFilter(
            lambda record, own=own: record.threadName != THREAD_NAME and (own in (names := named(record)) or not names)
        )
        logging.getLogger().addHandler(handler)
        handlers.append(handler)
    return handlers


def pack_line(key: str, paths: list[str]) -> str:
    """The log line that starts a pack: its runs, or for a pack of more than PATHS_LOGGED runs
    the first and the last (every path of a pack of 4,096 would make a line of 300 KB)."""
    if len(paths) <= PATHS_LOGGED:
        return f"pack {key}: {len(paths)} runs ({', '.join(paths)})"
    return f"pack {key}: {len(paths)} runs ({paths[0]} ... {paths[-1]})"


def _close(handlers: list[logging.Handler]) -> None:
    for handler in handlers:
        logging.getLogger().removeHandler(handler)
        handler.close()


def _states(pack, group: list[Prepared]) -> list[dict]:
    return [
        {
            "path": p.run.path,
            "hash": p.run.hash,
            "fingerprint": p.fingerprint,
            "epoch": m.epoch,
            "status": m.status,
            "history": m.history,
            "fit_seconds": m.fit_seconds,
            "early_stopping": m.stopping.state(),
            "has_best": m.best_weights is not None,
        }
        for p, m in zip(group, pack.members)
    ]


def _arrays(pack) -> dict[str, np.ndarray]:
    arrays = pack.state_arrays()
    if any(m.best_weights is not None for m in pack.members):
        for i, w in enumerate(arrays[f"w{i}"] for i in range(len(pack.weights))):
            arrays[f"b{i}"] = np.stack(
                [m.best_weights[i] if m.best_weights is not None else np.zeros_like(w[0]) for m in pack.members]
            )
    return arrays


def _restore(pack, k: int, found: checkpoint.Found, early_stopping_cls) -> None:
    m, state = pack.members[k], found.state
    pack.load_member_state(k, found.arrays, found.index)
    m.epoch, m.status, m.history, m.fit_seconds = (
        state["epoch"],
        state["status"],
        state["history"],
        state["fit_seconds"],
    )
    es = m.stopping
    m.stopping = early_stopping_cls(
        es.patience, es.monitor, es.min_delta, es.restore_best_weights, **state["early_stopping"]
    )
    if state["has_best"]:
        m.best_weights = [found.arrays[f"b{i}"][found.index] for i in range(len(pack.weights))]


class ModelExporter:
    """Saves members' weights as complete Keras models (export.py: the training rows'
    standardization in front of the MLP), reusing one built model per architecture."""

    def __init__(self):
        self._models = {}

    def writer(
        self,
        config: dict,
        n_features: int,
        n_classes: int,
        weights: list[np.ndarray],
        *,
        mean: np.ndarray | None = None,
        scale: np.ndarray | None = None,
    ):
        """A function that saves the run's trained model to a path, atomically and durably;
        it builds nothing the caller's thread must own, so any one thread may call it.
        Without `mean` and `scale` the model's inputs are taken as standardized already."""
        from .export import save_model, set_complete_weights
        from .model import build_classifier

        key = json.dumps([config["architecture"], n_features, n_classes], sort_keys=True)
        mean = np.zeros(n_features) if mean is None else mean
        scale = np.ones(n_features) if scale is None else scale

        def write(path: Path) -> None:
            if key not in self._models:
                self._models[key] = build_classifier(config["architecture"], n_features, n_classes)
            model = self._models[key]
            set_complete_weights(model, weights, mean, scale)
            save_model(model, path)  # not compiled: no optimizer state to skip on loading

        return write


def _generalization(pack, stacked, group: list[Prepared], keep: dict | None = None) -> list:
    """Per member, its test scores at every window of its length [(start, accuracy, n_test, balanced accuracy, AUC)]
    (None for a member without a window, or one recorded as scores only, which keeps no generalization.csv):
    mlpsweep.generalization (prediction only, in packs)."""
    wanted = [p.run.window is not None and not compact.keeps_scores_only(p.run, keep) for p in group]
    if not any(wanted):
        return [None] * len(group)
    from . import generalization

    found = generalization.evaluate(pack, stacked, group, wanted=wanted)
    return [
        None if rows is None else [(r[0], r[1], r[2] if len(r) > 2 else len(p.splits.y_test), *r[3:]) for r in rows]
        for p, rows in zip(group, found)
    ]


def _record(
    pack, group: list[Prepared], key: str, resumed: dict, job: JobSettings, pack_seconds: float = math.nan
) -> dict[str, str]:
    """Evaluate every member and hand its record and files to the job's writer."""
    import keras

    scores_only = [compact.keeps_scores_only(p.run, job.keep) for p in group]
    exported = [k for k, only in enumerate(scores_only) if not only]
    validation = pack.final_validation()
    if validation is not None:  # no member ends on restored best weights: the pack's are final
        stacked = list(pack.weights)
        final = dict(zip(exported, pack.all_final_weights(exported)))  # host copies for the saved models only
    else:
        final = dict(enumerate(pack.all_final_weights()))
        stacked = [pack.compiled.to_device(np.stack(ws)) for ws in zip(*final.values())]
    n_params = sum(math.prod(tuple(w.shape)[1:]) for w in pack.weights)
    parts = {}
    for part in record.PARTS:
        if part == "train" and all(scores_only):
            continue  # a compact record keeps no training-part metrics
        if part == "val" and validation is not None:
            parts[part] = validation  # the last epoch evaluated the final weights already
            continue
        xs = [getattr(p.splits, f"x_{part}") for p in group]
        ys = [one_hot(getattr(p.splits, f"y_{part}"), p.splits.n_classes) for p in group]
        parts[part] = pack.evaluate(xs, ys, stacked)
    across_windows = _generalization(pack, stacked, group, job.keep) if job.generalization else [None] * len(group)
    members, backend = [p.run.path for p in group], keras.backend.backend()
    statuses, compact_records = {}, []
    outcomes = [record.Outcome(m.status, m.stopping.best_epoch, m.epoch, m.fit_seconds, n_params) for m in pack.members]
    evaluations = [
        {part: _evaluated(parts[part], k, p.splits, part) for part in parts} if m.status != "diverged" else None
        for k, (p, m) in enumerate(zip(group, pack.members))
    ]
    metrics = record.metrics_of_members(outcomes, evaluations)  # the pack's members at once
    for k, (p, m) in enumerate(zip(group, pack.members)):
        s, evaluated = p.splits, evaluations[k]
        finished = evaluated is not None
        facts = record.PackFacts(key, members, k, pack.trace_seconds, resumed.get(p.run.path), backend)
        rec = record.build(
            p.run, s, p.fingerprint, outcomes[k], evaluated, started=p.started, pack=facts, extra=job.extra_provenance,
            model_format=MODEL_FORMAT if finished else None, metrics=metrics[k],
        )  # fmt: skip
        statuses[p.run.path] = rec.status
        if scores_only[k]:
            compact_records.append((p, rec))
            continue
        files = {}
        if finished:
            test_pred = evaluated["test"].y_pred
            model = job.exporter.writer(p.run.config, s.n_features, s.n_classes, final[k], mean=s.mean, scale=s.scale)
            p_test = auc.probabilities(evaluated["test"].logits)
            predictions = rundir.predictions_csv(
                s.test_index, s.test_groups, s.y_test, test_pred, s.class_names, p_test
            )
            files.update(model=model, predictions=predictions, model_info=model_info(rec, rec.data["feature_names"]))
            extra = {}
            if across_windows[k] is not None:
                extra[rundir.GENERALIZATION_FILE] = rundir.generalization_csv(across_windows[k])
            if job.patterns and p.run.window is not None:
                extra[rundir.PATTERNS_FILE] = _patterns_csv(s, parts["test"]["logits"][k])
            if extra:
                files["extra_files"] = extra
        seconds = f"{pack_seconds:.1f} s ({pack_seconds / len(group):.2f} s per run)"
        line = f"{p.run_dir}: {rec.status} in a pack of {len(group)} trained in {seconds}"
        write = functools.partial(_write_run, p.run_dir, rec, m.history, line, **files)
        job.writer.submit(p.run.path, write, functools.partial(_write_failed, p.run_dir, p.run.hash))
    if compact_records:
        _submit_compact(
            job, compact_records, f"{len(compact_records)} runs recorded compactly, pack {key} of {len(group)}"
        )
    return statuses


def _submit_compact(job: JobSettings, done: list, line: str) -> None:
    """Hand a pack's compactly recorded runs (compact.py) to the writer as one task: one file per
    cell, written once, whole, after the pack; a failure marks each of them failed."""
    paths = [p.run.path for p, _ in done]

    def write() -> None:
        compact.write_pack([p.run_dir for p, _ in done], [rec.stored for _, rec in done])
        for p, _ in done:  # a directory left by an earlier failure of the run: its failed.json goes
            (p.run_dir / rundir.FAILED_FILE).unlink(missing_ok=True)
        log.info("%s", line)

    def failed(error: str) -> None:
        for p, _ in done:
            _write_failed(p.run_dir, p.run.hash, error)

    job.writer.submit(paths, write, failed)


def _patterns_csv(s: Splits, logits) -> str:
    """A windowed run's patterns.csv from its test rows and test logits (patterns.py)."""
    from . import patterns

    channels, found = patterns.channel_patterns(s.x_test, s.scale, logits, s.feature_names)
    return rundir.patterns_csv(patterns.score_names(s.class_names), channels, found)


def _evaluated(found: dict, k: int, s: Splits, part: str) -> record.Evaluated:
    """Member k's predictions on one part, from the pack's evaluation of it."""
    logits = found["logits"][k]
    groups = s.test_groups if part == "test" else None
    y_true = getattr(s, f"y_{part}")
    return record.Evaluated(y_true, logits.argmax(axis=1), logits, found["loss"][k], s.n_classes, groups)


def _write_run(run_dir: Path, rec: record.Record, history: list, line: str, **files) -> None:
    """In the writer thread: the run's files (metrics.json last), then its log line.
    `files`: record.write's model, predictions, extra_files and model_info."""
    record.write(run_dir, rec, history, **files)
    log.info("%s", line)
    with open(run_dir / rundir.LOG_FILE, "a", encoding="utf-8") as fh:
        fh.write(f"{provenance.utc_now()} INFO {line}\n")


def _write_failed(run_dir: Path, run_hash: str, error: str) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / rundir.METRICS_FILE).unlink(missing_ok=True)  # written last: a failure before it leaves none
    rundir.write_failure(run_dir, run_hash, f"writing the run directory failed: {error}", provenance.utc_now())
