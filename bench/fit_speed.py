"""(a) One run's training: the project's fit_run against the notebook's plain model.fit.

Each side runs in its own fresh process (`python bench/fit_speed.py SIDE SIZES_JSON OUT_JSON`,
SIDE one of notebook, notebook-threads, project), on the same data, split, model and
hyperparameters, one seed after another.
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

SPLIT = {"validation": 0.15, "test": 0.15, "seed": 0}  # one split for every seed, so both sides see the same rows


def samples_for(n_train: int) -> int:
    """The smallest data set size whose split leaves `n_train` training rows (tests check: exactly)."""
    n = n_train
    while True:
        n_test = math.ceil(SPLIT["test"] * n)
        left = n - n_test - math.ceil(SPLIT["validation"] * (n - n_test))
        if left >= n_train:
            return n
        n += 1


def sweep_config(sizes: dict) -> dict:
    """The notebook's model and fit(epochs=5, batch_size=32) as a one-cell sweep config."""
    return {
        "datasets": {"blobs": {"source": "synthetic", "n_samples": samples_for(sizes["n_train"]), "n_features": sizes["n_features"], "n_classes": sizes["n_classes"], "seed": 0}},
        "architectures": {"notebook": {"hidden": [32, 64, 64], "activation": "relu"}},
        "training": {"optimizer": "sgd", "learning_rate": 0.01, "batch_size": 32, "epochs": sizes["epochs"], "eval_batch_size": 128},
        "split": SPLIT,
        "seeds": sizes["seeds"],
    }


def _configure(threads: int | None) -> None:
    """TensorFlow's thread pools: its defaults (None), as in the notebook, or `threads` each."""
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def notebook_side(runs, cache, threads: int | None) -> list[dict]:
    """The notebook: build, compile, model.fit(x, y, epochs, batch_size=32), evaluate on the test rows."""
    import keras

    from mlpsweep.data import one_hot
    from mlpsweep.model import build_mlp, compile_mlp

    _configure(threads)
    out = []
    for run in runs:
        splits, _ = cache.splits(run.config)
        training = run.config["training"]
        t0, c0 = time.perf_counter(), time.process_time()
        keras.utils.set_random_seed(run.seed)
        model = compile_mlp(build_mlp(run.config["architecture"], splits.n_features, splits.n_classes), training)
        t_fit = time.perf_counter()
        model.fit(splits.x_train, one_hot(splits.y_train, splits.n_classes), epochs=training["epochs"], batch_size=training["batch_size"], verbose=0)
        fit_seconds = time.perf_counter() - t_fit
        _, accuracy = model.evaluate(splits.x_test, one_hot(splits.y_test, splits.n_classes), batch_size=training["eval_batch_size"], verbose=0)
        out.append({"seed": run.seed, "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0, "fit_seconds": fit_seconds, "test_accuracy": float(accuracy)})
    return out


def project_side(runs, cache, threads: int, steps_per_execution: int) -> list[dict]:
    """The project: fit_run (validation each epoch, a checkpoint each epoch, metrics on all splits)."""
    from mlpsweep.steps import CompiledModels
    from mlpsweep.training import configure_tensorflow, fit_run

    configure_tensorflow(threads)
    models = CompiledModels()  # as in a training job: later seeds reuse the traced model
    out = []
    with tempfile.TemporaryDirectory(prefix="mlpsweep-bench-fit-") as tmp:
        for run in runs:
            splits, _ = cache.splits(run.config)
            t0, c0 = time.perf_counter(), time.process_time()
            result = fit_run(run.config, splits, Path(tmp) / run.path, steps_per_execution=steps_per_execution, models=models)
            seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
            out.append({"seed": run.seed, "seconds": seconds, "cpu_seconds": cpu_seconds, "fit_seconds": result["fit_seconds"], "test_accuracy": result["metrics"]["test_accuracy"]})
    return out


def worker(side: str, sizes: dict) -> list[dict]:
    """One side's runs, with the execution defaults of the config schema (threads, steps_per_execution)."""
    from mlpsweep.config import validate_config
    from mlpsweep.grid import expand_runs
    from mlpsweep.training import DataCache

    sweep = validate_config(sweep_config(sizes), source="bench")
    runs, execution, cache = expand_runs(sweep), sweep["execution"], DataCache()
    if side == "notebook":
        return notebook_side(runs, cache, None)
    if side == "notebook-threads":
        return notebook_side(runs, cache, execution["threads"])
    return project_side(runs, cache, execution["threads"], execution["steps_per_execution"])


def _spawn(side: str, sizes: dict, workdir: Path, tag: str) -> list[dict]:
    out = workdir / f"fit-{side}-{tag}.json"
    measured.run([sys.executable, __file__, side, json.dumps(sizes), str(out)], workdir / f"fit-{side}-{tag}.log").check(f"bench/fit_speed.py {side}")
    return json.loads(out.read_text())


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


NOTEBOOK_SIDES = {"notebook": "TensorFlow's default threads", "notebook-threads": "the project's threads"}


def measure(sizes: dict, workdir: Path, repeats: int = 1) -> dict:
    """Each side in fresh processes, alternating, `repeats` times; the fastest repetition of each counts.

    The notebook runs with TensorFlow's default threads and with the project's thread count;
    the faster is the baseline. Times are per run (mean over the seeds), accuracy is the mean
    test accuracy over the seeds.
    """
    tried = {side: [] for side in (*NOTEBOOK_SIDES, "project")}
    for rep in range(repeats):
        for side in tried:
            tried[side].append(_spawn(side, sizes, workdir, str(rep)))
    baseline_side, notebook = min(((side, rep) for side in NOTEBOOK_SIDES for rep in tried[side]), key=lambda sr: _mean(r["fit_seconds"] for r in sr[1]))
    project = min(tried["project"], key=lambda rep: _mean(r["seconds"] for r in rep))
    nb_fit = _mean(r["fit_seconds"] for r in notebook)
    nb_total = _mean(r["seconds"] for r in notebook)
    pr_total = _mean(r["seconds"] for r in project)
    nb_acc = _mean(r["test_accuracy"] for r in notebook)
    pr_acc = _mean(r["test_accuracy"] for r in project)
    return {
        "notebook_fit_s": nb_fit,
        "notebook_total_s": nb_total,
        "project_fit_run_s": pr_total,
        "speedup": nb_fit / pr_total,
        "speedup_total": nb_total / pr_total,
        "notebook_accuracy": nb_acc,
        "project_accuracy": pr_acc,
        "accuracy_gap_points": 100 * (pr_acc - nb_acc),
        "notebook_threads": NOTEBOOK_SIDES[baseline_side],
        "repeats": repeats,
        "mean_seconds_by_repeat": {side: [round(_mean(r["fit_seconds" if side != "project" else "seconds"] for r in rep), 3) for rep in reps] for side, reps in tried.items()},
        "per_seed": {"notebook": notebook, "project": project},
    }


if __name__ == "__main__":
    Path(sys.argv[3]).write_text(json.dumps(worker(sys.argv[1], json.loads(sys.argv[2]))))
