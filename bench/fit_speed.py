"""(a) Per-run cost of training: packs of K seeds (mlpsweep.training.train_runs) against the
notebook's model.fit; (e) the peak memory of the process that trains packs of 32.

Each side runs in its own fresh process (`python bench/fit_speed.py SIDE SIZES_JSON OUT_JSON`)
on the same data, split, model and hyperparameters:

    notebook, notebook-threads   build_mlp + compile + fit(epochs, batch_size=32) + evaluate, a new
                                 model per seed; TensorFlow's default threads / the project's
    spe, spe-threads             the same with compile(steps_per_execution=64)
    pack-K                       train_runs on a pack of seeds 0..K-1 ("cold": traces the step),
                                 then on a second pack of seeds K..2K-1 ("warm"), as a job's later
                                 packs are; per-run cost = warm pack's wall time / K
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path

import measured

sys.path.insert(0, str(measured.REPO / "scripts"))

SPLIT = {"validation": 0.15, "test": 0.15, "seed": 0}  # one split for every seed, so every side sees the same rows
NOTEBOOK_SIDES = {"notebook": None, "notebook-threads": "project"}  # side -> threads (None: TensorFlow's defaults)
SPE_SIDES = {"spe": None, "spe-threads": "project"}
FIT_SPE = 64  # model.fit's steps_per_execution on the spe sides
# release 0.1's fit_run on this benchmark (bench/RESULTS.md of 2026-11-25; that code is gone)
RELEASE_0_1 = {"mean_s": 1.06, "first_s": 1.74, "later_s": 0.72}


def samples_for(n_train: int) -> int:
    """The smallest data set size whose split leaves `n_train` training rows (tests check: exactly)."""
    n = n_train
    while True:
        n_test = math.ceil(SPLIT["test"] * n)
        left = n - n_test - math.ceil(SPLIT["validation"] * (n - n_test))
        if left >= n_train:
            return n
        n += 1


def sweep_config(sizes: dict, seeds: list[int] | None = None) -> dict:
    """The notebook's model and fit(epochs=5, batch_size=32) as a one-cell sweep config."""
    return {
        "datasets": {
            "blobs": {
                "source": "synthetic",
                "n_samples": samples_for(sizes["n_train"]),
                "n_features": sizes["n_features"],
                "n_classes": sizes["n_classes"],
                "seed": 0,
            }
        },
        "architectures": {"notebook": {"hidden": [32, 64, 64], "activation": "relu"}},
        "training": {
            "optimizer": "sgd",
            "learning_rate": 0.01,
            "batch_size": 32,
            "epochs": sizes["epochs"],
            "eval_batch_size": 128,
        },
        "split": SPLIT,
        "seeds": sizes["seeds"] if seeds is None else seeds,
    }


def sides(sizes: dict) -> list[str]:
    """The processes to run; `fit_threads: ["project"]` leaves out TensorFlow's default threads (quick runs)."""
    threads = sizes.get("fit_threads", ["default", "project"])
    fits = [side for side, t in {**NOTEBOOK_SIDES, **SPE_SIDES}.items() if (t or "default") in threads]
    return [*fits, *(f"pack-{k}" for k in sizes["pack_sizes"])]


def _configure(threads: int | None) -> None:
    """TensorFlow's thread pools: its defaults (None), as in the notebook, or `threads` each."""
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def notebook_side(runs, cache, threads: int | None, steps_per_execution: int = 1) -> list[dict]:
    """The notebook: build, compile, model.fit(x, y, epochs, batch_size=32), evaluate on the test rows."""
    import keras

    from mlpsweep.data import one_hot
    from mlpsweep.model import build_mlp, compile_mlp

    _configure(threads)
    out = []
    for run in runs:
        splits, _ = cache.splits(run.config)  # the notebook splits once, outside its timing
        training = run.config["training"]
        t0, c0 = time.perf_counter(), time.process_time()
        keras.utils.set_random_seed(run.seed)
        model = compile_mlp(
            build_mlp(run.config["architecture"], splits.n_features, splits.n_classes), training, steps_per_execution
        )
        t_fit = time.perf_counter()
        model.fit(
            splits.x_train,
            one_hot(splits.y_train, splits.n_classes),
            epochs=training["epochs"],
            batch_size=training["batch_size"],
            verbose=0,
        )
        fit_seconds = time.perf_counter() - t_fit
        _, accuracy = model.evaluate(
            splits.x_test, one_hot(splits.y_test, splits.n_classes), batch_size=training["eval_batch_size"], verbose=0
        )
        out.append(
            {
                "seed": run.seed,
                "seconds": time.perf_counter() - t0,
                "cpu_seconds": time.process_time() - c0,
                "fit_seconds": fit_seconds,
                "test_accuracy": float(accuracy),
            }
        )
    return out


