"""Expand a validated config into runs (one per grid point, seed and fold) and plan training jobs."""

from __future__ import annotations

import copy
import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from . import identity, registry, rundir, search
from .config import ConfigError, canonical_key, set_path, sweep_target
from .refusal import refusal


def format_value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        # Shortest exact form: distinct values never share a directory, and no '+' enters a path.
        return repr(value).replace("e+", "e")
    if isinstance(value, (list, tuple)):
        return "-".join(format_value(v) for v in value)
    return str(value)


def key_label(key: str) -> str:
    """A swept key's short label: the registry's, else the last part of its name."""
    key = canonical_key(key)
    return registry.SWEPT_LABELS.get(key, key.rsplit(".", 1)[-1])


def hparams_label(point: dict) -> str:
    """Directory label of one grid point's swept values, e.g. 'lr0.01_bs32' ('default' for none)."""
    if not point:
        return "default"
    return "_".join(f"{key_label(k)}{format_value(v)}" for k, v in point.items())


def leaf_name(
    seed: int,
    fold: int | None = None,
    permutation: int | None = None,
    *,
    subject: str | None = None,
    window: float | None = None,
    held_out: tuple | None = None,
) -> str:
    """The run directory's own name: seed0, seed0_fold3, seed0_perm12, seed0_fold3_perm12;
    a within-subject run's starts with its subject (sub-01_seed0_fold3, for subject 01 or
    sub-01), a windowed run's ends with its window's start in seconds (seed0_fold3_t+0.250);
    a fold over runs within a subject names its held-out run(s) (sub-01_seed0_fold1_out-2)."""
    name = f"seed{seed}"
    if subject is not None:
        name = f"sub-{rundir.subject_segment(subject)}_{name}"
    if fold is not None:
        name += f"_fold{fold}"
    if held_out:
        name += f"_out-{rundir.held_out_segment(held_out)}"
    if permutation is not None:
        name += f"_perm{permutation}"
    if window is not None:
        name += f"_t{rundir.window_label(window)}"
    return name


@dataclass(frozen=True)
class Run:
    dataset: str
    architecture: str
    hparams: str
    seed: int
    config: dict  # resolved: dataset, architecture, training, split, seed, fold, permutation
    digest: str = field(default="", compare=False, repr=False)  # identity.run_hash(config)
    fold: int | None = None
    permutation: int | None = None
    kind: str = field(default="", compare=False, repr=False)  # pack_kind(config), shared by the cell
    subject: str | None = None  # within-subject decoding: the subject whose trials it uses
    window: float | None = None  # decoding over time: its window's start (seconds)
    # folds over runs within subjects: the fold's held-out groups, named in the path (not in the identity)
    held_out: tuple | None = field(default=None, compare=False)

    @property
    def cell(self) -> str:
        return f"{self.dataset}/{self.architecture}/{self.hparams}"

    @property
    def path(self) -> str:
        """Run directory relative to the results directory."""
        return f"runs/{self.cell}/" + leaf_name(
            self.seed, self.fold, self.permutation, subject=self.subject, window=self.window, held_out=self.held_out
        )

    @property
    def hash(self) -> str:
        return self.digest or identity.run_hash(self.config)


def _points(cfg: dict) -> list[dict]:
    """Every combination of the grid's values with each zip group's i-th values, keys canonical."""
    axes = [[{canonical_key(k): v} for v in values] for k, values in cfg["grid"].items()]
    for group in cfg["zip"]:
        keys = list(group)
        axes.append([{canonical_key(k): group[k][i] for k in keys} for i in range(len(group[keys[0]]))])
    return [dict(kv for part in combo for kv in part.items()) for combo in itertools.product(*axes)]


