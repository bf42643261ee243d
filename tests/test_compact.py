"""Compact records of label-permutation runs (compact.py): bytes, not files; done once; both
layouts read by the summary, the time course, status and the sweep's planned size."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_config
from fakes import write_run
from mlpsweep import compact, plan_size, record, rundir, timecourse_plots
from mlpsweep.config import validate_config
from mlpsweep.grid import expand_runs, plan_jobs
from mlpsweep.status import status
from mlpsweep.tables.runs import collect_runs, read_run, run_dtypes

PERMUTATIONS = 40


def tiny_sweep(results: Path, **execution) -> tuple[dict, list]:
    cfg = tiny_config(
        datasets={"gb": {"source": "synthetic", "n_samples": 120, "n_features": 6, "seed": 5}},
        architectures={"a": {"hidden": [4]}},
        seeds=[0],
        summary={"permutations": PERMUTATIONS},
        results=str(results),
        execution={"pack_size": 64, "runs_per_job": 64, **execution},
    )
    cfg["training"] = {"epochs": 2, "batch_size": 32}
    sweep = validate_config(cfg)
    return sweep, expand_runs(sweep)


def train(sweep: dict, runs: list, keep: dict | None = None) -> dict:
    from mlpsweep.training import DataCache, JobSettings, configure_backend, train_runs

    configure_backend(1)
    keep = sweep["execution"]["keep"] if keep is None else keep
    return train_runs(runs, sweep["results"], DataCache(), JobSettings(keep=keep))


def damage(path: Path, text: str) -> None:
    """Replace a file by a damaged copy (as a later process finds it: its folder changed)."""
    (path.parent / "damaged").write_text(text)
    os.replace(path.parent / "damaged", path)


def files_and_bytes(folder: Path) -> tuple[int, int]:
    found = [p for p in folder.rglob("*") if p.is_file()]
    return len(found), sum(p.stat().st_size for p in found)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    results = tmp_path_factory.mktemp("compact") / "results"
    sweep, runs = tiny_sweep(results)
    assert sweep["execution"]["keep"] == {"permutation_runs": "scores"}  # the default
    assert set(train(sweep, runs).values()) == {"finished"}
    return sweep, runs, results


def test_permutation_runs_cost_bytes_not_files(trained):
    sweep, runs, results = trained
    perms = [r for r in runs if r.permutation is not None]
    assert len(perms) == PERMUTATIONS and not any((results / r.path).exists() for r in perms)
    n_files, n_bytes = files_and_bytes(results / "runs" / runs[0].cell / compact.FOLDER)
    assert n_files / len(perms) <= 0.05 and n_bytes / len(perms) <= 1000, (n_files, n_bytes)
    assert not list((results / "checkpoints").glob("*.npz"))  # removed once the compact records are written
    real = next(r for r in runs if r.permutation is None)
    assert (results / real.path / rundir.MODEL_FILE).is_file()  # real runs keep their directories
    for run in perms:
        rec = record.read(results / run.path)
        assert record.is_done(rec, run.config) and rec.data["class_names"] == ["good", "bad"]
        assert rec.run["permutation"] == run.permutation and rec.config_hash == run.hash
    assert set(train(sweep, runs).values()) == {"skipped"}  # done once, never retrained
    assert sorted(rundir.discover(results)) == sorted(r.path for r in runs)


def test_identity_does_not_depend_on_keep(tmp_path):
    _, scores = tiny_sweep(tmp_path)
    _, full = tiny_sweep(tmp_path, keep={"permutation_runs": "all"})
    assert [r.hash for r in scores] == [r.hash for r in full]


def test_runs_of_a_record_interrupted_mid_write_retrain_alone(trained, tmp_path):
    sweep, runs, source = trained
    results = tmp_path / "results"
    shutil.copytree(source, results)
    sweep = {**sweep, "results": str(results)}
    folder = results / "runs" / runs[0].cell / compact.FOLDER
    (pack,) = folder.glob("*.jsonl")
    lines = pack.read_text().splitlines(keepends=True)
    cut = lines[:-3] + [lines[-3][: len(lines[-3]) // 2]]  # the last three rows lost, one of them half
    damage(pack, "".join(cut))
    (folder / f".{pack.name}.x1y2.tmp").write_text("".join(lines))  # a killed job's temporary file: never read
    lost = {json.loads(line)["leaf"] for line in lines[-3:]}
    perms = [r for r in runs if r.permutation is not None]
    assert {
        r.path.rsplit("/", 1)[1] for r in perms if not record.is_done(record.read(results / r.path), r.config)
    } == lost
    statuses = train(sweep, runs)
    assert {p.rsplit("/", 1)[1] for p, s in statuses.items() if s == "finished"} == lost
    assert all(record.is_done(record.read(results / r.path), r.config) for r in perms)
    assert len(list(folder.glob("*.jsonl"))) == 2  # the retrained runs' pack wrote a file of its own


def test_a_jobs_reader_reads_what_read_does_from_one_look_at_each_folder(trained, tmp_path):
    """record.JobReader (a training job's done checks): the records record.read gives, for runs of
    both layouts, a run directory holding only failed.json, and a run not trained; each folder
    listed and each cell's files read when first asked about, not again after a later write."""
    sweep, runs, source = trained
    results = tmp_path / "results"
    shutil.copytree(source, results)
    perms = [r for r in runs if r.permutation is not None]
    rundir.write_failure(results / perms[0].path, perms[0].hash, "an earlier failure", "2026-01-01T00:00:00+00:00")
    folder = results / "runs" / runs[0].cell / compact.FOLDER
    (pack,) = folder.glob("*.jsonl")
    lines = pack.read_text().splitlines(keepends=True)
    damage(pack, "".join(lines[:-1]))  # the last permutation run not done
    reader = record.JobReader()
    for run in runs:
        expected, found = record.read(results / run.path), reader(results / run.path)
        assert (None if expected is None else expected.stored) == (None if found is None else found.stored), run.path
    assert reader(results / runs[0].path.replace("seed0", "seed9")) is None  # no such run
    (folder / "pack-later.jsonl").write_text(pack.read_text() + lines[-1])  # written after the look
    last = next(r for r in perms if r.path.endswith("/" + json.loads(lines[-1])["leaf"]))
    assert reader(results / last.path) is None and record.is_done(record.read(results / last.path), last.config)


def test_runs_finished_in_the_full_layout_stay_done(tmp_path):
    sweep, runs = tiny_sweep(tmp_path / "results")
    assert set(train(sweep, runs[:5], keep={"permutation_runs": "all"}).values()) == {"finished"}
    assert all((tmp_path / "results" / r.path / rundir.METRICS_FILE).is_file() for r in runs[:5])
    statuses = train(sweep, runs[:5])  # now with the default, scores
    assert set(statuses.values()) == {"skipped"}
    assert not (tmp_path / "results" / "runs" / runs[0].cell / compact.FOLDER).exists()


def test_status_counts_both_layouts(trained, tmp_path):
    sweep, runs, source = trained
    results = tmp_path / "results"
    shutil.copytree(source, results)
    sweep = {**sweep, "results": str(results)}
    perms = [r for r in runs if r.permutation is not None]
    for run in perms[:2]:  # two permutation runs also as run directories (a sweep of keep: all, resumed)
        full = {k: v for k, v in record.read(results / run.path).stored.items() if k != "layout"}
        rundir.write_result(results / run.path, {**full, "config": run.config}, [], durable=False)
        assert record.read(results / run.path).config == run.config
    folder = results / "runs" / runs[0].cell / compact.FOLDER
    (pack,) = folder.glob("*.jsonl")
    lines = pack.read_text().splitlines(keepends=True)
    damage(pack, "".join(lines[:-1]))  # the last row lost: that run waits
    st = status(sweep, plan_jobs(runs, 64, 64), results)
    assert {k: v for k, v in st["total"].states.items() if v} == {"finished": len(runs) - 1, "waiting": 1}


# ---------------------------------------------------------------- both layouts in one results folder

WINDOWS = [0.0, 0.1, 0.2, 0.3]


def windowed(results: Path) -> None:
    """4 subjects x 2 folds x 4 windows, 4 permutations each; an effect at windows 1-2."""
    rng = np.random.default_rng(1)
    for s in range(4):
        for fold in range(2):
            for w, start in enumerate(WINDOWS):
                for perm in (None, 1, 2, 3, 4):
                    effect = 0.25 if perm is None and w in (1, 2) else 0.0
                    accuracy = float(np.clip(0.5 + rng.normal(0, 0.03) + effect, 0, 1))
                    write_run(results, "within", "mlp", "default", fold=fold, permutation=perm, subject=f"{s + 1:02d}", window=start, accuracy=accuracy, class_counts=(20, 20))  # fmt: skip


def to_compact(results: Path, paths: list[str], pack: str) -> None:
    """Rewrite these run directories as one pack's compact records, as training would have."""
    stored = []
    for k, rel in enumerate(paths):
        rec = record.read(results / rel)
        prov = {**rec.stored["provenance"], "pack": {"key": pack, "size": len(paths), "index": k, "members": paths}}
        stored.append({**rec.stored, "provenance": prov})
    compact.write_pack([results / rel for rel in paths], stored, durable=False)
    for rel in paths:
        shutil.rmtree(results / rel)


def test_a_results_folder_with_both_layouts_summarizes(tmp_path):
    full, mixed = tmp_path / "full" / "results", tmp_path / "mixed" / "results"
    windowed(full)
    shutil.copytree(full, mixed)
    perms = [rel for rel in rundir.discover(mixed) if "_perm" in rel]
    to_compact(mixed, perms[: len(perms) // 2], "pack-a")  # half compact, half run directories
    to_compact(mixed, perms[len(perms) // 2 :][::2], "pack-b")
    paths = rundir.discover(full)
    assert rundir.discover(mixed) == paths
    runs = {name: collect_runs(folder, paths) for name, folder in (("full", full), ("mixed", mixed))}
    assert (runs["mixed"]["status"] == "finished").all() and (runs["mixed"]["problem"] == "").all()
    columns = ["path", "status", "test_accuracy", "val_accuracy", "n_test", "test_class_counts", "class_names"]
    pd.testing.assert_frame_equal(runs["full"][columns], runs["mixed"][columns])
    options = {"cluster_permutations": 100}
    tables = {}
    for name, folder in (("full", full), ("mixed", mixed)):
        (folder / "summary").mkdir()
        runs[name].to_csv(folder / "summary" / "runs.csv", index=False)
        tables[name] = timecourse_plots.write_timecourse_outputs(folder, folder / "summary", folder / "plots", options)
    assert tables["full"]["perm_p"].notna().all()
    for column in ("perm_p", "perm_cluster_p", "prevalence_bound", "perm_threshold"):
        pd.testing.assert_series_equal(tables["full"][column], tables["mixed"][column])


def test_many_runs_read_at_once_as_one_at_a_time(tmp_path):
    """record.read_many / collect_runs read each cell's files once: the same record per run as
    record.read, where a later pack rewrote runs, a row is damaged, and a run has no row."""
    results = tmp_path / "results"
    windowed(results)
    perms = [rel for rel in rundir.discover(results) if "_perm" in rel]
    stored = {rel: record.read(results / rel).stored for rel in perms[:60]}
    for rel in perms[:60]:
        shutil.rmtree(results / rel)
    for key, mine in (("pack-a", perms[:40]), ("pack-b", perms[20:60])):
        rows = []
        for k, rel in enumerate(mine):
            pack = {"key": key, "size": len(mine), "index": k, "members": mine}
            metrics = {**stored[rel]["metrics"], "test_loss": 1.0 if key == "pack-a" else 2.0}
            rows.append({**stored[rel], "metrics": metrics, "provenance": {**stored[rel]["provenance"], "pack": pack}})
        compact.write_pack([results / rel for rel in mine], rows, durable=False)
    pack_b = results / "runs/within/mlp/default/permutations/pack-b.jsonl"
    os.utime(pack_b, ns=(os.stat(pack_b).st_mtime_ns + 10**9,) * 2)  # written after pack-a
    lines = pack_b.read_text().splitlines()  # perms[20]'s last row is no record; perms[21]'s a damaged line
    leaf = json.loads(lines[1])["leaf"]
    pack_b.write_text("\n".join([*lines, lines[2][:-5], '{"leaf": "' + leaf + '", "status": 3}']) + "\n")
    os.utime(pack_b, ns=(os.stat(pack_b).st_mtime_ns + 10**9,) * 2)
    paths = [*rundir.discover(results), "runs/within/mlp/default/sub-09_seed0_fold0_perm1_t+0.000"]
    run_dirs = [f"{results}/{rel}" for rel in paths]
    many = dict(record.read_many(run_dirs))
    one = [record.read(run_dir) for run_dir in run_dirs]
    assert sorted(many) == list(range(len(paths)))
    assert [None if r is None else r.stored for r in one] == [
        None if r is None else r.stored for r in map(many.get, range(len(paths)))
    ]
    assert one[-1] is None and one[paths.index(perms[20])] is None
    assert [one[paths.index(perms[k])].metrics["test_loss"] for k in (0, 19, 21, 59)] == [1.0, 1.0, 2.0, 2.0]
    runs = collect_runs(results, paths)
    rows = [read_run(results, rel) for rel in paths]
    expected = pd.DataFrame({c: [row.get(c) for row in rows] for c in run_dtypes()}).astype(run_dtypes())
    pd.testing.assert_frame_equal(runs, expected)


# ---------------------------------------------------------------- the planned size


def test_planned_files_count_compact_permutation_runs(tmp_path):
    sweep, runs = tiny_sweep(tmp_path)
    jobs = plan_jobs(runs, 64, 64)
    (size, _) = plan_size.sweep_size(runs, jobs, keep=sweep["execution"]["keep"])
    # the real run's 6 files; the permutation runs' one pack file and one names file
    assert size.files == plan_size.FILES_PER_RUN + 2 and size.permutation_runs == PERMUTATIONS
    (full, _) = plan_size.sweep_size(runs, jobs, keep={"permutation_runs": "all"})
    assert full.files == len(runs) * plan_size.FILES_PER_RUN


def test_leftover_temporary_file_alone_is_no_record(tmp_path):
    folder = tmp_path / "runs" / "d" / "a" / "h" / compact.FOLDER
    folder.mkdir(parents=True)
    (folder / ".pack-x.jsonl.abc.tmp").write_text('{"layout":"compact"}\n{"leaf":"seed0_perm1"}\n')
    assert record.read(tmp_path / "runs/d/a/h/seed0_perm1") is None and rundir.discover(tmp_path) == []
    assert os.listdir(folder) == [".pack-x.jsonl.abc.tmp"]


# ---------------------------------------------------------------- through Snakemake


@pytest.mark.workflow
def test_a_sweep_with_compact_permutation_runs_through_snakemake(tmp_path):
    """One job: its manifest says it is done, the summary reads the compact runs, status counts them."""
    from conftest import run_snakemake, write_config

    sweep, runs = tiny_sweep(tmp_path / "results")
    cfg = tiny_config(
        datasets={"gb": {"source": "synthetic", "n_samples": 120, "n_features": 6, "seed": 5}},
        architectures={"a": {"hidden": [4]}},
        seeds=[0],
        summary={"permutations": PERMUTATIONS},
        execution={"pack_size": 64, "runs_per_job": 64, "threads": 1},
        training={"epochs": 2, "batch_size": 32},
    )
    write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, "results/summary/runs.csv", timeout=300)
    assert f"{PERMUTATIONS + 1} runs (1 + {PERMUTATIONS} permutation)" in proc.stdout + proc.stderr
    assert "8 files" in proc.stdout + proc.stderr  # the planned size counts the compact records' files
    results = tmp_path / "results"
    table = pd.read_csv(results / "summary" / "runs.csv")
    assert (
        len(table) == len(runs)
        and set(table["status"]) == {"finished"}
        and table["permutation"].notna().sum() == PERMUTATIONS
    )
    assert not any((results / r.path).exists() for r in runs if r.permutation is not None)
    cells = pd.read_csv(results / "summary" / "summary.csv")
    assert cells["perm_p_value"].notna().all() and set(cells["n_permutations"]) == {PERMUTATIONS}
    proc = run_snakemake(tmp_path, "--config", "status=1", "--nolock", timeout=120)
    assert f"**{len(runs)} of {len(runs)} done**" in proc.stdout
