"""GPU check of the packed engine on JAX: runs per second against pack size for the notebook
model, and a run trained alone against the same run in a pack of 64.

    python bench/gpu.py                   # a GPU machine: pack sizes 1-4,096 (those that fit --budget)
    python bench/gpu.py --quick           # a CPU smoke run on tiny data (tests/test_bench.py)
    python bench/gpu.py --quick --sizes 64,256,1024 --rows 2048   # larger packs on a CPU, fewer rows
    python bench/gpu.py --output bench/GPU.md   # also write the table (bench/run.py puts it in RESULTS.md)

Needs NumPy, JAX (with CUDA on a GPU machine), Keras with its small pure-Python dependencies,
and this repository; no TensorFlow, scikit-learn, pandas or network. It uses the engine's
low-level API alone (mlpsweep.engine: Shape, Member, Pack), on data made with NumPy: the
notebook's 32-64-64 ReLU model, SGD lr 0.01, batch 32, 5 epochs, validation after each epoch.
Per pack size it splits a job's time for the pack into the compiled steps, the host's work per
epoch (epoch orders, validation, copies) and writing (a checkpoint per epoch, the pack's compact
records), and times what bounds one step: the step at K and K/2 members, the gathers of each
member's batch alone, the epoch orders drawn on the host and sent to the device.
TensorFlow, scikit-learn and pandas are blocked from being imported, so a run on a machine
that has them proves the check does not need them; it fails if anything of ours imports them.
"""

from __future__ import annotations

import argparse
import importlib.abc
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"  # before Keras is imported, by us or by the engine

REPO = Path(__file__).resolve().parents[1]
ABSENT = ("tensorflow", "sklearn", "pandas")  # not on the GPU machine
# SciPy is a dependency of JAX itself, and Keras's JAX backend imports it through
# jax.experimental.sparse on `import keras`: allowed from JAX and SciPy alone.
SCIPY_MAY_COME_FROM = ("jax", "scipy")
RTOL = 1e-4  # the engine's tolerance: losses of a run alone and in a pack, after 5 epochs
FULL = {
    "n_train": 20000,
    "n_val": 3530,
    "n_features": 32,
    "n_classes": 4,
    "epochs": 5,
    "pack_sizes": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
    "fidelity_pack": 64,
}
QUICK = {
    "n_train": 512,
    "n_val": 128,
    "n_features": 8,
    "n_classes": 4,
    "epochs": 2,
    "pack_sizes": [1, 2, 4],
    "fidelity_pack": 64,
}
HIDDEN = (32, 64, 64)
HYPER = {"learning_rate": 0.01, "momentum": 0.0, "l2": 0.0, "dropout": 0.0}
STEPS_PER_EXECUTION = 256  # the schema's default
T0 = time.perf_counter()


