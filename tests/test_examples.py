"""The documented examples run as shipped: `make demo`'s data, every config in config/examples/
and the README's first example plan, the decoding-over-time example runs end to end (small),
and the numbers the docs state (permutation runs, the smallest cluster-test p) are the code's."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import REPO, run_snakemake
from make_demo import FEATURES, PATTERN, make_demo
from mlpsweep import design, plan_size
from mlpsweep.config import read_yaml, validate_config
from mlpsweep.grid import expand_runs, plan_jobs
from mlpsweep.sizing import plan as plan_sizes

EXAMPLES = sorted((REPO / "config" / "examples").glob("*.yaml"))
EXAMPLE = REPO / "config" / "examples" / "decoding-over-time.yaml"


def readme_yaml(heading: str = "## Declaring a sweep") -> str:
    """The first YAML block under a heading of the README."""
    text = (REPO / "README.md").read_text()
    section = text[text.index(heading) :]
    return section[section.index("```yaml\n") + 8 : section.index("```", section.index("```yaml\n") + 8)]


def readme_first_example() -> str:
    return readme_yaml()


def readme_eeg(within: bool = False) -> dict:
    """The README's decoding-over-time block (data set and split) in the example's config;
    `within`: its commented split in place of the line above, as the comment says."""
    text = readme_yaml("## Decoding over time")
    if within:
        lines = text.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("# split:"))
        lines[at - 1 : at + 1] = [lines[at][2:]]
        text = "\n".join(lines)
    return {**read_yaml(str(EXAMPLE)), **yaml.safe_load(text)}


def within_subject_variant(text: str) -> str:
    """The example edited as its comment says: the two lines above deleted, the three uncommented."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "within-subject instead" in line)
    before = [i for i in range(at) if lines[i].strip() and not lines[i].lstrip().startswith("#")][-2:]
    assert [lines[i].split(":")[0].strip() for i in before] == ["method", "group"]
    out = []
    for i, line in enumerate(lines):
        if i in before:
            continue
        if at < i <= at + 4 and re.match(r"\s*# (method|folds|within):", line):
            line = line.replace("# ", "", 1)
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`make demo`'s files, in a directory of their own."""
    root = tmp_path_factory.mktemp("demo")
    make_demo(root)
    return root


def plan(cfg: dict, source: str = "example"):
    sweep = validate_config(copy.deepcopy(cfg), source=source)
    runs = expand_runs(sweep, source=source)
    execution = sweep["execution"]
    sized = plan_sizes(runs, execution, source=source)
    return sweep, runs, plan_jobs(runs, execution["runs_per_job"], execution["pack_size"], sized.pack_sizes)


def test_demo_is_small_deterministic_and_has_runs_and_an_effect(demo, tmp_path):
    import mne

    again = make_demo(tmp_path)
    files = sorted(p.relative_to(tmp_path) for p in again)
    assert len(files) == 7 and sum(p.stat().st_size for p in again) < 8e6
    for rel in files:  # the same bytes: a second `make demo` retrains nothing
        assert (
            hashlib.sha256((demo / rel).read_bytes()).digest() == hashlib.sha256((tmp_path / rel).read_bytes()).digest()
        )
    epochs = mne.read_epochs(demo / PATTERN.format(subject="01"), verbose="error")
    assert epochs.info.get_montage() is not None and len(mne.pick_types(epochs.info, eeg=True)) == 16
    assert sorted(epochs.metadata["run"].unique()) == [1, 2]
    assert len(epochs["deviant"]) == len(epochs["standard"]) == 40  # balanced by default
    pz = epochs.ch_names.index("Pz")
    difference = epochs["deviant"].get_data()[:, pz].mean(0) - epochs["standard"].get_data()[:, pz].mean(0)
    inside = (epochs.times >= 0.3) & (epochs.times < 0.45)
    assert difference[inside].mean() > 2e-6 > abs(difference[epochs.times < 0].mean())
    table = __import__("pandas").read_csv(demo / FEATURES)
    assert len(table) == 6 * 80 and {"subject", "condition"} <= set(table.columns) and table.shape[1] == 2 + 48


