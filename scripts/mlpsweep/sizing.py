"""Pre-flight sizing: the memory a pack needs, known at planning, before any job starts.

Per kind of run (grid.pack_kind: what a pack shares) this computes the network's parameter
count and the memory of a pack of K members from the shapes alone (no backend import, one
computation per kind, so 100,000 runs plan in well under a second). A kind whose pack of one
cannot fit `execution.mem_mb` (or `execution.gpu_mem_mb`, where set) is refused with the
figures and the fix; a kind whose planned packs are too large gets smaller packs, and
planning says so. A run's numbers depend on its pack only within the packing tolerance
(README, Performance; tests/test_pack_equality.py).

The formula (docs/sizing.md), bytes, P = parameters of one member, S = optimizer slots
(registry.OPTIMIZERS[...].slots), B = 1 if any run of the kind restores its best weights:

    host(K) = baseline + data set + export + K * member + min(K, splits) * split
    member  = 4 P (1 + S)                   weights and optimizer slots
            + 4 P (2 + S)                   one step's gradients, new weights and new slots
            + 4 P B                         best weights (early stopping)
            + 3 * 4 P (1 + S + B)           checkpoint: arrays, archive buffer, its bytes
            + 4 batch (features + 4 hidden + 2 classes)   activations of one batch
            + 4 * 256 (features + 2 hidden + classes)     one evaluation block
            + 4 * 256 features                            the validation rows' blocks, kept between epochs
            + 2 * 4 rows classes                    the logits of an evaluated part, and their blocks
            + 3 * 4 rows                            epoch orders: this epoch's, the next drawn ahead, the device's
    split   = 8 rows features + 4 rows (features + classes)   a split's parts and the pack's copy
    data set = 8 rows features;  export = 4 P (2 + S) (one Keras model per architecture)
    gpu(K)  = gpu baseline + K * (the member's weights, slots, step, activations, evaluation and validation
              blocks, 4 rows)
              + min(K, splits) * 4 rows (features + classes + 1)
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from dataclasses import dataclass

from . import registry
from .config import ConfigError
from .refusal import place, refusal

MB = 1024 * 1024
BASELINE_MB = 750  # Python, NumPy, TensorFlow and Keras loaded, before any array (measured ~700 MB)
GPU_BASELINE_MB = 500  # CUDA context, cuBLAS/cuDNN workspaces
FLOAT = 4
DOUBLE = 8
EVAL_ROWS = 256  # engine.pack.PREDICT_ROWS (not imported: it would import Keras at planning)


def n_params(features: int, hidden, classes: int, batch_norm: bool = False) -> int:
    """Parameters of one member (as Keras counts them: moving statistics included)."""
    sizes = [features, *hidden, classes]
    total = 0
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        total += n_in * n_out + (4 * n_out if batch_norm and i < len(hidden) else n_out)
    return total


@dataclass(frozen=True)
class KindSize:
    """The memory figures of one kind; `host(k)`/`gpu(k)`: bytes of a pack of k members."""

    dataset: str
    architecture: str
    hidden: tuple
    params: int
    rows: int
    features: int
    classes: int
    splits: int  # distinct training sets among the kind's runs (members share one split's arrays)
    parts: dict  # name -> bytes: fixed ones, and per member / per split ones
    gpu_parts: dict

    def host(self, k: int) -> int:
        p = self.parts
        return p["baseline"] + p["dataset"] + p["export"] + k * p["member"] + min(k, self.splits) * p["split"]

    def gpu(self, k: int) -> int:
        g = self.gpu_parts
        return g["baseline"] + k * g["member"] + min(k, self.splits) * g["split"]

    def describe(self, k: int) -> str:
        p = self.parts
        per = p["member_parts"]
        return (
            f"{self.host(k) / MB:,.0f} MB = baseline {p['baseline'] / MB:,.0f}"
            f" + data {(p['dataset'] + min(k, self.splits) * p['split']) / MB:,.0f}"
            f" + {k} x (weights and optimizer {per['weights'] / MB:,.1f} + step {per['step'] / MB:,.1f}"
            f" + best weights {per['best'] / MB:,.1f}"
            f" + checkpoint {per['checkpoint'] / MB:,.1f} + activations {per['activations'] / MB:,.1f}"
            f" + evaluation {per['evaluation'] / MB:,.1f} + epoch orders {per['orders'] / MB:,.1f})"
            f" + export {p['export'] / MB:,.0f}"
        )


def kind_size(run, shape, splits: int = 1, best: bool = False) -> KindSize:
    """The figures of the kind of `run` (any run of it) on data of `shape` (data.probe.DataShape)."""
    arch, training = run.config["architecture"], run.config["training"]
    hidden = tuple(arch["hidden"])
    P = n_params(shape.features, hidden, shape.classes, arch["batch_norm"])
    S = registry.OPTIMIZERS[training["optimizer"]].slots
    B = 1 if best else 0
    width = sum(hidden)
    batch = training["batch_size"]
    dropout = width if arch.get("dropout", 0) else 0
    block = FLOAT * EVAL_ROWS * (shape.features + 2 * width + shape.classes)  # one evaluation block
    per = {
        "weights": FLOAT * P * (1 + S),
        "step": FLOAT * P * (2 + S),
        "best": FLOAT * P * B,
        "checkpoint": 3 * FLOAT * P * (1 + S + B),
        "activations": FLOAT * batch * (shape.features + 4 * width + 2 * shape.classes + dropout),
        "evaluation": block + 2 * FLOAT * shape.rows * shape.classes,
        "validation": FLOAT * EVAL_ROWS * shape.features,  # engine.pack keeps them on the device (KEEP_BYTES)
        "orders": 3 * FLOAT * shape.rows,
    }
    parts = {
        "baseline": BASELINE_MB * MB,
        "dataset": DOUBLE * shape.rows * shape.features,
        "export": FLOAT * P * (2 + S),
        "member": sum(per.values()),
        "member_parts": per,
        "split": DOUBLE * shape.rows * shape.features + FLOAT * shape.rows * (shape.features + shape.classes),
    }
    gpu_parts = {
        "baseline": GPU_BASELINE_MB * MB,
        "member": per["weights"] + per["step"] + per["activations"] + block + per["validation"] + FLOAT * shape.rows,
        "split": FLOAT * shape.rows * (shape.features + shape.classes + 1),
    }
    return KindSize(
        run.dataset, run.architecture, hidden, P, shape.rows, shape.features, shape.classes, splits, parts, gpu_parts
    )


def largest_fitting(size: KindSize, limit: int, host_limit: int, gpu_limit: int | None) -> int:
    """The largest k <= limit whose pack fits (0 if not even one member fits)."""

    def fits(k: int) -> bool:
        return size.host(k) <= host_limit and (gpu_limit is None or size.gpu(k) <= gpu_limit)

    if not fits(1):
        return 0
    lo, hi = 1, limit
    while lo < hi:  # host(k) and gpu(k) grow with k
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


@dataclass
class Plan:
    """Per kind: its figures and the pack size planned; notes for the log."""

    sizes: dict  # kind -> KindSize
    pack_sizes: dict  # kind -> planned pack size (only kinds whose packs were made smaller)
    notes: list


def size_of(members: list, shapes: dict, source: str = "config") -> KindSize | None:
    """The figures of `members`, runs of one kind (a pack, or all of a sweep's runs of the
    kind); None where the data file cannot be read here. `shapes` caches the data shapes."""
    from .data import DataError
    from .data.probe import shape_of
    from .data.splits import split_seed

    first = members[0]
    dataset, split = first.config["dataset"], first.config["split"]
    key = json.dumps([dataset, split["group"]], sort_keys=True)
    if key not in shapes:
        try:
            shapes[key] = shape_of(dataset, split["group"])
        except DataError as exc:
            raise ConfigError(place(source, str(exc), key=f"datasets.{first.dataset}")) from None
    if shapes[key] is None:
        return None
    splits = len({(split_seed(r.config["split"], r.seed), r.fold, r.permutation) for r in members})
    best = any(
        r.config["training"]["early_stopping"]["patience"] > 0
        and r.config["training"]["early_stopping"]["restore_best_weights"]
        for r in members
    )
    return kind_size(first, shapes[key], splits, best)


def plan(runs, execution: dict, source: str = "config", shapes: dict | None = None) -> Plan:
    """Size every kind of the sweep's runs; raise ConfigError for a kind that cannot fit."""
    shapes = {} if shapes is None else shapes
    kinds: OrderedDict = OrderedDict()
    for run in runs:
        kinds.setdefault(run.kind, []).append(run)
    wanted = max(1, min(execution["pack_size"], execution["runs_per_job"]))
    host_limit = execution["mem_mb"] * MB
    gpu_mb = execution.get("gpu_mem_mb")
    gpu_limit = gpu_mb * MB if gpu_mb else None
    out = Plan({}, {}, [])
    for kind, members in kinds.items():
        first = members[0]
        size = size_of(members, shapes, source)
        if size is None:
            continue  # the file cannot be read here: its job fails its runs with the reason
        out.sizes[kind] = size
        k_planned = min(wanted, len(members))
        k = largest_fitting(size, k_planned, host_limit, gpu_limit)
        if k == 0:
            raise ConfigError(too_large(size, execution, source))
        if k < k_planned:
            out.pack_sizes[kind] = k
            out.notes.append(
                f"mlpsweep: packs of {first.dataset}/{first.architecture} ({size.params:,} parameters)"
                f" made {k} runs instead of {k_planned}:"
                f" a pack of {k_planned} would need {size.host(k_planned) / MB:,.0f} MB"
                f" (execution.mem_mb = {execution['mem_mb']})"
                + (
                    f" or {size.gpu(k_planned) / MB:,.0f} MB of GPU memory (execution.gpu_mem_mb = {gpu_mb})"
                    if gpu_limit
                    else ""
                )
                + f"; packs of {k} need {size.host(k) / MB:,.0f} MB."
                " A run's numbers depend on its pack size only within the packing tolerance (README, Performance)."
            )
    return out


