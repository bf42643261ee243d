"""What activation patterns (summary.patterns) cost a training job: one run.

`make demo`'s study (scripts/make_demo.py: 6 subjects, 16 EEG channels, a centro-parietal
effect) decoded as config/examples/decoding-over-time.yaml does (windows of 0.1 s every 0.05 s,
leave one subject out, the 64-unit MLP), 2 seeds and 30 epochs, trained in this process by
`mlpsweep.training.train_runs` with `JobSettings(patterns=True)`. The pattern of each
window-fold (patterns.channel_patterns on the test rows and test logits the evaluation already
holds, and its patterns.csv text) is timed inside the job; its share is that time over the
job's training time (train_runs' wall time: data, training, evaluation, writing).

    .venv/bin/python bench/patterns.py [--epochs 30] [--output bench/PATTERNS.md]

Target: patterns add at most 10 % to a job's training time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "scripts")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()

    from make_demo import PATTERN, make_demo
    from mlpsweep import patterns, rundir
    from mlpsweep.config import validate_config
    from mlpsweep.grid import expand_runs
    from mlpsweep.training import DataCache, JobSettings, configure_backend, train_runs

    configure_backend(1)
    timed = {"seconds": 0.0, "calls": 0}
    for module, name in ((patterns, "channel_patterns"), (rundir, "patterns_csv")):
        original = getattr(module, name)

        def wrapper(*a, _original=original, **k):
            t0 = time.perf_counter()
            try:
                return _original(*a, **k)
            finally:
                timed["seconds"] += time.perf_counter() - t0
                timed["calls"] += _original.__name__ == "channel_patterns"

        setattr(module, name, wrapper)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_demo(root)
        cfg = validate_config(
            {
                "datasets": {
                    "oddball": {
                        "source": "epochs", "path": str(root / PATTERN), "conditions": ["standard", "deviant"],
                        "picks": "eeg", "tmin": -0.2, "tmax": 0.8, "decim": 2, "windows": {"length": 0.1, "step": 0.05},
                    }
                },
                "architectures": {"mlp": {"hidden": [64], "dropout": 0.2}},
                "training": {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 32, "epochs": args.epochs},
                "split": {"method": "leave_one_group_out", "group": "subject"},
                "seeds": list(range(args.seeds)),
                "execution": {"pack_size": 64, "threads": 1},
                "summary": {"patterns": True},
            }
        )  # fmt: skip
        runs = expand_runs(cfg)
        packs = [runs[i : i + 64] for i in range(0, len(runs), 64)]
        cache, settings = DataCache(), JobSettings(patterns=True)
        t0 = time.perf_counter()
        for pack in packs:
            train_runs(pack, root / "results", cache, settings)
        job = time.perf_counter() - t0
        written = len(list((root / "results").rglob(rundir.PATTERNS_FILE)))

    per_fold = timed["seconds"] / max(timed["calls"], 1)
    share = timed["seconds"] / job
    lines = [
        "## Activation patterns: cost in a training job (bench/patterns.py)",
        "",
        f"{len(runs)} window-folds (make demo: 6 subjects x 19 windows x {args.seeds} seeds, 16 EEG channels x 5"
        f" samples, 64-unit MLP, {args.epochs} epochs, packs of 64, 1 thread), {written} patterns.csv written.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| job training time (train_runs wall) | {job:.2f} s |",
        f"| training per window-fold | {1e3 * job / len(runs):.2f} ms |",
        f"| patterns per window-fold (channel_patterns + patterns.csv text) | {1e3 * per_fold:.3f} ms |",
        f"| patterns' share of the job's training time | {100 * share:.2f} % (target <= 10 %) |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