def test_an_unbalanced_demo_is_an_option(tmp_path):
    import mne

    make_demo(tmp_path, subjects=1, deviant_share=0.25)
    epochs = mne.read_epochs(tmp_path / PATTERN.format(subject="01"), verbose="error")
    assert (len(epochs["deviant"]), len(epochs["standard"])) == (20, 60)


@pytest.mark.parametrize(
    "name",
    [p.name for p in EXAMPLES] + ["within-subject variant", "README first example", "README EEG", "README EEG within"],
)
def test_every_example_plans_as_shipped(name, demo, monkeypatch):
    monkeypatch.chdir(demo)
    if name == "README first example":
        cfg = yaml.safe_load(readme_first_example())
    elif name == "within-subject variant":
        cfg = yaml.safe_load(within_subject_variant(EXAMPLE.read_text()))
    elif name.startswith("README EEG"):
        cfg = readme_eeg(within=name.endswith("within"))
    else:
        cfg = read_yaml(str(REPO / "config" / "examples" / name))
    sweep, runs, jobs = plan(cfg, name)
    assert runs and jobs
    assert design.warnings_of(sweep, runs, name) == []  # the shipped examples are sound designs
    if name in ("within-subject variant", "README EEG within"):
        assert {run.subject for run in runs} == {f"{k:02d}" for k in range(1, 7)} and runs[0].config["split"][
            "within"
        ] == "subject"


def test_permutation_runs_are_per_fold_window_and_first_seed(demo, monkeypatch):
    """README and config/README.md: N x folds x windows x subjects runs per cell, first seed."""
    monkeypatch.chdir(demo)
    cfg = read_yaml(str(EXAMPLE))
    _, runs, _ = plan(cfg)
    cfg["summary"]["permutations"] = 100
    _, with_perms, jobs = plan(cfg)
    folds, windows, seeds = 6, 19, 3
    mlp = [run for run in runs if run.architecture == "mlp"]  # per cell; the linear baseline has as many
    assert len(mlp) == folds * windows * seeds == 342 and len(runs) == 2 * 342
    permuted = [run for run in with_perms if run.permutation is not None and run.architecture == "mlp"]
    assert len(permuted) == 100 * folds * windows == 11_400  # the README's figure
    assert {run.seed for run in permuted} == {0}
    assert "11,400\n  beside its 342 runs" in (REPO / "README.md").read_text()
    line = plan_size.describe(plan_size.sweep_size(with_perms, jobs)[0])
    assert line.startswith("oddball: 2 cells, 23,484 runs (684 + 22,800 permutation), 19 windows")


def test_readme_states_the_planning_line_of_its_first_example(demo, monkeypatch):
    monkeypatch.chdir(demo)
    _, runs, jobs = plan(yaml.safe_load(readme_first_example()))
    printed = plan_size.render(plan_size.sweep_size(runs, jobs), "results/estimates/figures.json")
    readme = (REPO / "README.md").read_text()
    assert printed[0] in readme and printed[1] in readme and printed[2].split("): ")[0] in readme
    assert "6 cells (the exclusion drops 2 of the 8) × 3 seeds × 5 folds = 90 runs" in " ".join(readme.split())
    assert "20 permutation runs per cell and fold (600)" in " ".join(readme.split())


