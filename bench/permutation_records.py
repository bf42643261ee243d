"""The summary and the time course over a million made-up compact permutation records (issue #26,
point 4): wall time and peak memory of what the `summarize` and `timecourse` rules do, each in a
fresh process, per part.

    .venv/bin/python bench/permutation_records.py                          # 1,000,000 permutation records
    .venv/bin/python bench/permutation_records.py --size half --size million --output bench/PERMUTATIONS.md
    .venv/bin/python bench/permutation_records.py --quick                  # tiny: checks the harness

The results folder is a within-subject windowed time course with label permutations (one data set,
one cell): subjects x folds x windows real runs, each with its permutations. The real runs are run
directories written by the tests' fake-run builder (tests/fakes.py, through rundir.write_result);
the permutation runs are compact records written by compact.write_pack from records of the same
layout (the template is a fake run's record, read back through record.read), in packs of 64, so the
format cannot drift from what training writes. Generation is timed apart. Targets (2-core machine):
summary + time course at most 120 s and 4 GB at 1,000,000 permutation records.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import machine
import measured

sys.path.insert(0, str(measured.REPO / "scripts"))
sys.path.insert(0, str(measured.REPO / "tests"))

BENCH = Path(__file__).resolve().parent
PACK = 64  # permutation runs per pack (one compact file each)
CLASS_COUNTS = (20, 20)
EFFECT = 0.2  # the real runs' accuracy above chance in the middle third of the windows
TARGET_S, TARGET_GB = 120.0, 4.0


@dataclass(frozen=True)
class Size:
    subjects: int
    folds: int
    windows: int
    permutations: int

    @property
    def real(self) -> int:
        return self.subjects * self.folds * self.windows

    @property
    def permuted(self) -> int:
        return self.real * self.permutations


SIZES = {
    "quick": Size(3, 2, 4, 5),
    "tenth": Size(20, 5, 10, 100),
    "half": Size(20, 5, 50, 100),
    "million": Size(20, 5, 100, 100),
}
DATASET, ARCHITECTURE, HPARAMS = "within", "mlp", "default"


# ---------------------------------------------------------------- generating


def starts(size: Size) -> list[float]:
    return [round(0.01 * w, 6) for w in range(size.windows)]


def template(scratch: Path) -> dict:
    """A permutation run's record as training stores it (a fake run's, read back)."""
    from fakes import write_run
    from mlpsweep import record

    rel = write_run(scratch, DATASET, ARCHITECTURE, HPARAMS, fold=0, permutation=1, subject="01", window=0.0)
    return {**record.read(scratch / rel).stored, record.VERSION_KEY: record.RECORD_VERSION}  # as training writes


def permuted(base: dict, rel: str, subject: str, start: float, accuracy: float, key: str, index: int, n: int) -> dict:
    """`base` as the record of the permutation run at `rel` (its window, scores and place in its pack)."""
    from fakes import confusion

    matrix = confusion(CLASS_COUNTS, accuracy)
    score = sum(matrix[i][i] for i in range(len(matrix))) / sum(CLASS_COUNTS)
    metrics = {**base["metrics"], "test_confusion_matrix": matrix}
    metrics.update({f"test_{m}": score for m in ("accuracy", "balanced_accuracy", "macro_f1")}, test_loss=1 - score)
    window = {
        **base["data"]["window"],
        "start": start,
        "stop": start + 0.1,
        "centre": start + 0.05,
    }  # as fakes.write_run
    pack = {**base["provenance"]["pack"], "key": key, "index": index, "size": n}
    return {
        **base,
        "run": {**base["run"], "subject": subject},
        "config_hash": hashlib.sha256(rel.encode()).hexdigest(),
        "data": {**base["data"], "window": window},
        "metrics": metrics,
        "provenance": {**base["provenance"], "pack": pack},
    }


def generate(results: Path, size: Size) -> tuple[list[str], dict]:
    """The results folder: real run directories and compact permutation records; the expected
    run paths (as the summarize rule gets them) and the seconds each part took to write."""
    from fakes import write_run
    from mlpsweep import compact
    from mlpsweep.grid import leaf_name

    rng = random.Random(0)
    cell = results / "runs" / DATASET / ARCHITECTURE / HPARAMS
    effect = range(size.windows // 3, 2 * size.windows // 3)
    t0 = time.perf_counter()
    real, perms = [], []
    for s in range(size.subjects):
        subject = f"{s + 1:02d}"
        for fold in range(size.folds):
            for w, start in enumerate(starts(size)):
                accuracy = min(1.0, max(0.0, rng.gauss(0.5 + EFFECT * (w in effect), 0.05)))
                real.append(write_run(results, DATASET, ARCHITECTURE, HPARAMS, fold=fold, subject=subject,
                                      window=start, accuracy=accuracy, class_counts=CLASS_COUNTS))  # fmt: skip
                perms += [(subject, fold, start, p) for p in range(1, size.permutations + 1)]
    real_s = time.perf_counter() - t0
    base = template(results.parent / "template")
    t0 = time.perf_counter()
    paths = []
    for k in range(0, len(perms), PACK):
        mine, key = perms[k : k + PACK], f"pack-{k // PACK:07d}"
        rels = [
            f"runs/{DATASET}/{ARCHITECTURE}/{HPARAMS}/" + leaf_name(0, f, p, subject=s, window=t) for s, f, t, p in mine
        ]
        stored = [
            permuted(base, rel, s, t, min(1.0, max(0.0, rng.gauss(0.5, 0.05))), key, i, len(mine))
            for i, (rel, (s, _, t, _)) in enumerate(zip(rels, mine))
        ]
        compact.write_pack([f"{results}/{rel}" for rel in rels], stored, durable=False)
        paths += rels
    perm_s = time.perf_counter() - t0
    files = sum(1 for _ in (cell / compact.FOLDER).iterdir())
    return real + paths, {"real_s": real_s, "permutation_s": perm_s, "compact_files": files}


# ---------------------------------------------------------------- the rules' work, in a fresh process


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def summarize(results: Path, expected: list[str], out: Path) -> None:
    """scripts/summarize.py's main, part by part: reading the records, the summary tables, the
    selection and the best index; seconds and the process's peak memory after each."""
    from mlpsweep.best import write_best
    from mlpsweep.selection import write_selection
    from mlpsweep.tables.options import options_with_defaults
    from mlpsweep.tables.runs import collect_runs
    from mlpsweep.tables.summary import write_summary

    parts = {}
    t0 = time.perf_counter()
    runs = collect_runs(results, expected)
    parts["reading the records (collect_runs)"] = (time.perf_counter() - t0, _peak_gb())
    t0 = time.perf_counter()
    done = write_summary(runs, None, results / "summary")
    parts["summary tables (write_summary)"] = (time.perf_counter() - t0, _peak_gb())
    t0 = time.perf_counter()
    options = options_with_defaults(None)
    choices = write_selection(done["runs"], done["cells"], options, results / "summary")
    write_best(results, choices, options, results / "best")
    parts["selection and best index"] = (time.perf_counter() - t0, _peak_gb())
    counts = done["runs"]["status"].value_counts().to_dict()
    out.write_text(json.dumps({"parts": parts, "rows": len(done["runs"]), "statuses": counts}))