def labelled_points(cfg: dict) -> list[tuple[str, dict]]:
    """(hparams label, point) of every point: the grid's, or each search point crossed with
    them (label `s017`, or `s017_lr0.01` with a grid), search points outermost so that a
    grown search adds points after the earlier ones."""
    grid_points = _points(cfg)
    sampled = search.sample(cfg.get("search") or {})
    if not sampled:
        return [(hparams_label(point), point) for point in grid_points]
    return [
        (f"{name}_{hparams_label(point)}" if point else name, {**values, **point})
        for name, values in sampled
        for point in grid_points
    ]


def _apply(cfg: dict, ds_name: str, arch_name: str, point: dict) -> dict:
    """The sections of one run config at a grid point (copies; the config is untouched)."""
    sections = {
        "dataset": {"name": ds_name, **copy.deepcopy(cfg["datasets"][ds_name])},
        "architecture": {"name": arch_name, **copy.deepcopy(cfg["architectures"][arch_name])},
        "training": copy.deepcopy(cfg["training"]),
        "split": copy.deepcopy(cfg["split"]),
    }
    for key, value in point.items():
        section, path = sweep_target(key)
        set_path(sections[section], path, value)
    return sections


def _excluded(rules: list[dict], values: dict) -> bool:
    return any(all(values.get(canonical_key(k)) == v for k, v in rule.items()) for rule in rules)


def _match_values(ds_name: str, arch_name: str, seed: int, sections: dict, point: dict) -> dict:
    """What exclude rules compare against: names, seed, the training values, the point's keys."""
    training = {k: v for k, v in sections["training"].items() if k != "early_stopping"}
    training.update({f"early_stopping.{k}": v for k, v in sections["training"]["early_stopping"].items()})
    return {**training, **point, "dataset": ds_name, "architecture": arch_name, "seed": seed}


def fold_indices(split: dict, dataset: dict, group_counts: dict, source: str = "config") -> list[int | None]:
    """The folds of a split: [None] for a holdout split, else 0..folds-1. A grouped split with
    more folds than the data has groups is refused (naming `source`)."""
    method = registry.SPLIT_METHODS[split["method"]]
    if method.folds == "none":
        return [None]
    if method.folds == "config" and not method.grouped:
        return list(range(split["folds"]))
    if split.get("within"):  # folds over groups (runs) within subjects: the same number per subject
        key = json.dumps(["within", dataset, split], sort_keys=True)
        if key not in group_counts:
            from .data.run_folds import plan_groups  # reads the epochs' headers or the file's columns

            group_counts[key], group_counts["groups:" + key] = plan_groups(dataset, split, source)
        return list(range(group_counts[key]))
    key = json.dumps([dataset, split["group"]], sort_keys=True)
    if key not in group_counts:
        if dataset["source"] == "epochs":
            group_counts[key] = len(_epochs_plan(dataset, split, source).subjects)
        else:
            from .data import count_groups  # reads one column of the data file

            group_counts[key] = count_groups(dataset, split["group"])
    needed = split["folds"] if method.folds == "config" else 2
    if group_counts[key] < needed:
        what = f"{split['folds']} folds" if method.folds == "config" else "a leave-one-group-out split (at least 2)"
        fix = "lower split.folds" if method.folds == "config" else "use another split method"
        problem = f"group column {split['group']!r} of data set {dataset.get('name', '?')!r}"
        problem += f" holds {group_counts[key]} groups, fewer than {what}"
        at = "split.folds" if method.folds == "config" else "split.group"
        raise ConfigError(refusal(source, problem, f"{fix}, or use data with more groups", key=at))
    if method.folds == "config":
        return list(range(split["folds"]))
    return list(range(group_counts[key]))


def held_out_of(split: dict, dataset: dict, group_counts: dict):
    """(subject, seed, fold) -> the fold's held-out groups, for folds over runs within subjects
    (read at planning with the job's fold assignment); None for every other split."""
    from .data import run_folds

    if not run_folds.applies(split):
        return None
    found = group_counts["groups:" + json.dumps(["within", dataset, split], sort_keys=True)]
    folds: dict = {}

    def held(subject, seed: int, fold: int) -> tuple:
        key = (str(subject), seed if split.get("seed") is None else split["seed"])
        if key not in folds:
            _, groups, labels = found[key[0]]
            folds[key] = run_folds.held_out_by_fold(groups, labels, split, seed)
        return tuple(folds[key][fold])

    return held


