"""Apply trained models to new data: predict.py RUN_DIR_OR_CELL NEW_FILE [-o predictions.csv]."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ chatter off

from mlpsweep.jobs import setup_logging  # noqa: E402
from mlpsweep.predict import main  # noqa: E402
from mlpsweep.startup import fast_shutdown  # noqa: E402

setup_logging(None)
code = main()
fast_shutdown()
sys.exit(code)