def timecourse(results: Path, out: Path) -> None:
    """scripts/timecourse.py's call (write_timecourse_outputs), its steps timed where it calls them."""
    from mlpsweep import timecourse, timecourse_null, timecourse_plots

    parts: dict[str, list] = {}

    def timed(module, name: str, label: str) -> None:
        function = getattr(module, name)

        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds, peak = parts.get(label, (0.0, 0.0))
                parts[label] = (seconds + time.perf_counter() - t0, max(peak, _peak_gb()))

        setattr(module, name, wrapper)

    timed(timecourse_plots, "read_runs", "reading runs.csv")
    timed(timecourse, "collect_windows", "reading the real runs' records (collect_windows)")
    timed(timecourse, "timecourse_table", "time-course table and sign-flip cluster test")
    timed(timecourse_null, "collect_null", "reading the permutation records (collect_null)")
    timed(timecourse_null, "add_null_columns", "model-level group null (add_null_columns)")
    timed(timecourse, "write_timecourse", "writing the table")
    timed(timecourse_plots, "_draw", "figures")
    t0 = time.perf_counter()
    table = timecourse_plots.write_timecourse_outputs(results, results / "summary", results / "plots")
    total = time.perf_counter() - t0
    significant = int(table["perm_significant"].sum()) if "perm_significant" in table else 0
    draws = int(table["perm_draws"].max()) if "perm_draws" in table else 0
    out.write_text(
        json.dumps({"parts": parts, "total_s": total, "rows": len(table), "significant": significant, "draws": draws})
    )