def _epochs_plan(dataset: dict, split: dict, source: str = "config"):
    """An epochs entry checked against its files' headers: its subjects and window starts
    (mne is imported only here, when a sweep has epochs)."""
    from .data.epochs import plan

    return plan(dataset, split, source)


def data_plan(dataset: dict, split: dict, source: str = "config", cache: dict | None = None) -> tuple[list, list]:
    """(subjects, window starts) of a cell: [None] each unless it decodes within subjects
    (split.within) or over time windows (epochs' windows). `cache`: a table's groups, read
    once per planning."""
    subjects, windows = [None], [None]
    if dataset["source"] == "epochs":
        found = _epochs_plan(dataset, split, source)
        windows = list(found.windows or [None])
        if split.get("within"):
            subjects = list(found.subjects)
    elif split.get("within"):
        from .data import group_values  # reads one column of the data file

        key = json.dumps(["within", dataset, split["within"]], sort_keys=True)
        cache = {} if cache is None else cache
        if key not in cache:
            cache[key] = group_values(dataset, split["within"], source)
        subjects = list(cache[key])
    return subjects, windows


def expand_runs(cfg: dict, source: str = "config", wanted: set[str] | None = None) -> list[Run]:
    """All runs of the sweep in a stable order: data set, architecture, grid point, then the
    seeds and folds of the cell, then its label-permutation runs (summary.permutations).
    A sweep that the exclude rules leave empty is refused (naming `source`, the config file).
    `wanted`: only the runs of these paths (a training job's: the others are not hashed)."""
    runs = []
    group_counts: dict = {}
    permutations = cfg["summary"]["permutations"]
    first_seed = min(cfg["seeds"])
    points = labelled_points(cfg)
    for ds_name in cfg["datasets"]:
        for arch_name in cfg["architectures"]:
            for label, point in points:
                sections = _apply(cfg, ds_name, arch_name, point)
                subjects, windows = data_plan(sections["dataset"], sections["split"], source, group_counts)
                folds = fold_indices(sections["split"], sections["dataset"], group_counts, source)
                hasher = identity.CellHasher(sections)
                kind = pack_kind({**sections, "seed": 0})
                seeds = sorted(cfg["seeds"])
                if cfg["exclude"]:
                    seeds = [
                        s
                        for s in seeds
                        if not _excluded(cfg["exclude"], _match_values(ds_name, arch_name, s, sections, point))
                    ]
                members = [(s, f, None) for s in seeds for f in folds]
                if seeds and permutations:
                    members += [(first_seed, f, p) for p in range(1, permutations + 1) for f in folds]
                if subjects != [None] or windows != [None]:
                    held = held_out_of(sections["split"], sections["dataset"], group_counts)
                    runs += _decoding_runs(
                        ds_name, arch_name, label, sections, members, subjects, windows, hasher, kind, held, wanted
                    )
                    continue
                for seed, fold, perm in members:
                    run_config = {**sections, "seed": seed, "fold": fold, "permutation": perm}
                    run = Run(ds_name, arch_name, label, seed, run_config, "", fold, perm, kind)
                    if wanted is None or run.path in wanted:
                        runs.append(replace(run, digest=hasher(seed, fold, perm)))
    if not runs and wanted is None:
        fix = "remove an exclude rule or add seeds, data sets or architectures"
        raise ConfigError(refusal(source, "the grid is empty after exclusions", fix, key="exclude"))
    return runs


def data_files(dataset: dict) -> list[str]:
    """The files a data set entry reads (the inputs of its training jobs): a file source's
    file, every file an epochs pattern matches, none for generated data."""
    if dataset["source"] == "epochs":
        from .data.epochs import input_files  # a glob, no mne

        return input_files(dataset)
    return [dataset["path"]] if dataset.get("path") else []


