"""A 64-point search trained as packs against one run at a time, side by side in one process.

The notebook's network (32-64-64 ReLU, SGD, batch 32) on synthetic data; a Sobol search
(`search:`) over learning rate (log 1e-4..1e-1), dropout (0..0.5) and L2 (log 1e-6..1e-2):
64 points of one shape, so the schema's packing trains them as 4 packs of 16. The other
side trains the same 64 runs with `execution.pack_size: 1`. Both go through
`mlpsweep.training.train_runs` (everything a job does per run: split, training with
validation and a checkpoint every epoch, evaluation, the run directory) in one process,
after a warm-up pack of each shape, alternating the sides; each side runs `--repeat` times
and the fastest counts. Each run's test accuracy is compared across the sides too.

    .venv/bin/python bench/search.py                          # about 3 minutes on 2 cores
    .venv/bin/python bench/search.py --output bench/SEARCH.md # keep the section (bench/run.py puts it into RESULTS.md)
    .venv/bin/python bench/search.py --quick                  # tiny sizes: checks the harness
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SPACE = {
    "learning_rate": {"log_uniform": [1.0e-4, 1.0e-1]},
    "architecture.dropout": {"uniform": [0.0, 0.5]},
    "architecture.l2": {"log_uniform": [1.0e-6, 1.0e-2]},
}
FULL = {
    "samples": 64,
    "n_samples": 14_000,
    "epochs": 5,
    "repeat": 2,
}  # 10,000 training rows (15% test, 15% of the rest validation)
QUICK = {"samples": 8, "n_samples": 400, "epochs": 1, "repeat": 1}


def sweep(sizes: dict, pack_size: int, samples: int | None = None) -> dict:
    from mlpsweep.config import validate_config

    return validate_config(
        {
            "datasets": {
                "blobs": {
                    "source": "synthetic",
                    "n_samples": sizes["n_samples"],
                    "n_features": 32,
                    "n_classes": 4,
                    "seed": 0,
                }
            },
            "architectures": {"notebook": {"hidden": [32, 64, 64], "activation": "relu"}},
            "training": {"optimizer": "sgd", "batch_size": 32, "epochs": sizes["epochs"]},
            "split": {"seed": 0},
            "seeds": [0],
            "search": {"method": "sobol", "samples": samples or sizes["samples"], "seed": 0, "space": SPACE},
            "execution": {"pack_size": pack_size, "runs_per_job": 1024},
        },
        source="bench/search.py",
    )


def train(cfg: dict, cache, results: Path) -> dict:
    """Train every planned pack of `cfg` into `results`: wall and CPU seconds, packs, accuracies."""
    from mlpsweep.grid import expand_runs, plan_jobs
    from mlpsweep.storage import read_json
    from mlpsweep.training import JobSettings, train_runs

    (job,) = plan_jobs(expand_runs(cfg), cfg["execution"]["runs_per_job"], cfg["execution"]["pack_size"])
    t0, c0 = time.perf_counter(), time.process_time()
    for pack in job.packs:
        settings = JobSettings(steps_per_execution=cfg["execution"]["steps_per_execution"])
        statuses = train_runs(list(pack), results, cache, settings)
        bad = {path: s for path, s in statuses.items() if s != "finished"}
        if bad:
            raise RuntimeError(f"runs not finished: {bad}")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    accuracy = {
        run.hparams: read_json(results / run.path / "metrics.json")["metrics"]["test_accuracy"] for run in job.runs
    }
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "packs": [len(p) for p in job.packs],
        "runs": len(job.runs),
        "test_accuracy": accuracy,
    }


def measure(sizes: dict) -> dict:
    from mlpsweep.training import DataCache, configure_backend

    packed, single = sweep(sizes, 16), sweep(sizes, 1)
    configure_backend(packed["execution"]["threads"])
    cache = DataCache()
    out = {
        "sizes": sizes,
        "threads": packed["execution"]["threads"],
        "load_before": os.getloadavg()[0],
        "packed": [],
        "single": [],
    }
    with tempfile.TemporaryDirectory(prefix="mlpsweep-bench-search-") as tmp:
        for pack_size in (16, 1):  # warm-up: data, split, and a traced step of each pack size (one pack)
            train(
                sweep(sizes, pack_size, samples=min(pack_size, sizes["samples"])), cache, Path(tmp) / f"warm{pack_size}"
            )
        for rep in range(sizes["repeat"]):
            for side, cfg in (
                (("packed", packed), ("single", single)) if rep % 2 == 0 else (("single", single), ("packed", packed))
            ):
                out[side].append(train(cfg, cache, Path(tmp) / f"{side}{rep}"))
    out["load_after"] = os.getloadavg()[0]
    best = {side: min(out[side], key=lambda r: r["seconds"]) for side in ("packed", "single")}
    diffs = [
        abs(best["packed"]["test_accuracy"][k] - best["single"]["test_accuracy"][k])
        for k in best["packed"]["test_accuracy"]
    ]
    out["ratio"] = best["single"]["seconds"] / best["packed"]["seconds"]
    out["cpu_ratio"] = best["single"]["cpu_seconds"] / best["packed"]["cpu_seconds"]
    out["max_accuracy_difference"] = max(diffs)
    out["best_test_accuracy"] = max(best["packed"]["test_accuracy"].values())
    return out


def section(out: dict) -> str:
    sizes, best = out["sizes"], {side: min(out[side], key=lambda r: r["seconds"]) for side in ("packed", "single")}
    n = best["packed"]["runs"]
    rows = [
        "| Side | Packs | Wall time | Per run | CPU time | ÷ packed |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
        f"| packed (pack_size 16, the default) | {len(best['packed']['packs'])} of {best['packed']['packs'][0]} | {best['packed']['seconds']:.1f} s | {best['packed']['seconds'] / n:.3f} s | {best['packed']['cpu_seconds']:.1f} s | 1.0× |",
        f"| one run at a time (pack_size 1) | {len(best['single']['packs'])} of 1 | {best['single']['seconds']:.1f} s | {best['single']['seconds'] / n:.3f} s | {best['single']['cpu_seconds']:.1f} s | **{out['ratio']:.2f}×** |",
    ]
    reps = "; ".join(
        f"{side}: " + ", ".join(f"{r['seconds']:.1f} s" for r in out[side]) for side in ("packed", "single")
    )
    return "\n".join(
        [
            f"## Search: {n} Sobol points trained as packs against one run at a time (`bench/search.py`)",
            "",
            f"Written by `.venv/bin/python bench/search.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. The notebook's network (32-64-64, SGD, batch 32, "
            f"{sizes['epochs']} epochs) on synthetic data ({sizes['n_samples']:,} rows, 32 features, 4 classes); a `search:` of {n} scrambled Sobol points over "
            "learning rate (log 1e-4..1e-1), dropout (0..0.5) and L2 (log 1e-6..1e-2), one seed: every point has one shape, so the schema's packing plans "
            f"{len(best['packed']['packs'])} packs. Both sides through `train_runs` in one process ({out['threads']} thread), after a warm-up of each, alternating; fastest of {sizes['repeat']}.",
            "",
            *rows,
            "",
            f"Packing the search makes it **{out['ratio']:.2f}×** cheaper in wall time ({out['cpu_ratio']:.2f}× in CPU time). The same runs score the same on both sides: "
            f"largest difference in test accuracy {out['max_accuracy_difference']:.4f} (best point {out['best_test_accuracy']:.4f}). Repetitions: {reps}. "
            f"Load average (1 min) {out['load_before']:.1f} → {out['load_after']:.1f}: the machine's 2 cores were shared with other work while this ran, so the absolute times are "
            "inflated and noisy; the ratio, taken side by side, is the figure.",
            "",
        ]
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness, numbers not meaningful")
    parser.add_argument("--repeat", type=int, help="repetitions of each side (default 2; 1 with --quick)")
    parser.add_argument("--output", type=Path, help="also write the Markdown section to this file")
    parser.add_argument("--json", type=Path, help="also write every number to this JSON file")
    args = parser.parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    if args.repeat:
        sizes["repeat"] = args.repeat
    out = measure(sizes)
    text = section(out)
    print(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
