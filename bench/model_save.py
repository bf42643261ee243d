"""Writing a run's model: the complete model (model.json's companion, issue 16) against the
compiled MLP written before, side by side in one process, alternating.

    .venv/bin/python bench/model_save.py [REPEATS]

Both sides reuse one built model per architecture, as training.ModelExporter does; the old
side is the code it replaced (set the weights, compile with the run's optimizer, save).
"""

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import numpy as np  # noqa: E402

from mlpsweep.export import save_model  # noqa: E402
from mlpsweep.model import build_mlp, make_optimizer  # noqa: E402
from mlpsweep.training import ModelExporter  # noqa: E402

ARCH = {"hidden": [32, 64, 64], "activation": "relu", "dropout": 0.0, "l2": 0.0, "batch_norm": False}
TRAINING = {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.0}


def main(repeats: int = 30) -> dict:
    rng = np.random.default_rng(0)
    old_model = build_mlp(ARCH, 32, 4)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in old_model.get_weights()]
    exporter = ModelExporter()
    config = {"architecture": ARCH, "training": TRAINING}

    def old(path):
        old_model.set_weights(weights)
        old_model.compile(optimizer=make_optimizer(TRAINING), loss="categorical_crossentropy", metrics=["accuracy"])
        save_model(old_model, path)

    def new(path):
        exporter.writer(config, 32, 4, weights, mean=rng.normal(size=32), scale=rng.uniform(0.5, 2, size=32))(path)

    times = {"compiled MLP (before)": [], "complete model (now)": []}
    with tempfile.TemporaryDirectory() as tmp:
        for side, write in (("compiled MLP (before)", old), ("complete model (now)", new)):
            write(Path(tmp) / "warm.keras")  # first save traces and builds: not timed
        for i in range(repeats):
            for side, write in (("compiled MLP (before)", old), ("complete model (now)", new)):
                start = time.perf_counter()
                write(Path(tmp) / f"{i}.keras")
                times[side].append(time.perf_counter() - start)
    medians = {side: statistics.median(t) for side, t in times.items()}
    return {
        "repeats": repeats,
        "median_s": medians,
        "now_over_before": medians["complete model (now)"] / medians["compiled MLP (before)"],
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30), indent=1))