def too_large(size: KindSize, execution: dict, source: str) -> str:
    """Why a pack of one member cannot fit, with the figures and the fixes."""
    host, gpu = size.host(1), size.gpu(1)
    gpu_mb = execution.get("gpu_mem_mb")
    over_host = host > execution["mem_mb"] * MB
    limit = (
        f"execution.mem_mb = {execution['mem_mb']} MB"
        if over_host
        else f"execution.gpu_mem_mb = {gpu_mb} MB (GPU: {gpu / MB:,.0f} MB)"
    )
    widest = max(size.hidden, default=size.features)  # a linear model: the input is what is wide
    problem = (
        f"architecture {size.architecture!r} (hidden {list(size.hidden)}) on data set {size.dataset!r}"
        f" ({size.rows:,} rows x {size.features:,} features, {size.classes} classes) has {size.params:,} parameters;"
        f" one run alone needs about {size.describe(1)}, more than {limit}"
    )
    fix = (
        f"check the layer widths (a width of {widest:,} is {'likely a typo' if widest >= 1_000_000 else 'large'}),"
        f" or raise {'execution.mem_mb' if over_host else 'execution.gpu_mem_mb'}"
        f" to at least {math.ceil((host if over_host else gpu) / MB * 1.1):,}"
    )
    return refusal(source, problem, fix, key=f"architectures.{size.architecture}.hidden")


