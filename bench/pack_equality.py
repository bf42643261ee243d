"""Each run of bench/search.py's search trained in its pack and alone: how far apart they end.

The notebook's network (32-64-64 ReLU, SGD, batch 32, 5 epochs) on bench/search.py's synthetic
data (10,115 training rows: 316 batches and a tail batch of 3 rows) and its 64 Sobol points over
learning rate, dropout and L2, planned as 4 packs of 16. Each pack is trained, then each of its
runs alone (a pack of one, after the pack in one process), both through the engine directly.
After every epoch: the relative distance of the two weight sets, the largest difference of a
test logit, the test rows whose predicted class differs, and for those the gap between the two
top class probabilities of the run alone. Reported per learning-rate band.

    .venv/bin/python bench/pack_equality.py                    # about 1-2 minutes on 2 cores
    .venv/bin/python bench/pack_equality.py --output FILE.md   # also write the Markdown section
    .venv/bin/python bench/pack_equality.py --quick            # 1 pack, 2 epochs: checks the harness
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import measured  # noqa: E402
import numpy as np  # noqa: E402

BANDS = ((0.0, 1e-3), (1e-3, 1e-2), (1e-2, 0.2))


def top_two_gap(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    top = np.sort(p, axis=1)
    return top[:, -1] - top[:, -2]


def per_epoch(pack, xs) -> list:
    """[(per member: weights, test logits)] after each epoch."""
    out = []
    while any(m.active for m in pack.members):
        pack.train_epoch(lambda: False)
        logits = pack.predict(xs)
        out.append([(pack.member_weights(k), logits[k, : len(xs[k])]) for k in range(len(pack.members))])
    return out


def measure(epochs: int, n_packs: int) -> dict:
    import search

    from mlpsweep.grid import expand_runs, plan_jobs
    from mlpsweep.training import DataCache, Prepared, build_pack, configure_backend

    cfg = search.sweep({**search.FULL, "epochs": epochs}, 16)
    configure_backend(1)
    cache = DataCache()
    (job,) = plan_jobs(expand_runs(cfg), 1024, 16)
    runs = []
    t0 = time.perf_counter()
    for group in job.packs[:n_packs]:
        preps = sorted(
            (Prepared(r, Path("unused"), *cache.splits(r.config), "") for r in group), key=lambda p: p.run.path
        )
        xs = [p.splits.x_test for p in preps]
        packed = per_epoch(build_pack(preps, 64), xs)
        for k, p in enumerate(preps):
            alone = per_epoch(build_pack([p], 64), [xs[k]])
            rows = []
            for e, ((wa, la), (wp, lp)) in enumerate(zip((a[0] for a in alone), (b[k] for b in packed))):
                distance = np.sqrt(sum(((a.astype(np.float64) - b) ** 2).sum() for a, b in zip(wa, wp))) / np.sqrt(
                    sum((a.astype(np.float64) ** 2).sum() for a in wa)
                )
                flipped = np.nonzero(la.argmax(1) != lp.argmax(1))[0]
                y = p.splits.y_test
                rows.append(
                    {
                        "w_rel": float(distance),
                        "logit": float(np.abs(la - lp).max()),
                        "flipped": len(flipped),
                        "gaps": top_two_gap(la)[flipped].tolist(),
                        "accuracy": abs(float((la.argmax(1) == y).mean() - (lp.argmax(1) == y).mean())),
                        "n_test": len(y),
                    }
                )
            runs.append({"lr": p.run.config["training"]["learning_rate"], "epochs": rows})
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
    ).stdout.strip()
    return {"runs": runs, "seconds": time.perf_counter() - t0, "epochs": epochs, "commit": commit}


def section(out: dict) -> str:
    runs = out["runs"]
    lines = [
        "| Learning rate | Runs | Runs apart at all | Weights apart (largest, relative) | Largest test-logit difference | Runs with a flipped test row | Rows flipped (largest) | Test accuracy apart (largest) | Top-two gap of a flipped row (largest) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for lo, hi in BANDS:
        band = [r["epochs"][-1] for r in runs if lo <= r["lr"] < hi]
        if not band:
            continue
        gaps = [g for r in band for g in r["gaps"]]
        lines.append(
            f"| {lo:g} to {hi:g} | {len(band)} | {sum(r['w_rel'] > 0 for r in band)} | {max(r['w_rel'] for r in band):.1e} | {max(r['logit'] for r in band):.1e} | "
            f"{sum(r['flipped'] > 0 for r in band)} | {max(r['flipped'] for r in band)} of {band[0]['n_test']:,} | {max(r['accuracy'] for r in band):.4f} | {max(gaps) if gaps else 0:.1e} |"
        )
    growth = ", ".join(f"{max(r['epochs'][e]['w_rel'] for r in runs):.1e}" for e in range(out["epochs"]))
    return "\n".join(
        [
            f"Written by `.venv/bin/python bench/pack_equality.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (commit {out['commit']}, {out['seconds']:.0f} s): "
            f"bench/search.py's {len(runs)} runs, each in its pack of 16 and alone, {out['epochs']} epochs; figures after the last epoch. "
            f"Largest relative weight distance after each epoch: {growth}.",
            "",
            *lines,
            "",
        ]
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 pack, 2 epochs: checks the harness")
    parser.add_argument("--output", type=Path, help="also write the Markdown section to this file")
    args = parser.parse_args(argv)
    out = measure(2, 1) if args.quick else measure(5, 4)
    return measured.emit(section(out), args.output)


if __name__ == "__main__":
    sys.exit(main())