def _importer() -> str:
    """The module whose code is importing, skipping the import machinery and this guard."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "?")
        if not (frame.f_code.co_filename.startswith("<frozen") or name.startswith("importlib")):
            return name
        frame = frame.f_back
    return "?"


class ImportGuard(importlib.abc.MetaPathFinder):
    """Refuses the modules the GPU machine lacks, and notes who imports SciPy."""

    def __init__(self):
        self.refused: list[tuple[str, str]] = []  # (module, importer)
        self.scipy_importers: set[str] = set()

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in ABSENT:
            self.refused.append((name, _importer()))
            raise ModuleNotFoundError(
                f"No module named {name!r} (bench/gpu.py refuses it: the GPU machine has none)", name=name
            )
        if top == "scipy":
            self.scipy_importers.add(_importer())
        return None

    def problems(self) -> list[str]:
        out = [f"{m} was imported" for m in sorted(sys.modules) if m.partition(".")[0] in ABSENT]
        out += [
            f"{who} imports SciPy"
            for who in sorted(self.scipy_importers)
            if who.partition(".")[0] not in SCIPY_MAY_COME_FROM
        ]
        out += [
            f"{who} needs {name}"
            for name, who in self.refused
            if who.partition(".")[0] in ("mlpsweep", "__main__", "gpu")
        ]
        return out


GUARD = ImportGuard()
sys.meta_path.insert(0, GUARD)
sys.path.insert(0, str(REPO / "scripts"))

from mlpsweep.gpu import deterministic_xla  # noqa: E402

deterministic_xla()  # before JAX starts its backend, as a training job does (jobs.run_job)

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from mlpsweep import checkpoint, compact  # noqa: E402
from mlpsweep.engine.network import Shape  # noqa: E402
from mlpsweep.engine.pack import Member, Pack, epoch_orders  # noqa: E402
from mlpsweep.engine.step import Chunk  # noqa: E402


def progress(text: str) -> None:
    print(f"[gpu.py {time.perf_counter() - T0:5.0f} s] {text}", file=sys.stderr, flush=True)


def blobs(sizes: dict, seed: int = 0):
    """Training and validation rows: Gaussian classes around random centres (the project's
    synthetic data), standardized on the training rows; labels one-hot."""
    rng = np.random.default_rng(seed)
    n, c = sizes["n_train"] + sizes["n_val"], sizes["n_classes"]
    centres = rng.normal(size=(c, sizes["n_features"]))
    centres *= 1.5 / np.linalg.norm(centres, axis=1, keepdims=True)
    y = np.arange(n) % c
    rng.shuffle(y)
    x = centres[y] + rng.normal(size=(n, sizes["n_features"]))
    train = slice(0, sizes["n_train"])
    x = ((x - x[train].mean(axis=0)) / x[train].std(axis=0)).astype(np.float32)
    onehot = np.eye(c, dtype=np.float32)[y]
    return x[train], onehot[train], x[sizes["n_train"] :], onehot[sizes["n_train"] :]


def train(shape: Shape, data, seeds, epochs: int) -> tuple[Pack, float]:
    """A pack of the given seeds trained for `epochs` with validation after each; (pack, seconds)."""
    x, y, xv, yv = data
    t0 = time.perf_counter()
    members = [
        Member(seed=s, x_train=x, y_train=y, x_val=xv, y_val=yv, epochs=epochs, hyper=dict(HYPER)) for s in seeds
    ]
    pack = Pack(shape, "sgd", 32, members, STEPS_PER_EXECUTION)
    while any(m.active for m in pack.members):
        pack.train_epoch(lambda: False)
    return pack, time.perf_counter() - t0


def fidelity(shape: Shape, data, sizes: dict) -> dict:
    """Seed 0 trained alone and as member 0 of a pack: largest relative difference of its
    losses (training and validation, every epoch) and of its accuracies in rows."""
    k = sizes["fidelity_pack"]
    alone, _ = train(shape, data, [0], sizes["epochs"])
    packed, _ = train(shape, data, list(range(k)), sizes["epochs"])
    a, p = alone.members[0].history, packed.members[0].history
    rel = max(abs(ra[key] - rp[key]) / max(abs(ra[key]), 1e-12) for ra, rp in zip(a, p) for key in ("loss", "val_loss"))
    rows = max(
        max(
            abs(ra["accuracy"] - rp["accuracy"]) * sizes["n_train"],
            abs(ra["val_accuracy"] - rp["val_accuracy"]) * sizes["n_val"],
        )
        for ra, rp in zip(a, p)
    )
    return {
        "pack": k,
        "epochs": len(a),
        "max_rel_loss": rel,
        "max_rows": rows,
        "ok": len(a) == len(p) == sizes["epochs"] and rel <= RTOL and rows <= 1.5,
    }


def fidelity_line(f: dict, precision: str) -> str:
    verdict = "PASS" if f["ok"] else "FAIL"
    return f"Fidelity ({precision} matrix products): seed 0 alone vs member 0 of a pack of {f['pack']}, {f['epochs']} epochs: largest relative loss difference {f['max_rel_loss']:.1e} (tolerance {RTOL:g}), accuracies apart by at most {f['max_rows']:.0f} rows: {verdict}"


def throughput(shape: Shape, data, sizes: dict, budget: float, parts: bool = True) -> tuple[list[dict], list[int]]:
    """Runs per second per pack size: a warm-up pack (compiles) then a timed one, per size, and
    (with `parts`) the split of the pack's time and what bounds its step (`parts_of`).
    Sizes that would overrun `budget` seconds (total since start) are skipped."""
    rows, skipped = [], []
    last = 0.0
    for k in sizes["pack_sizes"]:
        elapsed = time.perf_counter() - T0
        if rows and elapsed + 2.5 * last > budget:  # the next size costs at most about twice this one, plus compiling
            skipped.append(k)
            continue
        t0 = time.perf_counter()
        progress(f"pack size {k}: warm-up pack (compiles) ...")
        train(shape, data, [1_000_000 + i for i in range(k)], sizes["epochs"])
        progress(f"pack size {k}: timed pack ...")
        pack, seconds = train(shape, data, list(range(k)), sizes["epochs"])
        fit = sum(m.fit_seconds for m in pack.members)
        row = {
            "pack_size": k,
            "seconds": seconds,
            "runs_per_s": k / seconds,
            "val_accuracy": float(np.mean([m.history[-1]["val_accuracy"] for m in pack.members])),
            "training_share": fit / seconds,
        }
        if parts:
            row.update(parts_of(pack, seconds, sizes))
        last = time.perf_counter() - t0
        rows.append(row)
        progress(f"pack size {k}: {k / seconds:.2f} runs/s ({seconds:.2f} s)")
    return rows, skipped


def _seconds(fn, repeat: int = 3) -> float:
    """The fastest of `repeat` timings of fn() (which blocks until its result is ready)."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _gather_only(batch: int):
    """The gathers of one call's batches alone (each member's rows of x, as the step takes them)."""

    @jax.jit
    def gather(x, orders, n_steps):
        k = orders.shape[0]

        def body(j, acc):
            flat = jax.lax.dynamic_slice(orders, (0, j * batch), (k, batch)).reshape(-1)
            return acc + jax.numpy.take(x, flat, axis=0)[:, 0].sum()

        return jax.lax.fori_loop(0, n_steps, body, np.float32(0))

    return gather


