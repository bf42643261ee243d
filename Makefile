# Shortcuts; the README's two commands need nothing but Python 3.11.
VENV ?= .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake

.PHONY: setup sweep test lint regenerate report bench slurm-up slurm-down clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3.11 -m venv $(VENV)
	$(VENV)/bin/pip install -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

sweep: setup
	$(SNAKEMAKE) --profile profiles/default

test: setup
	$(PY) -m pytest

lint: setup
	$(SNAKEMAKE) --lint
	$(VENV)/bin/snakefmt --check workflow

regenerate: setup
	$(SNAKEMAKE) --profile profiles/default --config regenerate=1 --forceall

report: setup
	$(SNAKEMAKE) --profile profiles/default --config regenerate=1 --report results/report.html
	$(PY) scripts/pin_report_times.py results/report.html

bench: setup
	$(PY) bench/run.py

slurm-up:
	bash scripts/slurm/start-local-cluster.sh

slurm-down:
	bash scripts/slurm/stop-local-cluster.sh

clean:
	rm -rf results .snakemake
