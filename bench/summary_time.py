"""(d) Aggregating many run directories: mlpsweep.summary's collect_runs + write_summary.

The run directories are generated: well-formed metrics.json files (plus the
history.csv and model.keras a finished run holds), no training involved.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import measured

N_CLASSES = 4


def _record(dataset: str, arch: str, lr: float, seed: int, rng: random.Random) -> dict:
    accuracy = min(0.99, max(0.3, rng.gauss(0.7 + 0.05 * (arch[-1] == "1"), 0.02)))
    n_test = 300
    hits = round(accuracy * n_test)
    matrix = [[0] * N_CLASSES for _ in range(N_CLASSES)]
    for i in range(n_test):
        label = i % N_CLASSES
        matrix[label][label if i < hits else (label + 1) % N_CLASSES] += 1
    metrics = {f"{split}_{name}": rng.uniform(0.3, 0.9) for split in ("train", "val", "test") for name in ("loss", "accuracy", "balanced_accuracy", "macro_f1")}
    metrics.update({"test_accuracy": hits / n_test, "test_confusion_matrix": matrix, "epochs_run": 5, "fit_seconds": rng.uniform(0.5, 2.0), "n_params": 6788, "stopped_early": False, "best_epoch": None, "status": "finished"})
    return {
        "status": "finished",
        "run": {"dataset": dataset, "architecture": arch, "seed": seed},
        "config_hash": f"{rng.getrandbits(64):016x}",
        "config": {"dataset": {"name": dataset, "source": "synthetic"}, "architecture": {"name": arch, "hidden": [32, 64, 64]}, "training": {"learning_rate": lr}, "seed": seed},
        "data": {"fingerprint": "0" * 64, "class_names": [f"class{i}" for i in range(N_CLASSES)], "n_features": 32, "n_train": 1400, "n_val": 300, "n_test": n_test},
        "metrics": metrics,
        "provenance": {"host": "bench", "device": {"type": "CPU", "gpus": []}, "threads": 1, "slurm": None, "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:00:01+00:00"},
    }


def generate(results: Path, n_runs: int) -> list[str]:
    """`n_runs` finished run directories under `results/runs`; returns their relative paths."""
    from planning_time import grid_config

    cfg = grid_config(n_runs)
    rng = random.Random(0)
    history = "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n" + "".join(f"{e},0.9,0.6,0.9,0.6,0.1\n" for e in range(1, 6))
    paths = []
    for dataset in cfg["datasets"]:
        for arch in cfg["architectures"]:
            for lr in cfg["grid"]["learning_rate"]:
                for seed in cfg["seeds"]:
                    rel = f"runs/{dataset}/{arch}/lr{lr:g}/seed{seed}"
                    run_dir = results / rel
                    run_dir.mkdir(parents=True, exist_ok=True)
                    (run_dir / "metrics.json").write_text(json.dumps(_record(dataset, arch, lr, seed, rng), indent=2))
                    (run_dir / "history.csv").write_text(history)
                    (run_dir / "model.keras").write_bytes(b"")
                    paths.append(rel)
    return paths


def aggregate(results: Path, expected: list[str], out: Path) -> float:
    """What the summarize job does; returns its seconds (imports excluded)."""
    from mlpsweep.summary import collect_runs, write_summary

    t0 = time.perf_counter()
    runs = collect_runs(results, expected)
    write_summary(runs, None, results / "summary")
    seconds = time.perf_counter() - t0
    out.write_text(json.dumps({"seconds": seconds, "rows": len(runs)}))
    return seconds


def measure(n_runs: int, workdir: Path) -> dict:
    """Aggregation in a fresh process (as the summarize job), timed with and without its imports."""
    results = workdir / "summary-results"
    t0 = time.perf_counter()
    expected = generate(results, n_runs)
    generate_s = time.perf_counter() - t0
    paths = workdir / "summary-expected.json"
    paths.write_text(json.dumps(expected))
    out = workdir / "summary-timing.json"
    done = measured.run([sys.executable, __file__, str(results), str(paths), str(out)], workdir / "summary.log").check("summary aggregation")
    inner = json.loads(out.read_text())
    if inner["rows"] != n_runs:
        raise RuntimeError(f"summary aggregation saw {inner['rows']} runs, expected {n_runs}")
    return {"runs": n_runs, "aggregate_s": inner["seconds"], "process_s": done.seconds, "process_cpu_s": done.cpu_seconds, "generate_s": generate_s}


if __name__ == "__main__":
    aggregate(Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3]))
