"""What a sweep will cost before it is submitted: the runs and jobs left, and the device time.

Per kind of run (what a pack shares: data, split, network shape, optimizer, batch size) the
device seconds per run and epoch come from finished runs of that kind in results/ (their
`fit_seconds` is their share of their pack's time), preferring runs trained in packs of the
size planned now. A kind never trained has no figure and nothing trains (`--config
estimate=1`), unless calibration is asked for (`--config estimate=calibrate`): one pack of it
then trains for two epochs on this machine (the login node: its speed is not a GPU node's,
which the report says). A job also holds its device while Python and the backend start; that
start-up comes from the benchmark files of earlier training jobs, else a stated default.
The figures found are stored (`figures()`), so that planning can size a sweep without them.
"""

from __future__ import annotations

import csv
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import record, rundir
from .grid import Job, Run, pack_kind
from .refusal import refusal

STARTUP_DEFAULT_S = 10.0  # Python, the backend and Snakemake's job start (measured 5-10 s here)
FIGURES = "estimates/figures.json"  # under the results directory: what planning reads (plan_size)
DISK_SAMPLE = 20  # finished runs per kind whose files are measured for the disk figure


@dataclass
class Cost:
    seconds_per_run_epoch: float
    source: str


def read_records(results: Path) -> dict[str, record.Record | None]:
    """Every run directory on disk and its record (None where it has none): read once."""
    return {rel: record.read(Path(results) / rel) for rel in rundir.discover(results)}


def finished(records: dict[str, record.Record | None], runs: list[Run]) -> set[str]:
    """Paths of the runs that are done with their current identity (they will not train)."""
    return {run.path for run in runs if record.is_done(records.get(run.path), run.config)}


def measured(records: dict[str, record.Record | None]) -> dict[str, list[tuple[int, float, str]]]:
    """Per kind: (pack size, seconds per run-epoch, device type) of every finished run found."""
    out: dict[str, list[tuple[int, float, str]]] = {}
    for rec in records.values():
        if rec is None or not rec.done or rec.config is None:
            continue
        epochs, seconds = rec.metrics.get("epochs_run"), rec.metrics.get("fit_seconds")
        if not epochs or seconds is None:
            continue
        try:
            kind = pack_kind(rec.config)
        except (KeyError, TypeError, ValueError, AssertionError):
            continue
        out.setdefault(kind, []).append((rec.pack_size, seconds / epochs, rec.device.get("type", "?")))
    return out


def disk_per_run(results: Path, records: dict[str, record.Record | None]) -> dict[str, float]:
    """Per kind: the median bytes of a finished run's directory (at most DISK_SAMPLE runs each)."""
    sizes: dict[str, list[int]] = {}
    for rel, rec in records.items():
        if rec is None or not rec.done or rec.config is None:
            continue
        try:
            kind = pack_kind(rec.config)
        except (KeyError, TypeError, ValueError, AssertionError):
            continue
        found = sizes.setdefault(kind, [])
        if len(found) < DISK_SAMPLE:
            found.append(sum(p.stat().st_size for p in (Path(results) / rel).rglob("*") if p.is_file()))
    return {kind: float(statistics.median(found)) for kind, found in sizes.items()}


def cost_from(found: list[tuple[int, float, str]], size: int) -> Cost:
    """Seconds per run-epoch in a pack of `size`: measured at that size, or from the line
    a + b * size through the pack-epoch times measured at other sizes (a: what a step costs
    whatever the pack size, b: each member's compute), or, with one other size, its per-run cost."""
    sizes = sorted({s for s, _, _ in found})
    devices = "/".join(sorted({d for _, _, d in found}))
    per_size = {s: statistics.median(c for k, c, _ in found if k == s) for s in sizes}
    n = len(found)
    if size in per_size:
        return Cost(
            per_size[size],
            f"measured: {sum(1 for k, _, _ in found if k == size)} finished runs in packs of {size} ({devices})",
        )
    if len(sizes) >= 2:
        xs, ys = sizes, [s * per_size[s] for s in sizes]  # pack-epoch seconds
        mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
        b = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
        a = mean_y - b * mean_x
        if b > 0 and a >= 0:
            return Cost(
                (a + b * size) / size,
                f"measured: {n} finished runs in packs of {', '.join(map(str, sizes))}, "
                f"fitted to size {size} ({devices})",
            )
    nearest = min(sizes, key=lambda s: (abs(s - size), -s))
    return Cost(per_size[nearest], f"measured: {n} finished runs in packs of {nearest}, not {size} ({devices})")


