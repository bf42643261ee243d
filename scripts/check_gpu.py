"""Whether training will use the GPU, checked where it runs: on a compute node, in a job.

    srun -p gpu --gpus=1 -t 5 .venv-gpu/bin/python scripts/check_gpu.py

Prints the device record that each run's provenance gets and the GPU memory the backend may
use (`gpu_mem_mb`, for execution.gpu_mem_mb: docs/sizing.md), as JSON, and exits 0; where
the backend cannot use a GPU it exits 1 with the training job's own message: cause and fix.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mlpsweep import gpu  # noqa: E402

try:
    record = gpu.check(True, 1)  # require a GPU, as a job of execution.require_gpu: true would
except gpu.GpuUnavailable as exc:
    sys.exit(str(exc))
import keras  # noqa: E402  (already imported by the check)

backend = keras.backend.backend()
memory = gpu.memory_mb(backend)
print(json.dumps({"device": gpu.device_info(backend), "gpu_check": record, "gpu_mem_mb": memory}, indent=2))
if memory:  # what planning needs to size packs for this GPU before submitting (docs/sizing.md)
    print(
        f"{backend} may use {memory:,} MB of this GPU: put `execution: {{gpu_mem_mb: {memory}}}` "
        "in the sweep's config so that planning sizes packs for it",
        file=sys.stderr,
    )
