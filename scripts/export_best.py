"""Copy the chosen runs' models out of a results folder, to take them elsewhere:

    .venv/bin/python scripts/export_best.py [RESULTS] [--to DIR]

results/best/<dataset>/index.csv lists the runs the nested estimate chose (summary/selected.md);
their model.keras and model.json go to DIR/<dataset>/<leaf>/ (default DIR: best_models), with the
index as chosen.csv. scripts/predict.py DIR/<dataset> applies them as an ensemble.
"""

import sys

from mlpsweep.best import main
from mlpsweep.jobs import setup_logging

setup_logging(None)
sys.exit(main())