def calibrate(runs: list[Run], steps_per_execution: int) -> Cost:
    """Train one pack of these runs for two epochs here; the second epoch's time per run."""
    import socket

    from .training import DataCache, build_pack, prepare

    with tempfile.TemporaryDirectory(prefix="mlpsweep-estimate-") as tmp:
        todo, _ = prepare(runs, Path(tmp), DataCache())
        todo = [p for p in todo if len(p.splits.y_train) == len(todo[0].splits.y_train)] if todo else []
        if not todo:
            return Cost(
                float("nan"), "not calibrated: the data of this kind cannot be loaded (see the training job's error)"
            )
        pack = build_pack(todo, steps_per_execution)
        members = pack.members
        for m in members:
            m.epochs = 2
        pack.train_epoch(lambda: False)  # the first epoch traces the compiled step
        t0 = time.perf_counter()
        pack.train_epoch(lambda: False)
        seconds = time.perf_counter() - t0
    return Cost(
        seconds / len(members),
        f"calibrated on {socket.gethostname()}: a pack of {len(members)}, one epoch "
        "(this machine's speed, not a compute node's)",
    )


def startup_seconds(results: Path, records: dict[str, record.Record | None]) -> tuple[float, str]:
    """Median seconds a finished training job spent outside its runs' training (`records`:
    read_records(results))."""
    found = []
    for tsv in sorted((Path(results) / "benchmarks" / "train").glob("*.tsv")):
        manifest = Path(results) / "jobs" / f"{tsv.stem}.json"
        try:
            with open(tsv, encoding="utf-8") as fh:
                wall = float(next(csv.DictReader(fh, delimiter="\t"))["s"])
            statuses = json.loads(manifest.read_text())["runs"]
        except (OSError, ValueError, KeyError, StopIteration):
            continue
        trained = [p for p, status in statuses.items() if status in rundir.DONE]
        fit = sum(rec.metrics.get("fit_seconds", 0) or 0 for rec in map(records.get, trained) if rec is not None)
        if trained:
            found.append(max(0.0, wall - fit))
    if not found:
        return STARTUP_DEFAULT_S, f"default {STARTUP_DEFAULT_S:.0f} s (no finished training job measured yet)"
    return statistics.median(found), f"median of {len(found)} finished training jobs"


def estimate(sweep: dict, jobs: list[Job], results: Path, *, calibrate_missing: bool = True) -> dict:
    """Runs, jobs and device seconds of what is left to train, with where each cost came from."""
    results = Path(results)
    runs = [run for job in jobs for run in job.runs]
    records = read_records(results)
    done = finished(records, runs)
    known = measured(records)
    costs: dict[tuple[str, int], Cost] = {}
    rows = {}
    train_seconds = 0.0
    jobs_left = 0
    packs_left = 0
    for job in jobs:
        left_in_job = False
        for pack in job.packs:
            todo = [run for run in pack if run.path not in done]
            if not todo:
                continue
            left_in_job = True
            packs_left += 1
            key = (pack[0].kind, len(todo))
            if key not in costs:
                found = known.get(pack[0].kind)
                if found:
                    costs[key] = cost_from(found, len(todo))
                elif calibrate_missing:
                    costs[key] = calibrate(todo, sweep["execution"]["steps_per_execution"])
                else:
                    costs[key] = Cost(float("nan"), "no finished run of this kind")
            cost = costs[key]
            epochs = sum(run.config["training"]["epochs"] for run in todo)
            seconds = cost.seconds_per_run_epoch * epochs
            train_seconds += seconds
            first = pack[0]
            name = (
                f"{first.dataset} / {first.architecture} ({first.config['training']['optimizer']}, "
                f"batch {first.config['training']['batch_size']})"
            )
            row = rows.setdefault(
                key,
                {
                    "kind": pack[0].kind,
                    "name": name,
                    "runs": 0,
                    "packs": 0,
                    "seconds": 0.0,
                    "per_run_epoch": cost.seconds_per_run_epoch,
                    "source": cost.source,
                },
            )
            row["runs"] += len(todo)
            row["packs"] += 1
            row["seconds"] += seconds
        jobs_left += left_in_job
    startup, startup_source = startup_seconds(results, records)
    total = train_seconds + startup * jobs_left
    planned_size: dict[str, int] = {}  # each kind's first planned pack: the size its figure is for
    for job in jobs:
        for pack in job.packs:
            planned_size.setdefault(pack[0].kind, len(pack))
    measured_costs = {
        kind: cost_from(known[kind], size).seconds_per_run_epoch
        for kind, size in planned_size.items()
        if known.get(kind)
    }
    return {
        "runs_planned": len(runs),
        "runs_finished": len(done),
        "runs_to_train": len(runs) - len(done),
        "packs_to_train": packs_left,
        "jobs_to_submit": jobs_left,
        "jobs_planned": len(jobs),
        "training_seconds": train_seconds,
        "startup_seconds_per_job": startup,
        "startup_source": startup_source,
        "device_seconds": total,
        "device_hours": total / 3600,
        "gpus_per_job": sweep["execution"]["gpus"],
        "by_kind": list(rows.values()),
        "bytes_per_run": disk_per_run(results, records),
        "measured_per_run_epoch": measured_costs,  # every kind of the sweep with finished runs, done or not
    }


