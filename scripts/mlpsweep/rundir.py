"""The layout of a run directory: its files, their names, and reading and writing them.

    runs/<dataset>/<architecture>/<hparams>/<leaf>/     leaf: seed0, seed0_fold3, seed0_perm7,
                                                        seed0_fold3_perm7, sub-01_seed0_fold3 (within-subject),
                                                        seed0_fold3_t+0.250 (a time window),
                                                        sub-01_seed0_fold1_out-2 (folds over runs within
                                                        subjects: the held-out run(s), joined by +)
        metrics.json     written last and atomically: its presence means the run is done
        history.csv      per-epoch training and validation loss and accuracy
        model.keras      the trained model: raw feature rows -> class probabilities
                         (keras.models.load_model(..., safe_mode=True))
        model.json       the model's class names (output units) and feature names (inputs), model_format 2
        predictions.csv  every test row: its row in the data set, group, true and predicted class, p_<class>
        failed.json      why the run failed (data or config), instead of metrics.json
    runs/<dataset>/<architecture>/<hparams>/permutations/   compact records of label-permutation runs
                                                        (compact.py): no directory per run
        train.log        this run's part of its job's log
        generalization.csv   windowed runs with summary.generalization: test accuracy at every window
        patterns.csv     windowed runs with summary.patterns: activation pattern per decision score and channel

The training side writes these files (training.py), the summary reads them (tables/runs.py), and
the tests build fake runs with the same functions (tests/fakes.py); metrics.json's contents,
their reading and their upgrading belong to record.py.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

from .storage import read_json, write_json_atomic, write_text_atomic

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
MODEL_FILE = "model.keras"
MODEL_INFO_FILE = "model.json"
PREDICTIONS_FILE = "predictions.csv"
FAILED_FILE = "failed.json"
LOG_FILE = "train.log"
GENERALIZATION_FILE = "generalization.csv"
PATTERNS_FILE = "patterns.csv"
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")
DONE = ("finished", "diverged")  # statuses of a run that is not trained again

RUN_DIR_RE = re.compile(
    r"^runs/(?P<dataset>[A-Za-z0-9_-]+)/(?P<architecture>[A-Za-z0-9_-]+)/(?P<hparams>[A-Za-z0-9_.-]+)/"
    r"(?:sub-(?P<subject>[A-Za-z0-9]+)_)?seed(?P<seed>\d+)(?:_fold(?P<fold>\d+))?"
    r"(?:_out-(?P<held_out>[A-Za-z0-9.+-]+))?"
    r"(?:_perm(?P<permutation>\d+))?"
    r"(?:_t(?P<window>[+-]\d+\.\d{3}))?$"
)


def subject_segment(subject: str) -> str:
    """A subject's part of its runs' directory names (`sub-<segment>_seed0`): the group value,
    less a BIDS `sub-` prefix (`sub-01` and `01` both give `sub-01_seed0`)."""
    return str(subject).removeprefix("sub-")


def held_out_segment(values) -> str:
    """The held-out groups' part of a run's name (`sub-01_seed0_fold1_out-2`, `out-1+3`): each
    value with characters outside A-Z a-z 0-9 . - made `-`, joined by `+`."""
    return "+".join(re.sub(r"[^A-Za-z0-9.-]", "-", str(v)) for v in values)


def window_label(start: float) -> str:
    """A time window's name in run paths (`seed0_t+0.250`), files and tables: its start in
    seconds, signed, three decimals."""
    return f"{start:+.3f}"


def parse(rel: str) -> dict | None:
    """dataset, architecture, hparams, seed, fold, permutation, subject and held_out (text) and
    window (start, seconds) of a run path, or None."""
    match = RUN_DIR_RE.match(rel)
    if not match:
        return None
    found = match.groupdict()
    window = None if found["window"] is None else float(found["window"])
    return {
        **found,
        **{k: None if found[k] is None else int(found[k]) for k in ("seed", "fold", "permutation")},
        "window": window,
    }


def discover(results: str | Path) -> list[str]:
    """Runs (relative to `results`) found on disk, finished or not: run directories and the
    runs of compact records (compact.py), each once, in order."""
    from . import compact

    results = Path(results)
    found = []
    for path in sorted((results / "runs").glob("*/*/*/*")):
        rel = path.relative_to(results).as_posix()
        if path.is_dir() and RUN_DIR_RE.match(rel):
            found.append(rel)
    more = set(compact.discover(results)) - set(found)
    return sorted([*found, *more]) if more else found


def history_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (format(row[k], ".6g") if isinstance(row[k], float) else row[k]) for k in HISTORY_COLUMNS})
    return buf.getvalue()


def predictions_csv(rows, groups, y_true, y_pred, class_names: list[str], probabilities=None) -> str:
    """Every test row: its row, group, true and predicted class and, where given, each class's
    probability (`p_<class>`, float32 written to 9 significant digits: read back exactly)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["row", "group", "true", "predicted", *(f"p_{n}" for n in class_names if probabilities is not None)]
    )
    for i, row in enumerate(rows):
        p = [] if probabilities is None else [format(float(v), ".9g") for v in probabilities[i]]
        writer.writerow(
            [
                int(row),
                "" if groups is None else groups[i],
                class_names[int(y_true[i])],
                class_names[int(y_pred[i])],
                *p,
            ]
        )
    return buf.getvalue()


