"""best/<dataset>/: an index of the runs the nested estimate chose (index.csv, with a README.txt),
no copies of their models; `export_best` copies them out for taking elsewhere.

Results of earlier releases hold copies instead (best/<dataset>/<leaf>/model.keras): `chosen_runs`
reads both layouts.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd

from . import rundir
from .refusal import refusal
from .registry import METRICS
from .storage import write_text_atomic
from .tables.render import csv_text

INDEX_FILE = "index.csv"
EXPORT_INDEX_FILE = "chosen.csv"  # an export's list of its runs: not an index (its models lie beside it)
INDEX_COLUMNS = ["leaf", "seed", "fold", "architecture", "hparams", "path", "select_by", "score"]

README = """Runs chosen without looking at the test rows: {dataset}

For every (seed, fold) run of data set {dataset}, the cell whose run had the best {metric}
(validation rows) was chosen (ties: fewer parameters, then the first cell in table order).
index.csv lists the chosen runs: leaf, seed, fold, cell, the run directory (path, relative to
{results}/) and its validation score. Their models stay in their run directories (no copies here).
The same choice and its test scores are in summary/selected.md. Label-permutation runs were never candidates.

{table}
Load and apply one (raw feature rows in, class probabilities out; model.json names the
classes, i.e. the output units in order, and the features, i.e. the input columns):

    import json, keras
    model = keras.models.load_model("{example}/model.keras", safe_mode=True)
    classes = json.load(open("{example}/model.json"))["class_names"]
    probabilities = model.predict(rows)      # rows: float32 array, n x {n_features}

Or all of them as an ensemble (their probabilities averaged), on a new data file:

    .venv/bin/python scripts/predict.py {where} new_rows.csv -o predictions.csv

To take them elsewhere (their model.keras and model.json copied, one folder per (seed, fold)):

    .venv/bin/python scripts/export_best.py {results} --to best_models
{incomplete}"""


def write_best(results: str | Path, choices: pd.DataFrame, options: dict, outdir: str | Path) -> None:
    """best/<dataset>/index.csv (the chosen runs, written atomically) and README.txt per data set;
    `choices` as selection.select returns them."""
    results, outdir = Path(results), Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for dataset, mine in choices[choices["path"].notna()].groupby("dataset", sort=False):
        shutil.rmtree(outdir / dataset, ignore_errors=True)  # an earlier summary's choices (or copies)
        (outdir / dataset).mkdir()
        write_text_atomic(outdir / dataset / INDEX_FILE, csv_text(mine[INDEX_COLUMNS]))
        write_text_atomic(outdir / dataset / "README.txt", _readme(results, outdir, dataset, mine, options))


def _readme(results: Path, outdir: Path, dataset: str, mine: pd.DataFrame, options: dict) -> str:
    """A data set's README.txt: how its runs were chosen, and how to use and export them."""
    old, gone = [], []
    for row in mine.to_dict("records"):
        source = results / row["path"]
        if not (source / rundir.MODEL_FILE).exists():
            gone.append(row["leaf"])
        elif not (source / rundir.MODEL_INFO_FILE).exists():
            old.append(row["leaf"])
    lines = [f"    {r['leaf']}: {r['architecture']}/{r['hparams']}  ({r['path']})" for r in mine.to_dict("records")]
    info = rundir.read_model_info(results / mine["path"].iloc[0]) or {}
    incomplete = (
        "\n"
        + refusal(
            None,
            f"Not complete models (made before model_format 2; they expect standardized rows): {', '.join(old)}",
            ".venv/bin/python scripts/export_models.py results, then regenerate the summary.\n",
            fix_on_own_line=True,
        )
        if old
        else ""
    ) + (
        f"\nMissing from their run directories (see the problem column of summary/runs.csv): {', '.join(gone)}.\n"
        if gone
        else ""
    )
    return README.format(
        dataset=dataset,
        metric=METRICS[options["select_by"]].label,
        results=results.name,
        table="\n".join(lines) + "\n",
        example=f"{results.name}/{mine['path'].iloc[0]}",
        where=f"{results.name}/{outdir.name}/{dataset}",
        n_features=info.get("n_features", "n_features"),
        incomplete=incomplete,
    )


def read_index(folder: str | Path) -> list[dict]:
    """The rows of best/<dataset>/index.csv, each with its run directory (`run_dir`) resolved
    against the results folder (the index folder's grandparent)."""
    folder = Path(folder).absolute()
    with open(folder / INDEX_FILE, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [{**row, "run_dir": folder.parent.parent / row["path"]} for row in rows]


def chosen_runs(folder: str | Path) -> list[tuple[str, Path]] | None:
    """(leaf, run directory with the model) of best/<dataset>: from its index, or from the copies
    an earlier release made there; None where `folder` is neither."""
    folder = Path(folder)
    if (folder / INDEX_FILE).is_file():
        return [(row["leaf"], row["run_dir"]) for row in read_index(folder)]
    copies = sorted(p.parent for p in folder.glob(f"*/{rundir.MODEL_FILE}"))
    return [(p.name, p) for p in copies] if copies else None


def export_best(results: str | Path, to: str | Path) -> dict[str, int]:
    """Copy every data set's chosen models (model.keras, model.json) to `to`/<dataset>/<leaf>/,
    with the index rows as chosen.csv; models copied per data set."""
    best, to = Path(results) / "best", Path(to)
    folders = sorted(p for p in best.glob("*") if p.is_dir()) if best.is_dir() else []
    done = {}
    for folder in folders:
        runs = chosen_runs(folder)
        if runs is None:
            continue
        target = to / folder.name
        target.mkdir(parents=True, exist_ok=True)
        n = 0
        for leaf, run_dir in runs:
            if not (run_dir / rundir.MODEL_FILE).is_file():
                continue  # the README names it as missing
            (target / leaf).mkdir(parents=True, exist_ok=True)
            for name in (rundir.MODEL_FILE, rundir.MODEL_INFO_FILE):
                if (run_dir / name).is_file():
                    shutil.copyfile(run_dir / name, target / leaf / name)
            n += 1
        if (folder / INDEX_FILE).is_file():
            shutil.copyfile(folder / INDEX_FILE, target / EXPORT_INDEX_FILE)
        done[folder.name] = n
    if not done:
        raise FileNotFoundError(
            refusal(best, "no chosen runs in it", "summarize the sweep first (snakemake, or scripts/summarize.py)")
        )
    return done


def main(argv: list[str] | None = None) -> int:
    """scripts/export_best.py: copy the chosen models out of a results folder."""
    import argparse
    import logging

    parser = argparse.ArgumentParser(description="Copy the chosen runs' models (best/<dataset>/index.csv) out.")
    parser.add_argument("results", nargs="?", default="results", help="the results folder (default: results)")
    parser.add_argument("--to", default="best_models", help="where to copy them (default: best_models)")
    args = parser.parse_args(argv)
    try:
        done = export_best(args.results, args.to)
    except FileNotFoundError as exc:
        logging.getLogger("mlpsweep").error("%s", exc)
        return 2
    for dataset, n in done.items():
        print(f"{dataset}: {n} model{'s' if n != 1 else ''} copied to {args.to}/{dataset}")
    return 0
