"""Does every run's saved model reproduce its predictions.csv from raw feature rows?

Used by tests/test_workflow.py in its own process (TensorFlow) and as a script under
KERAS_BACKEND=jax (a process has one backend): `python tests/agreement.py RESULTS` prints JSON.

A row may only disagree where the exported model's two largest probabilities are within
NEAR_TIE of each other: the model standardizes in float32 what training standardized in
float64 before rounding, a difference of float32 rounding (about 1e-7 of each feature).
"""

from __future__ import annotations

import csv
import json
import logging
import sys
import warnings
from pathlib import Path

import numpy as np

NEAR_TIE = 1e-5  # of probability


def check(results: str | Path) -> dict:
    import keras

    from mlpsweep import rundir
    from mlpsweep.data import load_dataset
    from mlpsweep.export import resolved_config
    from mlpsweep.record import read

    results = Path(results)
    data_cache = {}
    out = {
        "backend": keras.backend.backend(),
        "runs": 0,
        "rows": 0,
        "disagree": 0,
        "near_ties": 0,
        "warnings": [],
        "problems": [],
    }
    for rel in rundir.discover(results):
        rec = read(results / rel)
        if rec is None or rec.status != "finished":
            continue
        run_dir = results / rel
        info = rundir.read_model_info(run_dir)
        config = resolved_config(rec.config)  # the defaults of today where an earlier release stored fewer keys
        key = json.dumps([config["dataset"], config["split"]["group"]], sort_keys=True)
        if key not in data_cache:
            data_cache[key] = load_dataset(config["dataset"], config["split"]["group"])
        data = data_cache[key]
        model, said = load_quietly(run_dir / rundir.MODEL_FILE)
        out["warnings"] += [f"{rel}: {text}" for text in said]
        with open(run_dir / rundir.PREDICTIONS_FILE, newline="") as fh:
            rows = list(csv.DictReader(fh))
        probabilities = model.predict(data.x[[int(r["row"]) for r in rows]], verbose=0)
        predicted = np.array(info["class_names"])[probabilities.argmax(axis=1)]
        top2 = np.sort(probabilities, axis=1)[:, -2:]
        near = (top2[:, 1] - top2[:, 0]) < NEAR_TIE
        differ = predicted != np.array([r["predicted"] for r in rows])
        out["runs"] += 1
        out["rows"] += len(rows)
        out["near_ties"] += int(near.sum())
        out["disagree"] += int(differ.sum())
        if (differ & ~near).any():
            out["problems"].append(
                f"{rel}: {int((differ & ~near).sum())} of {len(rows)} rows disagree with predictions.csv"
            )
        if info["class_names"] != rec.data["class_names"] or model.input_shape[-1] != len(data.x[0]):
            out["problems"].append(f"{rel}: model.json's classes or the model's inputs differ from the run's")
    return out


def load_quietly(path: Path):
    """keras.models.load_model in safe mode, and every warning or log line of WARNING or
    above (Python warnings, Keras's and absl's loggers) said while loading."""
    import keras

    caught = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = caught.append
    loggers = [
        logging.getLogger(),
        logging.getLogger("absl"),
        logging.getLogger("keras"),
        logging.getLogger("tensorflow"),
    ]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            model = keras.models.load_model(path, safe_mode=True)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    return model, [str(w.message) for w in said] + [r.getMessage() for r in caught]


if __name__ == "__main__":
    print(json.dumps(check(sys.argv[1])))
