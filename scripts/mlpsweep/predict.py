"""Trained models applied to new data: one run's model, or a cell's (or best/<dataset>/'s)
runs as an ensemble that averages their class probabilities.

The new rows come from a file of the kind the data set was (`data.read_features`: a table's
feature columns by name, or an NPZ array); the data set's label and group columns, if the file
has them, are ignored. Each model is a complete model (model.json, model_format 2).
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import numpy as np

from . import rundir
from .best import INDEX_FILE, chosen_runs
from .data import DataError, read_features
from .refusal import refusal

log = logging.getLogger("mlpsweep")


class PredictError(ValueError):
    """Models that cannot be applied; the message names the folder and the fix."""


def find_runs(path: str | Path) -> list[Path]:
    """The run directories with a model under `path`: itself, the runs best/<dataset>/index.csv
    lists, or its sub-folders (a cell's seeds and folds, an earlier release's copies in best/<dataset>/),
    label-permutation runs left out."""
    path = Path(path)
    if (path / rundir.MODEL_FILE).is_file():
        return [path]
    if (path / INDEX_FILE).is_file():
        return indexed_runs(path)
    found = sorted(p.parent for p in path.glob(f"*/{rundir.MODEL_FILE}") if "_perm" not in p.parent.name)
    if not found:
        raise PredictError(
            refusal(
                path,
                f"no {rundir.MODEL_FILE} in it or in its sub-folders",
                "give a run directory (.../seed0), a cell (.../<hparams>) or best/<dataset>",
            )
        )
    return found


def indexed_runs(path: Path) -> list[Path]:
    """The run directories best/<dataset>/index.csv lists; refused where one has lost its model."""
    runs = [run_dir for _, run_dir in chosen_runs(path)]
    missing = [str(run_dir) for run_dir in runs if not (run_dir / rundir.MODEL_FILE).is_file()]
    if missing or not runs:
        raise PredictError(
            refusal(
                path / INDEX_FILE,
                f"no {rundir.MODEL_FILE} in the chosen run directories {', '.join(missing)}"
                if missing
                else "it lists no run",
                "run it from the folder that holds the results folder (paths are relative to it), "
                "or regenerate the summary",
            )
        )
    return runs


def model_infos(run_dirs: list[Path]) -> dict:
    """The model.json all these runs share (classes, features, data set); refused where one
    lacks it or they differ."""
    infos = []
    for run_dir in run_dirs:
        info = rundir.read_model_info(run_dir)
        if not info or info.get("model_format", 1) < 2:
            raise PredictError(
                refusal(
                    run_dir,
                    f"{rundir.MODEL_FILE} is not a complete model"
                    f" (no {rundir.MODEL_INFO_FILE}: made before model_format 2, it expects standardized rows)",
                    ".venv/bin/python scripts/export_models.py <results> (trains nothing)",
                )
            )
        infos.append(info)
    for run_dir, info in zip(run_dirs[1:], infos[1:]):
        for key in ("class_names", "feature_names", "n_features"):
            if info[key] != infos[0][key]:
                raise PredictError(
                    refusal(
                        run_dir,
                        f"its {key} differ from those of {run_dirs[0]}",
                        "average models of one data set only (give one cell or one run)",
                    )
                )
    return infos[0]


def probabilities(run_dirs: list[Path], x: np.ndarray) -> np.ndarray:
    """The mean of the models' class probabilities for rows `x`."""
    import keras

    total = np.zeros((len(x), 0))
    for k, run_dir in enumerate(run_dirs):
        model = keras.models.load_model(run_dir / rundir.MODEL_FILE, safe_mode=True)
        p = np.asarray(model.predict(x, batch_size=1024, verbose=0), dtype=np.float64)
        total = p if k == 0 else total + p
    return total / len(run_dirs)


def predictions_csv(p: np.ndarray, class_names: list[str]) -> str:
    """Each new row: its index in the file, the predicted class and every class's probability."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["row", "predicted", *(f"p_{name}" for name in class_names)])
    for i, row in enumerate(p):
        writer.writerow([i, class_names[int(row.argmax())], *(format(v, ".6g") for v in row)])
    return buf.getvalue()


def predict_file(models: str | Path, data_file: str | Path) -> tuple[str, dict]:
    """(predictions CSV text, what was done) of the models at `models` on `data_file`."""
    run_dirs = find_runs(models)
    info = model_infos(run_dirs)
    spec = info["dataset"]
    ignore = tuple(c for c in (spec.get("label"), info.get("group_column"), *(spec.get("drop") or ())) if c)
    x = read_features(spec, str(data_file), info["feature_names"], info["n_features"], ignore)
    p = probabilities(run_dirs, x)
    return predictions_csv(p, info["class_names"]), {
        "models": len(run_dirs),
        "rows": len(x),
        "classes": info["class_names"],
        "ignored_columns": list(ignore),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .storage import write_text_atomic

    parser = argparse.ArgumentParser(
        description="Apply trained models to new rows: a run directory, or a cell / best/<dataset> "
        "(its runs' probabilities averaged)."
    )
    parser.add_argument(
        "models",
        help="a run directory (results/runs/<dataset>/<arch>/<hparams>/seed0), a cell (.../<hparams>) "
        "or results/best/<dataset>",
    )
    parser.add_argument(
        "data",
        help="new rows: a CSV/TSV/Parquet table with the data set's feature columns, "
        "or an NPZ array, as the data set was",
    )
    parser.add_argument("-o", "--output", help="predictions CSV to write (default: standard output)")
    args = parser.parse_args(argv)
    try:
        text, done = predict_file(args.models, args.data)
    except (PredictError, DataError) as exc:
        log.error("%s", exc)
        return 2
    if args.output:
        write_text_atomic(Path(args.output), text)
    else:
        print(text, end="")
    ignored = f"; columns {', '.join(done['ignored_columns'])} ignored if present" if done["ignored_columns"] else ""
    log.info(
        "predicted %d rows with %d model%s (classes: %s)%s",
        done["rows"],
        done["models"],
        "s" if done["models"] > 1 else "",
        ", ".join(done["classes"]),
        ignored,
    )
    return 0