def pack_side(sizes: dict, k: int) -> dict:
    """Two packs of k seeds through train_runs, as a training job trains its planned packs."""
    from mlpsweep.config import validate_config
    from mlpsweep.grid import expand_runs, plan_jobs
    from mlpsweep.storage import read_json
    from mlpsweep.training import DataCache, JobSettings, configure_backend, train_runs

    sweep = validate_config(sweep_config(sizes, list(range(2 * k))), source="bench")
    execution = sweep["execution"]
    (job,) = plan_jobs(expand_runs(sweep), 2 * k, k)
    if [len(p) for p in job.packs] != [k, k]:
        raise RuntimeError(f"expected 2 packs of {k}, planned {[len(p) for p in job.packs]}")
    configure_backend(execution["threads"])
    cache = DataCache()
    cache.dataset(job.packs[0][0].config)  # the data set is generated before any timing, as on the notebook side
    out = {"pack_size": k, "threads": execution["threads"], "steps_per_execution": execution["steps_per_execution"]}
    with tempfile.TemporaryDirectory(prefix="mlpsweep-bench-fit-") as tmp:
        for label, pack in zip(("cold", "warm"), job.packs):
            t0, c0 = time.perf_counter(), time.process_time()
            settings = JobSettings(steps_per_execution=execution["steps_per_execution"])
            statuses = train_runs(list(pack), Path(tmp), cache, settings)
            seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
            bad = {path: s for path, s in statuses.items() if s != "finished"}
            if bad:
                raise RuntimeError(f"pack of {k}: runs not finished: {bad}")
            records = [read_json(Path(tmp) / run.path / "metrics.json") for run in pack]
            out[label] = {
                "seeds": [run.seed for run in pack],
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "per_run_s": seconds / k,
                "fit_seconds": sum(
                    r["metrics"]["fit_seconds"] for r in records
                ),  # the engine's training time, all members
                "test_accuracy": [r["metrics"]["test_accuracy"] for r in records],
                "model_files": sum((Path(tmp) / run.path / "model.keras").is_file() for run in pack),
            }
    return out


def worker(side: str, sizes: dict):
    if side.startswith("pack-"):
        return pack_side(sizes, int(side.removeprefix("pack-")))
    from mlpsweep.config import validate_config
    from mlpsweep.grid import expand_runs
    from mlpsweep.training import DataCache

    sweep = validate_config(sweep_config(sizes), source="bench")
    threads = sweep["execution"]["threads"] if {**NOTEBOOK_SIDES, **SPE_SIDES}[side] == "project" else None
    return notebook_side(expand_runs(sweep), DataCache(), threads, FIT_SPE if side in SPE_SIDES else 1)


def _spawn(side: str, sizes: dict, workdir: Path, tag: str) -> dict:
    out = workdir / f"fit-{side}-{tag}.json"
    done = measured.run(
        [sys.executable, __file__, side, json.dumps(sizes), str(out)], workdir / f"fit-{side}-{tag}.log"
    ).check(f"bench/fit_speed.py {side}")
    return {"result": json.loads(out.read_text()), "process_s": done.seconds, "max_rss_mb": done.max_rss_mb}


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def _fastest_fit(tried: dict, names) -> tuple[str, dict]:
    """The fastest repetition over the given model.fit sides, by mean seconds per run."""
    return min(
        ((side, rep) for side in names if side in tried for rep in tried[side]),
        key=lambda sr: _mean(r["seconds"] for r in sr[1]["result"]),
    )