def _decoding_runs(
    ds_name, arch_name, label, sections, members, subjects, windows, hasher, kind, held=None, wanted=None
) -> list[Run]:
    """A cell's runs per subject (within-subject decoding) x seed, fold, permutation x time
    window; the window innermost, so a pack holds the windows of one split. `held`: the
    held-out groups of a fold over runs within subjects (held_out_of)."""
    runs = []
    for subject in subjects:
        for seed, fold, perm in members:
            for window in windows:
                run_config = {**sections, "seed": seed, "fold": fold, "permutation": perm}
                if subject is not None:
                    run_config["subject"] = subject
                if window is not None:
                    run_config["window"] = window
                out = held(subject, seed, fold) if held is not None and subject is not None else None
                run = Run(ds_name, arch_name, label, seed, run_config, "", fold, perm, kind, subject, window, out)
                if wanted is None or run.path in wanted:
                    runs.append(replace(run, digest=hasher(seed, fold, perm, subject=subject, window=window)))
    return runs


# ---------------------------------------------------------------- jobs and packs


def pack_kind(config: dict) -> str:
    """What the runs of one pack share: the data, the split but its seed, the network's shape
    and the step's structure. Members may differ in everything else (seed, fold, permutation,
    learning rate, momentum, L2, dropout rate, epochs, early stopping, class weights).
    Read from the canonical form, so configs stored by earlier releases have their kind too."""
    form = identity.canonical({**config, "seed": 0, "fold": None, "permutation": None, "subject": None, "window": None})
    arch, training = form["architecture"], form["training"]
    shape = {k: arch[k] for k in ("hidden", "activation", "batch_norm") if k in arch}
    step = {k: training[k] for k in ("optimizer", "batch_size", "eval_batch_size") if k in training}
    split = {k: v for k, v in form["split"].items() if k != "seed"}
    return json.dumps([form["dataset"], split, shape, step], sort_keys=True)


@dataclass(frozen=True)
class Job:
    """Runs trained by one process, in packs of runs of one kind."""

    chunk: int
    packs: tuple[tuple[Run, ...], ...]

    @property
    def key(self) -> str:
        return f"chunk{self.chunk}"

    @property
    def runs(self) -> tuple[Run, ...]:
        return tuple(run for pack in self.packs for run in pack)


def plan_jobs(runs: list[Run], runs_per_job: int, pack_size: int = 1, pack_sizes: dict | None = None) -> list[Job]:
    """Packs of up to `pack_size` runs of one kind (min with `runs_per_job`), then jobs of
    consecutive packs holding up to `runs_per_job` runs (at least one pack). `pack_sizes`:
    smaller pack sizes of some kinds (kind -> size), where a full pack would not fit in memory
    (sizing.plan).

    Membership depends only on the config, so every Snakemake process (a SLURM job
    re-parses the workflow) agrees on it. A job whose membership changes re-runs, and
    its script skips the runs that already finished with the same identity.
    """
    kinds: OrderedDict[str, list[Run]] = OrderedDict()
    for run in runs:
        kinds.setdefault(run.kind, []).append(run)
    size = max(1, min(pack_size, runs_per_job))
    smaller = pack_sizes or {}
    packs = [
        tuple(group[i : i + smaller.get(kind, size)])
        for kind, group in kinds.items()
        for i in range(0, len(group), smaller.get(kind, size))
    ]
    jobs, current = [], []
    for pack in packs:
        if current and sum(map(len, current)) + len(pack) > runs_per_job:
            jobs.append(current)
            current = []
        current.append(pack)
    if current:
        jobs.append(current)
    return [Job(i, tuple(packs)) for i, packs in enumerate(jobs)]


def job_params(job: Job) -> dict:
    """What identifies a training job's work (a change here re-runs the job): each pack's run
    paths and identity hashes. The job script resolves the full configs from the sweep config."""
    return {"packs": [[[run.path, run.hash] for run in pack] for pack in job.packs]}
