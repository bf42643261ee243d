"""(i) The training job on a real GPU (JAX): the device check, the GPU's memory as the job
reads it, packs cut to that memory, and the GPU formula of docs/sizing.md against the peak
memory JAX's allocator reached.

Three training jobs (`jobs.run_job`, the function rule `train` calls), each a process of its
own, on one sweep: the notebook-shaped "wide" network (hidden 1024-1024) on synthetic data,
64 seeds, planned as one pack of 64, plus a "typo" architecture (hidden 300,000,000):

1. the whole GPU (JAX's default allocator limit, 75 % of the card): the pack of 64 trains as
   planned, the typo's runs are refused at job time with a failed.json that says why (a
   sweep planned without execution.gpu_mem_mb), and the job exits 1;
2. the same "wide" runs with XLA_PYTHON_CLIENT_MEM_FRACTION set so that the allocator
   holds about 1 GB: the job cuts the pack to what fits and trains it without running out
   of memory; every run's losses equal job 1's within the engine's tolerance;
3. peak memory: per job, JAX's `peak_bytes_in_use` against the formula's gpu(K) of the
   largest pack trained.

    python bench/gpu_memory.py [--output bench/GPU_MEMORY.md]     # a GPU machine, ~1 minute

Needs NumPy, JAX with CUDA, Keras, pandas, PyYAML, jsonschema and this repository; no
TensorFlow, no Snakemake.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RTOL = 1e-4  # the engine's tolerance on losses, alone vs in a pack (README, Performance)
SEEDS = 64
SMALL_FRACTION_GB = 1.0

JOB = r"""
import json, os, sys, time
sys.path[:0] = [sys.argv[1] + "/scripts"]
os.environ["KERAS_BACKEND"] = "jax"
from mlpsweep.config import validate_config
from mlpsweep.grid import expand_runs, job_params, plan_jobs
from mlpsweep.jobs import run_job, setup_logging
import jax
sweep = validate_config(json.loads(sys.argv[2]))
runs = expand_runs(sweep)
(job,) = plan_jobs(runs, len(runs), sweep["execution"]["pack_size"])
setup_logging(sys.argv[3])
t0 = time.perf_counter()
code = run_job(sweep, job_params(job)["packs"], sweep["results"], sweep["results"] + "/manifest.json")
device = next(d for d in jax.devices() if d.platform in ("gpu", "cuda"))
stats = device.memory_stats() or {}
print("RESULT " + json.dumps({"exit": code, "seconds": time.perf_counter() - t0, "device": device.device_kind,
    "bytes_limit": stats.get("bytes_limit"), "peak_bytes_in_use": stats.get("peak_bytes_in_use")}))