def _baseline(side: str, rep: dict) -> dict:
    """A model.fit side's figures: mean cost per run and test accuracy over its seeds."""
    seeds = rep["result"]
    return {
        "side": side,
        "threads": "the project's" if {**NOTEBOOK_SIDES, **SPE_SIDES}[side] else "TensorFlow's default",
        "per_run_s": _mean(r["seconds"] for r in seeds),
        "fit_only_s": _mean(r["fit_seconds"] for r in seeds),
        "accuracy": _mean(r["test_accuracy"] for r in seeds),
        "per_seed": seeds,
        "max_rss_mb": rep["max_rss_mb"],
    }


def measure(sizes: dict, workdir: Path, repeats: int = 1) -> dict:
    """Every side in fresh processes, alternating, `repeats` times; the fastest repetition of each counts.

    model.fit runs with TensorFlow's default threads and with the project's thread count, and
    the faster counts. Its cost per run is build + compile + fit + evaluate (the fit alone is
    reported too); a pack's is train_runs' wall time over the warm pack / K.
    """
    tried = {side: [] for side in sides(sizes)}
    for rep in range(repeats):
        for side in tried:
            print(f"    (a) {side}, repetition {rep + 1}/{repeats}", file=sys.stderr, flush=True)
            tried[side].append(_spawn(side, sizes, workdir, str(rep)))
    baseline = {
        "notebook": _baseline(*_fastest_fit(tried, NOTEBOOK_SIDES)),
        "spe": {**_baseline(*_fastest_fit(tried, SPE_SIDES)), "steps_per_execution": FIT_SPE},
    }
    packs = {}
    for k in sizes["pack_sizes"]:
        best = min(tried[f"pack-{k}"], key=lambda rep: rep["result"]["warm"]["seconds"])
        r = best["result"]
        accuracies = r["cold"]["test_accuracy"] + r["warm"]["test_accuracy"]
        packs[str(k)] = {
            "per_run_s": r["warm"]["per_run_s"],
            "cold_per_run_s": r["cold"]["per_run_s"],
            "warm_cpu_per_run_s": r["warm"]["cpu_seconds"] / k,
            "warm_fit_per_run_s": r["warm"]["fit_seconds"] / k,
            "accuracy": _mean(accuracies),
            "seeds": len(accuracies),
            "process_s": best["process_s"],
            "max_rss_mb": best["max_rss_mb"],
            "threads": r["threads"],
            "steps_per_execution": r["steps_per_execution"],
        }
    nb_cost, spe_cost = baseline["notebook"]["per_run_s"], baseline["spe"]["per_run_s"]
    one = packs[str(min(sizes["pack_sizes"]))]["per_run_s"]
    for p in packs.values():
        p["speedup_vs_pack1"] = one / p["per_run_s"]
        p["speedup_vs_notebook"] = nb_cost / p["per_run_s"]
        p["speedup_vs_notebook_fit_only"] = baseline["notebook"]["fit_only_s"] / p["per_run_s"]
        p["speedup_vs_spe"] = spe_cost / p["per_run_s"]
        p["accuracy_gap_points"] = 100 * (p["accuracy"] - baseline["notebook"]["accuracy"])
    by_repeat = {}
    for side, reps in tried.items():
        key = (
            (lambda r: r["result"]["warm"]["per_run_s"])
            if side.startswith("pack-")
            else (lambda r: _mean(x["seconds"] for x in r["result"]))
        )
        by_repeat[side] = [round(key(rep), 3) for rep in reps]
    return {
        "n_train": sizes["n_train"],
        "epochs": sizes["epochs"],
        "repeats": repeats,
        **baseline,
        "packs": packs,
        "release_0_1_fit_run": RELEASE_0_1,
        "per_run_s_by_repeat": by_repeat,
    }


if __name__ == "__main__":
    Path(sys.argv[3]).write_text(json.dumps(worker(sys.argv[1], json.loads(sys.argv[2]))))
