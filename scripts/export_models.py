"""Give runs made before complete models existed their complete model (model_format 2), from
their stored weights and their recomputed split; trains nothing.

    .venv/bin/python scripts/export_models.py [RESULTS]

Run it in the directory snakemake ran in (data file paths are relative to it).
"""

import os
import sys
from collections import Counter

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mlpsweep.export import upgrade_results  # noqa: E402
from mlpsweep.jobs import setup_logging  # noqa: E402
from mlpsweep.startup import fast_shutdown  # noqa: E402

setup_logging(None)
outcomes = upgrade_results(sys.argv[1] if len(sys.argv) > 1 else "results")
counts = Counter(o.split(":")[0] for o in outcomes.values())
print(", ".join(f"{n} {what}" for what, n in sorted(counts.items())))
fast_shutdown()
sys.exit(1 if counts.get("failed") else 0)
