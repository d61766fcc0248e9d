# Quick start: `make run` checks this machine; `make test` runs the whole suite (CI runs it);
# `make quick` is the inner loop: lint, types and the tests that need no system package.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.run-installed

.PHONY: run test quick lint typecheck compat pytest system-deps zipapp collection bench clean

# Running needs nodedoctor and its two dependencies (tomlkit, PyYAML); the test toolchain
# (ansible-core, playwright, mypy, ...) is installed for the targets that use it.
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(RUN_STAMP)
	@# Findings are a result, not a failure of `make run`: exit 1 means "found something".
	$(VENV)/bin/nodedoctor check; rc=$$?; [ $$rc -le 1 ]

system-deps:
	./scripts/install-system-deps

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy

compat: $(STAMP)
	$(VENV)/bin/vermin --no-tips --violations --target=3.9- --eval-annotations src/nodedoctor

pytest: $(STAMP) system-deps
	$(PY) -m pytest -q

test: lint typecheck compat pytest

# Every test not marked root, slow or system (pyproject's markers), over all cores, with
# bytecode caches on (a shell's PYTHONDONTWRITEBYTECODE=1 costs each run ~15 s of CPU).
quick: lint typecheck
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -n auto -m "not (root or slow or system)"

zipapp: $(STAMP)
	$(PY) scripts/build_zipapp.py dist/nodedoctor.pyz

# The Ansible collection tarball, nodedoctor.pyz inside: dist/nodedoctor-node-VERSION.tar.gz
# (`ansible-galaxy collection install` it; no checkout needed on the controller).
collection: $(STAMP)
	$(PY) scripts/build_collection.py --output-dir dist

bench: $(STAMP) system-deps zipapp
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) dist build src/*.egg-info