def measure(size: Size, workdir: Path) -> dict:
    """Generate the folder, then the summarize rule's work and the timecourse rule's, each in a
    fresh process (its wall time and peak RSS from wait4)."""
    results = workdir / "results"
    if (workdir / "generated.json").exists():  # --workdir of an earlier run: its folder as it is
        generated = json.loads((workdir / "generated.json").read_text())
    else:
        t0 = time.perf_counter()
        expected, generated = generate(results, size)
        generated["seconds"] = time.perf_counter() - t0
        (workdir / "expected.json").write_text(json.dumps(expected))
        (workdir / "generated.json").write_text(json.dumps(generated))
    shutil.rmtree(results / "summary", ignore_errors=True)
    shutil.rmtree(results / "plots", ignore_errors=True)
    shutil.rmtree(results / "best", ignore_errors=True)
    found = {"size": size.__dict__, "real": size.real, "permuted": size.permuted, "generate": generated}
    for stage, args in (("summary", [str(workdir / "expected.json")]), ("timecourse", [])):
        out = workdir / f"{stage}.json"
        cmd = [sys.executable, __file__, "--child", stage, str(results), *args, str(out)]
        before = machine.describe()["load_average"]
        done = measured.run(cmd, workdir / f"{stage}.log").check(stage)
        found[stage] = {
            **json.loads(out.read_text()),
            "process_s": done.seconds,
            "cpu_s": done.cpu_seconds,
            "peak_gb": done.max_rss_mb / 1024,
            "load_before": before,
        }
    if found["summary"]["rows"] != size.real + size.permuted:
        raise RuntimeError(f"the summary saw {found['summary']['rows']} runs, expected {size.real + size.permuted}")
    found["total_s"] = found["summary"]["process_s"] + found["timecourse"]["process_s"]
    found["peak_gb"] = max(found["summary"]["peak_gb"], found["timecourse"]["peak_gb"])
    return found


# ---------------------------------------------------------------- reporting


def markdown(found: dict[str, dict], about: dict, load_after: str) -> str:
    lines = [
        "## Summary and time course over compact permutation records (`bench/permutation_records.py`)",
        "",
        (
            f"Machine: {about['cpu']}; cores {about['cores']}; memory {about['memory']}; Python {about.get('python', '')}, "
            f"pandas {about.get('pandas', '')}, NumPy {about.get('numpy', '')}. Load average {about['load_average']} before, "
            f"{load_after} after (the 2 cores are shared with other sessions' work). "
            f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC."
        ),
        "",
        (
            "Within-subject windowed time course, one cell; each size's summarize and timecourse work in a fresh process "
            "each (wall time and peak RSS of that process from `wait4`; per part the seconds and the process's peak so far)."
        ),
        "",
    ]
    for name, f in found.items():
        s = f["size"]
        lines += [
            f"### {name}: {f['permuted']:,} permutation records + {f['real']:,} real runs",
            "",
            (
                f"{s['subjects']} subjects x {s['folds']} folds x {s['windows']} windows x {s['permutations']} permutations; "
                f"{f['generate']['compact_files']:,} files in permutations/ (packs of {PACK}). Generating (not timed "
                f"below): real run directories {f['generate']['real_s']:.1f} s, compact records "
                f"{f['generate']['permutation_s']:.1f} s."
            ),
            "",
            "| Process / part | Seconds | Peak GiB so far |",
            "| --- | ---: | ---: |",
        ]
        for stage in ("summary", "timecourse"):
            g = f[stage]
            lines.append(
                f"| **{stage}** (process, CPU {g['cpu_s']:.1f} s; load {g['load_before']} at start) | **{g['process_s']:.1f}** "
                f"| **{g['peak_gb']:.2f}** |"
            )
            lines += [f"| {part} | {sec:.1f} | {gb:.2f} |" for part, (sec, gb) in g["parts"].items()]
        met = f["total_s"] <= TARGET_S and f["peak_gb"] * 2**30 <= TARGET_GB * 1e9
        lines += [
            "",
            (
                f"Summary + time course: **{f['total_s']:.1f} s**, peak **{f['peak_gb']:.2f} GiB** "
                f"(target at 1,000,000 records: ≤ {TARGET_S:.0f} s and ≤ {TARGET_GB:.0f} GB = {TARGET_GB * 1e9 / 2**30:.2f} GiB: "
                f"{'met' if met else 'not met'}). Time course: {f['timecourse']['rows']} windows, "
                f"{f['timecourse']['draws']:,} draws of the group null, {f['timecourse']['significant']} significant."
            ),
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", action="append", choices=sorted(SIZES), help="sizes to run (default: million)")
    parser.add_argument("--quick", action="store_true", help="tiny size: checks the harness")
    parser.add_argument("--output", type=Path, help="write the Markdown section here")
    parser.add_argument("--json", type=Path, help="write the measured figures here (JSON)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument("--workdir", type=Path, help="working directory (kept); a size's folder in it is reused")
    args = parser.parse_args()
    sizes = ["quick"] if args.quick else args.size or ["million"]
    about = machine.describe()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mlpsweep-perm-records-"))
    try:
        found = {name: measure(SIZES[name], workdir / name) for name in sizes}
    finally:
        if args.keep or args.workdir:
            print(f"working directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = markdown(found, about, machine.describe()["load_average"])
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(found, indent=1), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        from mlpsweep.startup import fast_shutdown

        stage, rest = sys.argv[2], [Path(a) for a in sys.argv[3:]]
        if stage == "summary":
            summarize(rest[0], json.loads(rest[1].read_text()), rest[2])
        else:
            timecourse(rest[0], rest[1])
        fast_shutdown()  # as the rules' scripts end
    else:
        main()