def figures(est: dict) -> dict:
    """What planning needs of an estimate (plan_size): per kind the device seconds per
    run-epoch and the bytes of a finished run, and a job's start-up seconds; unknowns left out."""
    measured = est.get("measured_per_run_epoch", {})
    kinds: dict[str, dict] = {kind: {"seconds_per_run_epoch": s} for kind, s in measured.items()}
    for row in est["by_kind"]:
        if row["per_run_epoch"] == row["per_run_epoch"]:  # not NaN
            kinds.setdefault(row["kind"], {})["seconds_per_run_epoch"] = row["per_run_epoch"]
    for kind, size in est["bytes_per_run"].items():
        kinds.setdefault(kind, {})["bytes_per_run"] = size
    return {"startup_seconds": est["startup_seconds_per_job"], "kinds": kinds}


def merge_figures(path: Path, new: dict) -> dict:
    """`new` over the figures stored at `path` (kinds of other sweeps are kept)."""
    try:
        old = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        old = {}
    kinds = {kind: dict(values) for kind, values in (old.get("kinds") or {}).items()}
    for kind, values in new["kinds"].items():
        kinds.setdefault(kind, {}).update(values)
    return {"startup_seconds": new["startup_seconds"], "kinds": kinds}


def render(est: dict) -> str:
    """The estimate as Markdown (printed, and kept in results/estimates/<time>.md)."""
    calibrated = any(row["source"].startswith("calibrated") for row in est["by_kind"])
    unknown = [row for row in est["by_kind"] if row["per_run_epoch"] != row["per_run_epoch"]]
    if unknown:
        problem = (
            f"**unknown**: {len(unknown)} kind(s) of run ({sum(r['runs'] for r in unknown)} runs)"
            " have no finished run to measure"
        )
        fix = (
            "`--config estimate=calibrate` trains one pack of each for two"
            " epochs on this machine to measure them, or train a few runs first."
        )
        device = "- Expected device time: " + refusal(None, problem, fix)
    else:
        device = (
            f"- Expected device time: **{est['device_hours']:.3f} device-hours** ({est['device_seconds']:.0f} s): "
            f"training {est['training_seconds']:.1f} s"
            f" + start-up {est['jobs_to_submit']} x {est['startup_seconds_per_job']:.1f} s ({est['startup_source']})."
        )
    lines = [
        "# Estimate (calibrated by training on this machine)" if calibrated else "# Estimate (nothing was trained)",
        "",
        (
            f"- Runs: {est['runs_planned']} planned, {est['runs_finished']} finished, "
            f"**{est['runs_to_train']} to train** in {est['packs_to_train']} packs."
        ),
        (
            f"- Jobs to submit: **{est['jobs_to_submit']}** of {est['jobs_planned']} "
            f"(each asks for {est['gpus_per_job']} GPU)."
        ),
        device,
        (
            "- An estimate: epochs are counted in full (early stopping can only shorten them), "
            "and a kind calibrated on this machine runs at this machine's speed."
        ),
        "",
        "| Data set / architecture (optimizer, batch) | Runs | Packs | s per run-epoch | Seconds | From |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in est["by_kind"]:
        lines.append(
            f"| {row['name']} | {row['runs']} | {row['packs']} | {row['per_run_epoch']:.4f} "
            f"| {row['seconds']:.1f} | {row['source']} |"
        )
    return "\n".join(lines) + "\n"