def test_smallest_cluster_p_is_one_over_two_to_the_n():
    """README and config/README.md: with n observations p >= 1/2^n (tail=1: all 2^n flips)."""
    from mlpsweep.stats.cluster import cluster_test

    for n, expected in ((4, 1 / 16), (5, 0.03125), (6, 1 / 64)):
        x = 5 + np.random.default_rng(n).normal(size=(n, 6))  # every observation far above 0
        _, p_values, _ = cluster_test(x, 1000, 0.05)
        assert p_values.min() == pytest.approx(expected) == design.smallest_cluster_p(n, 1000)
    _, p_values, _ = cluster_test(5 + np.random.default_rng(0).normal(size=(12, 6)), 100, 0.05)
    assert p_values.min() == pytest.approx(0.01) == design.smallest_cluster_p(12, 100)
    for doc in ("README.md", "config/README.md"):
        text = " ".join((REPO / doc).read_text().split())
        assert "smallest attainable p is 1/2^n" in text or "smallest p-value is 1/2^n" in text
        assert "2^(n−1)" not in text


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_regenerate_and_report_follow_the_configs_results():
    def dry(*args):
        env = {**os.environ, "MAKEFLAGS": ""}
        out = subprocess.run(
            ["make", "-n", *args, f"PY={sys.executable}", "SNAKEMAKE=snakemake"],
            cwd=REPO,
            capture_output=True,
            text=True,
            env=env,
        )
        return out.stdout

    report = dry("report", f"CONFIG={EXAMPLE.relative_to(REPO)}")
    assert (
        "--configfile config/examples/decoding-over-time.yaml --config regenerate=1"
        " --report results/oddball/report.html" in report
    )
    assert "pin_report_times.py results/oddball/report.html" in report
    assert "--report results/report.html" in dry("report") and "--configfile config/config.yaml" in dry("regenerate")


@pytest.mark.workflow
def test_decoding_over_time_example_runs_end_to_end(tmp_path):
    """The example as shipped, made small: 3 subjects, 3 windows, 1 seed, 2 epochs."""
    make_demo(tmp_path, subjects=3, trials_per_run=20)
    cfg = read_yaml(str(EXAMPLE))
    cfg["datasets"]["oddball"].update(tmin=0.2, tmax=0.5, windows={"length": 0.1, "step": 0.1})
    cfg["training"]["epochs"] = 2
    cfg["seeds"] = [0]
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = run_snakemake(tmp_path, "--configfile", "small.yaml")
    out = proc.stdout + proc.stderr
    assert "mlpsweep: sweep size, oddball: 2 cells, 18 runs, 3 windows, 2 packs, 1 job, 108 files" in out
    results = tmp_path / "results" / "oddball"
    table = (results / "summary" / "timecourse.csv").read_text().splitlines()
    assert len(table) == 1 + 2 * 3  # mlp and linear x 3 windows
    assert len(list((results / "runs").glob("oddball/mlp/default/*/metrics.json"))) == 9
    assert len(list((results / "runs").glob("oddball/linear/default/*/metrics.json"))) == 9
    record = json.loads(next((results / "runs").glob("oddball/mlp/default/*/metrics.json")).read_text())
    assert record["status"] == "finished"
    assert (results / "plots" / "timecourse" / "oddball.png").exists()
    comparisons = (results / "summary" / "comparisons.csv").read_text().splitlines()  # mlp - linear per window
    assert len(comparisons) == 1 + 3 and all(",mlp,default,linear," in line for line in comparisons[1:])
    assert (results / "plots" / "comparisons" / "oddball.png").exists() and (
        results / "benchmarks" / "compare.tsv"
    ).exists()


def test_oddball_auc_example_leaves_out_each_subjects_runs_on_its_unbalanced_demo(tmp_path, monkeypatch):
    """config/examples/oddball-auc.yaml on the data its comment makes: 3 runs, 30 % deviants."""
    make_demo(tmp_path, subjects=2, runs=3, trials_per_run=10, deviant_share=0.3)
    monkeypatch.chdir(tmp_path)
    sweep, runs, _ = plan(read_yaml(str(REPO / "config" / "examples" / "oddball-auc.yaml")))
    assert sweep["summary"]["timecourse_metric"] == "test_roc_auc" and sweep["summary"]["select_by"] == "val_roc_auc"
    assert {(r.subject, r.fold) for r in runs} == {(s, f) for s in ("01", "02") for f in range(3)}
    assert len(runs) == 2 * 3 * 19 * 2  # subjects x runs left out x windows x seeds
