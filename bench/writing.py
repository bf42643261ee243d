"""(h) Writing run directories off the critical path: a job of 2 packs of K runs of the notebook
model (goodbad, 1 epoch), trained by training.train_runs with the run directories written
(a) in the training thread, one after another, as before (`Inline`: the writer's tasks run at
submission), and (b) by the writer thread (writer.py) while the next pack trains; side by
side, alternating, in one process (the backend started once).

Figures per K: the critical-path time of writing per run (time the training thread spends
handing over or doing the writing, plus the final drain, divided by the runs), the job's wall
time, and the share of it not spent training (training = the packs' epoch time, the sum of
the runs' fit_seconds).

    .venv/bin/python bench/writing.py [K ...]      (default: 32 256)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import measured

sys.path.insert(0, str(measured.REPO / "scripts"))
sys.path.insert(0, str(measured.REPO / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PACKS = 2


def sweep(k: int, results: Path) -> dict:
    from conftest import tiny_config
    from mlpsweep.config import validate_config

    cfg = tiny_config(
        datasets={
            "goodbad": {
                "source": "synthetic",
                "n_samples": 2000,
                "n_features": 20,
                "separation": 1.0,
                "noise": 1.0,
                "seed": 42,
            }
        },
        architectures={"notebook": {"hidden": [32, 64, 64]}},
        training={"epochs": 1, "batch_size": 32},
        seeds=list(range(k * PACKS)),
        execution={"runs_per_job": k * PACKS, "pack_size": k},
        results=str(results),
    )
    return validate_config(cfg)


def one_job(k: int, threaded: bool) -> dict:
    from mlpsweep.grid import expand_runs, plan_jobs
    from mlpsweep.training import DataCache, JobSettings, ModelExporter, train_runs
    from mlpsweep.writer import Writer

    class Inline(Writer):
        """The writing as before: done in the training thread, at submission."""

        def submit(self, path, task, on_error=None):
            t0 = time.perf_counter()
            try:
                task()
                if path is not None:
                    self.written.append(path)
            except Exception as exc:
                self.failures[path] = str(exc)
            self.spent += time.perf_counter() - t0

    class Timed(Writer):
        def submit(self, path, task, on_error=None):
            t0 = time.perf_counter()
            super().submit(path, task, on_error)
            self.spent += time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="mlpsweep-writing-") as tmp:
        cfg = sweep(k, Path(tmp))
        (job,) = plan_jobs(expand_runs(cfg), k * PACKS, k)
        writer = (Timed if threaded else Inline)(max_pending=k + 1)
        writer.spent = 0.0
        cache, exporter = DataCache(), ModelExporter()
        t0 = time.perf_counter()
        for pack in job.packs:
            statuses = train_runs(list(pack), tmp, cache, JobSettings(exporter=exporter, writer=writer))
        t_drain = time.perf_counter()
        writer.close()
        wall = time.perf_counter() - t0
        drain = time.perf_counter() - t_drain
        runs = [r for pack in job.packs for r in pack]
        fit = sum(json.loads((Path(tmp) / r.path / "metrics.json").read_text())["metrics"]["fit_seconds"] for r in runs)
        assert len(writer.written) == len(runs) and not writer.failures, writer.failures
        assert all(s == "finished" for s in statuses.values())
    return {
        "critical_per_run": (writer.spent + drain) / len(runs),
        "handover_per_run": writer.spent / len(runs),
        "wall": wall,
        "training": fit,
        "not_training": 1 - fit / wall,
    }


def main() -> None:
    from mlpsweep.training import configure_backend

    configure_backend(1)
    sizes = [int(a) for a in sys.argv[1:]] or [32, 256]
    one_job(8, True)  # warm: traces, imports, file cache
    print(
        "| Pack of K (x 2 packs) | Writing on the critical path per run: before | after | after ÷ before | of which handing over | Job wall (s): before | after | after ÷ before | Share not training: before | after |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for k in sizes:
        before, after = one_job(k, False), one_job(k, True)
        print(
            f"| {k} | {1000 * before['critical_per_run']:.1f} ms | {1000 * after['critical_per_run']:.1f} ms | {after['critical_per_run'] / before['critical_per_run']:.2f} | {1000 * after['handover_per_run']:.2f} ms |"
            f" {before['wall']:.1f} | {after['wall']:.1f} | {after['wall'] / before['wall']:.2f} | {100 * before['not_training']:.0f} % | {100 * after['not_training']:.0f} % |",
            flush=True,
        )


if __name__ == "__main__":
    main()