def _stored(k: int) -> dict:
    """A compact-recorded permutation run's record (record.build's keys), with made-up numbers of a
    realistic size: scores per metric and part, counts, provenance."""
    metrics = {f"{part}_{name}": 0.5 + k * 1e-6 for part in ("test", "val") for name in ("loss", "accuracy", "balanced_accuracy", "macro_f1", "auc")}  # fmt: skip
    metrics.update(stopped_early=False, best_epoch=None, epochs_run=5, fit_seconds=0.01, n_params=7748, test_class_counts=[880, 880, 880, 890])  # fmt: skip
    return {
        "record_version": 2,
        "status": "finished",
        "run": {"subject": None},
        "config_hash": f"{k:064x}",
        "data": {
            "n_train": 20000,
            "n_val": 3530,
            "n_test": 3530,
            "n_features": 32,
            "fingerprint": "0" * 64,
            "class_names": ["a", "b", "c", "d"],
            "feature_names": [f"f{i}" for i in range(32)],
        },
        "metrics": metrics,
        "provenance": {
            "host": "gpu",
            "versions": {"jax": jax.__version__},
            "pack": {"key": "pack-bench", "size": 1, "index": k, "members": None},
        },
    }


def parts_of(pack: Pack, seconds: float, sizes: dict) -> dict:
    """Where a job's time for this pack goes, and what bounds its step. A job's time for the pack
    is the pack's wall time plus its writing (a checkpoint after every epoch and the compact records
    of its members, as training.py writes them); the compiled steps' share is an epoch's steps timed
    alone (block_until_ready) times the epochs; the host's share the rest of the pack's wall time."""
    k, n, bs = len(pack.members), sizes["n_train"], 32
    seeds = [m.seed for m in pack.members]
    epochs = tuple([0] * k)
    orders_host = epoch_orders(n, seeds, epochs, pack.offsets)
    orders = jax.device_put(orders_host)
    active = np.ones(k, bool)
    n_full = n // bs
    calls = [(s, min(STEPS_PER_EXECUTION, n_full - s)) for s in range(0, n_full, STEPS_PER_EXECUTION)]

    def epoch_steps(p: Pack, o) -> None:
        state = p.state
        for step0, n_steps in calls:
            chunk = Chunk(o, np.zeros(len(p.members), np.uint32), np.int32(step0 * bs), np.int32(step0), np.int32(n_steps), active[: len(p.members)])  # fmt: skip
            state, totals = p.compiled.train(bs, state, p.data, p.hyper, chunk)
        jax.block_until_ready((state, totals))

    steps = _seconds(lambda: epoch_steps(pack, orders))
    half = None
    if k >= 2:  # the same epoch at K/2 members: launches cost the same, work half
        small = Pack(pack.spec.shape, "sgd", bs, pack.members[: k // 2], STEPS_PER_EXECUTION)
        small_orders = jax.device_put(orders_host[: k // 2])
        epoch_steps(small, small_orders)  # compiles
        half = _seconds(lambda: epoch_steps(small, small_orders))
    gather = _gather_only(bs)
    jax.block_until_ready(gather(pack.data.x, orders, np.int32(1)))
    gathers = _seconds(lambda: jax.block_until_ready(gather(pack.data.x, orders, np.int32(n_full))))
    draw = _seconds(lambda: epoch_orders(n, seeds, epochs, pack.offsets), repeat=1)
    send = _seconds(lambda: jax.block_until_ready(jax.device_put(orders_host)))
    xv, yv = [m.x_val for m in pack.members], [m.y_val for m in pack.members]
    validation = _seconds(lambda: pack.evaluate(xv, yv), repeat=1)
    with tempfile.TemporaryDirectory() as tmp:
        state = [{"path": f"runs/d/a/h/seed0_perm{i}", "hash": f"{i:064x}", "fingerprint": "0" * 64, "epoch": m.epoch, "status": m.status, "history": m.history, "fit_seconds": m.fit_seconds, "early_stopping": m.stopping.state(), "has_best": False} for i, m in enumerate(pack.members)]  # fmt: skip
        t0 = time.perf_counter()
        checkpoint.save(Path(tmp) / "pack.npz", state, pack.state_arrays())
        ckpt = time.perf_counter() - t0
        ckpt_bytes = (Path(tmp) / "pack.npz").stat().st_size
        dirs = [f"{tmp}/runs/d/a/h/seed0_perm{i}" for i in range(k)]
        stored = [_stored(i) for i in range(k)]
        t0 = time.perf_counter()
        compact.write_pack(dirs, stored)
        records = time.perf_counter() - t0
    n_epochs = sizes["epochs"]
    writing = n_epochs * ckpt + records
    total = seconds + writing
    step_share = min(n_epochs * steps, seconds)
    return {
        "steps_share": step_share / total,
        "host_share": (seconds - step_share) / total,
        "writing_share": writing / total,
        "step_ms": 1000 * steps / n_full,
        "half_ratio": steps / half if half else None,
        "gather_ms": 1000 * gathers / n_full,
        "draw_s": draw,
        "send_s": send,
        "validation_s": validation,
        "checkpoint_s": ckpt,
        "checkpoint_mb": ckpt_bytes / 1e6,
        "records_s": records,
    }


def device_lines() -> list[str]:
    devices = jax.devices()
    kinds = sorted({getattr(d, "device_kind", "?") for d in devices})
    precision = (
        jax.config.jax_default_matmul_precision or "default"
    )  # the engine sets "highest" (engine/_jax.full_float32)
    warning = (
        []
        if jax.default_backend() == "gpu"
        else [f"Note: JAX found no GPU and ran on {jax.default_backend()}: these are not GPU figures."]
    )
    return warning + [
        f"Devices: jax.devices() = {devices} ({', '.join(kinds)}; backend {jax.default_backend()})",
        f"Versions: python {platform.python_version()}, jax {jax.__version__}, keras {keras.__version__} (backend {keras.backend.backend()}), numpy {np.__version__}; matmul precision {precision}; steps_per_execution {STEPS_PER_EXECUTION}",
    ]


def table(rows: list[dict], sizes: dict) -> list[str]:
    one = next((r for r in rows if r["pack_size"] == 1), rows[0])
    lines = [
        "| Pack size | Runs/s | Speed-up vs pack size 1 | Mean val accuracy | Seconds per pack | Share in training steps | Share in host work per epoch | Share writing |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['pack_size']} | {r['runs_per_s']:.2f} | {r['runs_per_s'] / one['runs_per_s']:.1f}× | {100 * r['val_accuracy']:.2f}% | {r['seconds']:.2f} | {100 * r['steps_share']:.0f}% | {100 * r['host_share']:.0f}% | {100 * r['writing_share']:.0f}% |"
        )
    return lines


def bounds_table(rows: list[dict], sizes: dict) -> list[str]:
    """What bounds the step, per pack size (the first column is not a bare number: one table of sizes)."""
    lines = [
        "| Members | One step (ms) | Epoch's steps at K ÷ at K/2 | Gathers alone per step (ms) | Orders drawn per epoch (s) | Orders sent (s) | Validation per epoch (s) | Checkpoint (s, MB) | Compact records (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        half = "" if r["half_ratio"] is None else f"{r['half_ratio']:.2f}"
        lines.append(
            f"| K = {r['pack_size']:,} | {r['step_ms']:.3f} | {half} | {r['gather_ms']:.3f} | {r['draw_s']:.3f} | {r['send_s']:.4f} | {r['validation_s']:.3f} | {r['checkpoint_s']:.3f}, {r['checkpoint_mb']:.1f} | {r['records_s']:.3f} |"
        )
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny data, pack sizes 1-4: a CPU smoke run")
    parser.add_argument(
        "--budget",
        type=float,
        default=270.0,
        help="seconds: pack sizes that would end past this are skipped (default 270)",
    )
    parser.add_argument("--output", type=Path, help="also write the results as Markdown to this file")
    parser.add_argument("--sizes", help="pack sizes, comma-separated (default: 1-4,096; --quick: 1, 2, 4)")
    parser.add_argument("--rows", type=int, help="training rows (default 20,000; --quick 512)")
    args = parser.parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    if args.sizes:
        sizes["pack_sizes"] = [int(k) for k in args.sizes.split(",")]
    if args.rows:
        sizes["n_train"] = args.rows
    progress(f"jax {jax.__version__} on {jax.default_backend()}: {jax.devices()}")
    data = blobs(sizes)
    shape = Shape(sizes["n_features"], HIDDEN, sizes["n_classes"], "relu")
    progress(f"fidelity: seed 0 alone and in a pack of {sizes['fidelity_pack']} ...")
    checks = [("the engine's full float32", fidelity(shape, data, sizes))]
    on_gpu = jax.default_backend() == "gpu"
    if on_gpu:  # for the record: what XLA's GPU default (TF32 matrix products) would give
        progress("fidelity with TF32 matrix products (XLA's GPU default, which the engine turns off) ...")
        with jax.default_matmul_precision("tensorfloat32"):
            checks.append(("TF32, XLA's GPU default", fidelity(shape, data, sizes)))
    rows, skipped = throughput(shape, data, sizes, args.budget)
    tf32 = []
    if on_gpu:  # the price of full float32: a few sizes again with TF32
        with jax.default_matmul_precision("tensorfloat32"):
            tf32, _ = throughput(
                shape,
                data,
                {**sizes, "pack_sizes": [k for k in (1, 64, 256, 4096) if any(r["pack_size"] == k for r in rows)]},
                args.budget + 60,
                parts=False,
            )
    problems = GUARD.problems()
    k64 = next((r for r in rows if r["pack_size"] == 64), None)
    one = next((r for r in rows if r["pack_size"] == 1), None)
    lines = [
        f"GPU check (bench/gpu.py{' --quick' if args.quick else ''}): the notebook model ({sizes['n_features']}-{'-'.join(map(str, HIDDEN))}-{sizes['n_classes']}, ReLU, SGD lr 0.01, batch 32), "
        f"{sizes['epochs']} epochs on {sizes['n_train']:,} x {sizes['n_features']} training rows with validation on {sizes['n_val']:,} rows after each epoch; "
        "a pack's time runs from building it (data to the device) to its last validation, after a warm-up pack of the same size.",
        "",
        *table(rows, sizes),
        "",
        (
            "Shares of a job's time for the pack: its wall time plus writing (a checkpoint after every epoch and the"
            " pack's compact records, timed on this machine's disk); training steps: an epoch's compiled steps timed"
            " alone (block_until_ready) times the epochs; host work: the rest of the pack's wall time (epoch orders,"
            " validation, copies, building the pack). What bounds the step:"
        ),
        "",
        *bounds_table(rows, sizes),
        "",
    ]
    if skipped:
        lines.append(f"Skipped to stay within {args.budget:.0f} s: pack sizes {', '.join(map(str, skipped))}.")
    if k64 and one:
        speedup = k64["runs_per_s"] / one["runs_per_s"]
        lines.append(
            f"Target: a pack of 64 at least 20× the throughput of pack size 1: {speedup:.1f}×, {'met' if speedup >= 20 else 'not met'}."
        )
    lines += [fidelity_line(f, precision) for precision, f in checks]
    for r in tf32:
        full = next(x for x in rows if x["pack_size"] == r["pack_size"])
        lines.append(
            f"TF32 instead of full float32, pack size {r['pack_size']}: {r['runs_per_s']:.2f} runs/s, {r['runs_per_s'] / full['runs_per_s']:.2f}× the engine's full-float32 throughput."
        )
    lines += device_lines()
    entry = sorted(who for who in GUARD.scipy_importers if not who.startswith("scipy"))
    lines.append(
        f"Imports: TensorFlow, scikit-learn and pandas never imported; SciPy only by {', '.join(entry) or 'nothing'} (JAX's own dependency)"
        if not problems
        else "Imports: PROBLEM: " + "; ".join(problems)
    )
    lines.append(f"Total time: {time.perf_counter() - T0:.0f} s.")
    text = "\n".join(lines)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    assert not problems, f"bench/gpu.py imported what a GPU machine lacks: {problems}"
    return 0 if checks[0][1]["ok"] else 1  # the engine's own precision must pass; TF32's line is information


if __name__ == "__main__":
    sys.exit(main())