"""


def sweep(results: Path, typo: bool) -> dict:
    architectures = {"wide": {"hidden": [1024, 1024]}}
    if typo:
        architectures["typo"] = {"hidden": [300_000_000]}
    return {
        "datasets": {"d": {"source": "synthetic", "n_samples": 4000, "n_features": 64, "seed": 1}},
        "architectures": architectures,
        "training": {"epochs": 2, "batch_size": 32},
        "seeds": list(range(SEEDS)),
        "execution": {
            "runs_per_job": 2 * SEEDS,
            "pack_size": SEEDS,
            "mem_mb": 10_000_000,
            "require_gpu": True,
            "threads": 1,
        },
        "results": str(results),
    }


def job(cfg: dict, log: Path, env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", JOB, str(REPO), json.dumps(cfg), str(log)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"job failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
    out = json.loads(lines[-1][len("RESULT ") :])
    out["log"] = log.read_text(encoding="utf-8")
    return out


def metrics(results: Path, arch: str) -> dict:
    out = {}
    for path in sorted((results / "runs" / "d" / arch / "default").glob("seed*")):
        for name in ("metrics.json", "failed.json"):
            if (path / name).exists():
                out[path.name] = json.loads((path / name).read_text())
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "scripts"))
    from mlpsweep import sizing
    from mlpsweep.config import validate_config
    from mlpsweep.grid import expand_runs

    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="gpu_memory_"))
    whole = job(sweep(tmp / "whole", typo=True), tmp / "whole.log", {})
    total_gb = whole["bytes_limit"] / 0.75 / 2**30  # JAX's default limit is 75 % of the card
    fraction = SMALL_FRACTION_GB / total_gb
    small = job(
        sweep(tmp / "small", typo=False), tmp / "small.log", {"XLA_PYTHON_CLIENT_MEM_FRACTION": f"{fraction:.4f}"}
    )

    runs = [r for r in expand_runs(validate_config(sweep(tmp / "x", typo=False)))]
    size = sizing.size_of(runs, {})
    a, b = metrics(tmp / "whole", "wide"), metrics(tmp / "small", "wide")
    typo = metrics(tmp / "whole", "typo")
    packs_small = sorted({m["provenance"]["pack"]["size"] for m in b.values() if "provenance" in m})
    packs_whole = sorted({m["provenance"]["pack"]["size"] for m in a.values() if "provenance" in m})
    worst = max(
        abs(a[k]["metrics"][f"{p}_loss"] - b[k]["metrics"][f"{p}_loss"]) / max(abs(a[k]["metrics"][f"{p}_loss"]), 1e-12)
        for k in a
        for p in ("train", "val", "test")
    )
    same_acc = sum(a[k]["metrics"]["test_accuracy"] == b[k]["metrics"]["test_accuracy"] for k in a)
    refused = [m for m in typo.values() if m.get("status") == "failed"]
    cut_note = next((line for line in small["log"].splitlines() if "trained as packs of" in line), "(none)")
    limit_line = [line for line in small["log"].splitlines() if "MB usable by" in line]
    k_small = max(packs_small) if packs_small else 0
    rows = [
        ("whole GPU", whole, packs_whole, size.gpu(max(packs_whole)) if packs_whole else None),
        (
            f"about {SMALL_FRACTION_GB:g} GB (XLA_PYTHON_CLIENT_MEM_FRACTION={fraction:.4f})",
            small,
            packs_small,
            size.gpu(k_small) if k_small else None,
        ),
    ]
    lines = [
        f"GPU memory check (bench/gpu_memory.py) on {whole['device']}: {SEEDS} runs of d/wide ({size.params:,} parameters, 4,000 x 64 rows, 2 epochs) planned as one pack of {SEEDS}, in a training job (jobs.run_job, JAX) per row.",
        "",
        "| Allocator limit | Limit (MB) | Packs trained | Formula gpu(K) of the largest (MB) | JAX peak in use (MB) | Formula ÷ peak | Job exit | Job seconds |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, res, packs, formula in rows:
        peak = res["peak_bytes_in_use"]
        lines.append(
            f"| {label} | {res['bytes_limit'] / 2**20:,.0f} | {', '.join(map(str, packs))} | {formula / 2**20:,.0f} | {peak / 2**20:,.0f} | {formula / peak:.2f} | {res['exit']} | {res['seconds']:.1f} |"
        )
    lines += [
        "",
        f"- Job 1 refused the {len(refused)} typo runs (hidden 300,000,000) at job time: {refused[0]['error'][:220] if refused else 'NONE'}...",
        f"- Job 2 cut the pack: {cut_note.split(' WARNING ')[-1][:300]}",
        f"- Job 2's log: {limit_line[0].split(' INFO ')[-1] if limit_line else '(no limit line)'}",
        f"- The {len(a)} runs' losses, pack of {max(packs_whole) if packs_whole else '?'} vs packs of {k_small}: largest relative difference {worst:.1e} (tolerance {RTOL:g}); test accuracies equal in {same_acc} of {len(a)} runs.",
        f"- Total time: {time.perf_counter() - t0:.0f} s.",
    ]
    ok = (
        whole["exit"] == 1
        and len(refused) == SEEDS
        and small["exit"] == 0
        and len(b) == SEEDS
        and k_small < SEEDS
        and worst <= RTOL
    )
    lines.append(f"- Verdict: {'PASS' if ok else 'FAIL'}")
    text = "\n".join(lines)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
