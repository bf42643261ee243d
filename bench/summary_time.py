"""(d) Aggregating many run directories: mlpsweep's collect_runs (tables.runs) + write_summary (tables.summary),
against the floor of reading the same runs: json.load of every metrics.json.

The run directories are written by the tests' fake-run builder (tests/fakes.py), which goes
through the production writer (rundir.write_result): metrics.json, history.csv,
predictions.csv and model.keras as a finished run leaves them; no training involved.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import measured

sys.path.insert(0, str(measured.REPO / "scripts"))
sys.path.insert(0, str(measured.REPO / "tests"))

N_CLASSES = 4
TEST_ROWS_PER_CLASS = 75
REPEATS = 2  # each timing is the best of this many, the two alternating (equally warm file cache)


def generate(results: Path, n_runs: int) -> list[str]:
    """`n_runs` finished run directories under `results/runs`; returns their relative paths."""
    from fakes import write_run
    from planning_time import grid_config

    cfg = grid_config(n_runs)
    rng = random.Random(0)
    names = [f"class{i}" for i in range(N_CLASSES)]
    paths = []
    for dataset in cfg["datasets"]:
        for arch in cfg["architectures"]:
            for lr in cfg["grid"]["learning_rate"]:
                for seed in cfg["seeds"]:
                    accuracy = min(0.99, max(0.3, rng.gauss(0.7 + 0.05 * (arch[-1] == "1"), 0.02)))
                    counts = (TEST_ROWS_PER_CLASS,) * N_CLASSES
                    paths.append(
                        write_run(
                            results,
                            dataset,
                            arch,
                            f"lr{lr:g}",
                            seed,
                            accuracy=accuracy,
                            class_counts=counts,
                            class_names=names,
                            seconds=rng.uniform(0.5, 2.0),
                            epochs=5,
                        )
                    )
    return paths


def load_only(results: Path, expected: list[str]) -> float:
    """Seconds to json.load every run's metrics.json: the least any summary must do."""
    t0 = time.perf_counter()
    for rel in expected:
        with open(results / rel / "metrics.json", encoding="utf-8") as fh:
            json.load(fh)
    return time.perf_counter() - t0


def aggregate(results: Path, expected: list[str], out: Path) -> float:
    """What the summarize job does, timed against json.load alone (imports excluded)."""
    from mlpsweep.tables.runs import collect_runs
    from mlpsweep.tables.summary import write_summary

    loads, summaries, collects = [], [], []
    for _ in range(REPEATS):
        loads.append(load_only(results, expected))
        t0 = time.perf_counter()
        runs = collect_runs(results, expected)
        t1 = time.perf_counter()
        write_summary(runs, None, results / "summary")
        summaries.append(time.perf_counter() - t0)
        collects.append(t1 - t0)
    seconds, load = min(summaries), min(loads)
    cells = len(runs.groupby(["dataset", "architecture", "hparams"]))
    out.write_text(
        json.dumps(
            {
                "seconds": seconds,
                "json_load_s": load,
                "first_s": summaries[0],
                "collect_s": min(collects),
                "rows": len(runs),
                "cells": cells,
            }
        )
    )
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
    done = measured.run([sys.executable, __file__, str(results), str(paths), str(out)], workdir / "summary.log").check(
        "summary aggregation"
    )
    inner = json.loads(out.read_text())
    if inner["rows"] != n_runs:
        raise RuntimeError(f"summary aggregation saw {inner['rows']} runs, expected {n_runs}")
    return {
        "runs": n_runs,
        "aggregate_s": inner["seconds"],
        "first_aggregate_s": inner["first_s"],
        "json_load_s": inner["json_load_s"],
        "ratio_to_json_load": inner["seconds"] / inner["json_load_s"],
        "collect_s": inner["collect_s"],
        "collect_ratio_to_json_load": inner["collect_s"] / inner["json_load_s"],
        "cells": inner["cells"],
        "process_s": done.seconds,
        "process_cpu_s": done.cpu_seconds,
        "generate_s": generate_s,
    }


if __name__ == "__main__":
    aggregate(Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3]))
