"""pin_report_times.py REPORT.html: pin Snakemake's job times in a report (in place, atomically)."""

import sys
from pathlib import Path

from mlpsweep.report import pin_job_times
from mlpsweep.storage import write_text_atomic

for name in sys.argv[1:] or ["results/report.html"]:
    path = Path(name)
    write_text_atomic(path, pin_job_times(path.read_text(encoding="utf-8")))