def generalization_csv(rows) -> str:
    """generalization.csv: (test window start, accuracy, test rows[, balanced accuracy, ROC AUC])
    per window, in time order (the last two where the rows have them)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    rows = sorted(rows, key=lambda r: r[0])
    scores = bool(rows) and all(len(r) > 3 for r in rows)
    writer.writerow(["test_window", "accuracy", "n_test", *(("balanced_accuracy", "roc_auc") if scores else ())])
    number = lambda v: "" if math.isnan(v) else f"{float(v):.8g}"
    for start, accuracy, n_test, *more in rows:
        writer.writerow(
            [window_label(start), number(accuracy), int(n_test), *(map(number, more[:2]) if scores else ())]
        )
    return buf.getvalue()


def patterns_csv(scores: list[str], channels: list[str], patterns) -> str:
    """patterns.csv: (score, channel, pattern) rows, a score's channels in the data's order;
    the pattern in the data's units (8 significant digits), empty where it is not a number."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["score", "channel", "pattern"])
    for score, row in zip(scores, patterns):
        for channel, value in zip(channels, row):
            writer.writerow([score, channel, "" if value != value else f"{float(value):.8g}"])
    return buf.getvalue()


def read_patterns(run_dir: Path) -> list[tuple[str, str, float]] | None:
    """A run's patterns.csv as (score, channel, pattern) rows; None where it has none."""
    try:
        text = (Path(run_dir) / PATTERNS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return [(s, c, float(v) if v else float("nan")) for s, c, v in rows]


def write_result(
    run_dir: Path,
    record: dict,
    history: list[dict],
    model=None,
    predictions: str | None = None,
    *,
    durable: bool = True,
    extra_files: dict | None = None,
    model_info: dict | None = None,
) -> None:
    """Write a run's files; metrics.json last, so a reader never sees a half-written run.
    (`durable=False`, for generated test data alone, skips waiting for the disk.)
    `extra_files`: {file name: text} written before metrics.json too (e.g. GENERALIZATION_FILE)."""
    run_dir = Path(run_dir)
    write_text_atomic(run_dir / HISTORY_FILE, history_csv(history), durable=durable)
    for name, text in (extra_files or {}).items():
        write_text_atomic(run_dir / name, text, durable=durable)
    if predictions is not None:
        write_text_atomic(run_dir / PREDICTIONS_FILE, predictions, durable=durable)
    if model is not None:
        model(run_dir / MODEL_FILE)  # a writer function: Keras saves through a temporary file
    if model_info is not None:
        write_json_atomic(run_dir / MODEL_INFO_FILE, model_info, durable=durable)
    write_json_atomic(run_dir / METRICS_FILE, record, durable=durable)
    (run_dir / FAILED_FILE).unlink(missing_ok=True)


def write_failure(run_dir: Path, run_hash: str, error: str, time: str) -> None:
    write_json_atomic(
        Path(run_dir) / FAILED_FILE, {"status": "failed", "config_hash": run_hash, "error": error, "time": time}
    )


def read_model_info(run_dir: Path) -> dict | None:
    """The run's model.json (a complete model's classes and features), or None without one."""
    try:
        return read_json(Path(run_dir) / MODEL_INFO_FILE)
    except (OSError, ValueError):
        return None
