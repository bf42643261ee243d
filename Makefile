# Shortcuts; the README's two commands need nothing but Python 3.11.
# Three environments, never installed over one another (scripts/venv_build.py checks):
#   .venv          CPU build of TensorFlow + JAX (CPU): laptops, CI, tests    `make setup`
#   .venv-gpu      GPU build of TensorFlow (CUDA 12 wheels): GPU nodes        `make setup-gpu`
#   .venv-gpu-jax  JAX with its CUDA 12 plugin: GPU nodes, KERAS_BACKEND=jax  `make setup-gpu-jax`
PYTHON ?= python3.11
VENV ?= .venv
GPU_VENV ?= .venv-gpu
JAX_GPU_VENV ?= .venv-gpu-jax
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
# The sweep `make regenerate` and `make report` rebuild, e.g.
#   make report CONFIG=config/examples/decoding-over-time.yaml
# and its results directory (the config's `results:` key).
CONFIG ?= config/config.yaml
RESULTS = $(shell $(PY) -c "import yaml, sys; print((yaml.safe_load(open(sys.argv[1])) or {}).get('results', 'results').rstrip('/'))" $(CONFIG))

.PHONY: setup setup-gpu setup-gpu-jax demo sweep test test-fast lint regenerate report bench slurm-up slurm-down clean

$(VENV)/.installed: requirements.txt requirements-base.txt requirements-jax.txt requirements-dev.txt
	$(PYTHON) scripts/venv_build.py $(VENV) cpu
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -r requirements-dev.txt
	touch $@

$(GPU_VENV)/.installed: requirements-gpu.txt requirements-base.txt constraints-cuda.txt
	$(PYTHON) scripts/venv_build.py $(GPU_VENV) gpu
	$(PYTHON) -m venv $(GPU_VENV)
	$(GPU_VENV)/bin/pip install -r requirements-gpu.txt
	$(GPU_VENV)/bin/python -c "import tensorflow as tf; print('TensorFlow', tf.__version__, 'built with CUDA', tf.sysconfig.get_build_info().get('cuda_version'))"
	touch $@

$(JAX_GPU_VENV)/.installed: requirements-jax-gpu.txt requirements.txt requirements-base.txt constraints-cuda.txt
	$(PYTHON) scripts/venv_build.py $(JAX_GPU_VENV) jax-gpu
	$(PYTHON) -m venv $(JAX_GPU_VENV)
	$(JAX_GPU_VENV)/bin/pip install -r requirements-jax-gpu.txt
	touch $@

setup: $(VENV)/.installed

# On the cluster's login node: the environment the GPU compute nodes run. Submit with
# .venv-gpu/bin/snakemake --profile profiles/slurm (see docs/slurm.md, "GPU nodes").
setup-gpu: $(GPU_VENV)/.installed

setup-gpu-jax: $(JAX_GPU_VENV)/.installed

# A made-up EEG study (6 subjects, a few MB, seconds) where the examples read it: derivatives/ and
# data/eeg_features.csv (scripts/make_demo.py says what is in it).
demo: setup
	$(PY) scripts/make_demo.py $(DEMO_ARGS)

sweep: setup
	$(SNAKEMAKE) --profile profiles/default

# Everything, as CI runs it (SLURM tests skip without the local cluster: make slurm-up).
test: setup
	$(PY) -m pytest

# The fast tier: unit tests of every module, no Snakemake runs (about 3 minutes on 2 cores).
test-fast: setup
	$(PY) -m pytest -m "not slow"

lint: setup
	$(SNAKEMAKE) --lint
	$(VENV)/bin/snakefmt --check workflow

regenerate: setup
	$(SNAKEMAKE) --profile profiles/default --configfile $(CONFIG) --config regenerate=1 --forceall

# The chosen runs' models (results/best/<dataset>/index.csv) copied out, to take elsewhere: make export-best TO=dir
.PHONY: export-best
export-best: setup
	$(PY) scripts/export_best.py $(RESULTS) --to $(or $(TO),best_models)

report: setup
	$(SNAKEMAKE) --profile profiles/default --configfile $(CONFIG) --config regenerate=1 --report $(RESULTS)/report.html
	$(PY) scripts/pin_report_times.py $(RESULTS)/report.html

bench: setup
	$(PY) bench/run.py

slurm-up:
	bash scripts/slurm/start-local-cluster.sh

slurm-down:
	bash scripts/slurm/stop-local-cluster.sh

clean:
	rm -rf results .snakemake