@dataclass
class GpuFit:
    """A job's packs cut to fit the GPU it was given: the packs to train, the runs refused
    (run path -> why: not even one of them fits), and the packs made smaller, as notes."""

    packs: list
    refused: dict
    notes: list


def fit_gpu(packs: list[list], gpu_mb: int, shapes: dict | None = None) -> GpuFit:
    """At the start of a training job, where the device check learned the GPU's memory
    (`gpu_mb`, MB the backend may use): each planned pack whose formula gpu(K) exceeds it
    is cut into the largest packs that fit (numbers change only within the packing tolerance); the
    runs of a kind of which not even one fits are refused, with the figures and the fix.
    Planning did the same where `execution.gpu_mem_mb` was set; this catches the GPU a job
    really got (a smaller card than configured, or no gpu_mem_mb at all)."""
    shapes = {} if shapes is None else shapes
    limit = gpu_mb * MB
    out = GpuFit([], {}, [])
    for pack in packs:
        try:
            size = size_of(pack, shapes, "job")
        except ConfigError:
            size = None  # the data cannot be read: the pack's runs fail with the reason as they train
        if size is None or size.gpu(len(pack)) <= limit:
            out.packs.append(pack)
            continue
        k = largest_fitting(size, len(pack), size.host(len(pack)), limit)
        if k == 0:
            why = refusal(
                f"architecture {size.architecture!r} (hidden {list(size.hidden)}, {size.params:,} parameters) on data"
                f" set {size.dataset!r}",
                f"one run alone needs about {size.gpu(1) / MB:,.0f} MB of GPU memory (docs/sizing.md), more than the"
                f" {gpu_mb:,} MB this job's GPU has",
                "check the layer widths, or submit to GPUs with more memory (slurm_extra / gres in"
                " profiles/slurm/config.yaml),"
                f" or set execution.gpu_mem_mb: {gpu_mb} so that planning refuses such runs before submitting",
            )
            out.refused.update(dict.fromkeys((r.path for r in pack), why))
            continue
        out.packs.extend(pack[i : i + k] for i in range(0, len(pack), k))
        out.notes.append(
            f"GPU memory: a pack of {len(pack)} runs of {size.dataset}/{size.architecture}"
            f" ({size.params:,} parameters) would need"
            f" {size.gpu(len(pack)) / MB:,.0f} MB of the GPU's {gpu_mb:,} MB;"
            f" trained as packs of {k} ({size.gpu(k) / MB:,.0f} MB each)."
            " A run's numbers depend on its pack size only within the packing tolerance (README, Performance);"
            f" set execution.gpu_mem_mb: {gpu_mb} to plan such packs before submitting"
        )
    return out


def render(sized: Plan, execution: dict) -> str:
    """The sizing table of `--config estimate=1` (Markdown)."""
    wanted = max(1, min(execution["pack_size"], execution["runs_per_job"]))
    lines = [
        "",
        f"## Memory per pack (execution.mem_mb = {execution['mem_mb']} MB; formula: docs/sizing.md)",
        "",
        "| Data set / architecture | Parameters | Pack size | MB per pack | GPU MB per pack |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind, size in sized.sizes.items():
        k = sized.pack_sizes.get(kind, wanted)
        lines.append(
            f"| {size.dataset} / {size.architecture} | {size.params:,} | {k}"
            f" | {size.host(k) / MB:,.0f} | {size.gpu(k) / MB:,.0f} |"
        )
    lines += [f"- {note.removeprefix('mlpsweep: ')}" for note in sized.notes]
    return "\n".join(lines) + "\n"
