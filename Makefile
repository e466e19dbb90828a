# Linli: `make run` serves the app with embedded Redis/MongoDB, `make test` runs the suite.
SHELL := /bin/bash
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PY310 ?= $(PYENV_ROOT)/versions/3.10.13/bin/python3.10
PY312 ?= $(PYENV_ROOT)/versions/3.12.1/bin/python3.12
VENV := .venv
MONGO_VENV := .venv-mongo
PY := $(VENV)/bin/python
WORKERS ?= 1
PYTEST_ARGS ?=

.PHONY: setup system-packages model run test lint-imports evaluate bench clean

setup: system-packages $(VENV)/.installed $(MONGO_VENV)/.installed

system-packages:
	@bash scripts/system-packages.sh

$(VENV)/.installed: requirements.lock
	@test -x $(PY) || $(PY310) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	@touch $@

$(MONGO_VENV)/.installed: requirements-mongo.txt
	@test -x $(MONGO_VENV)/bin/python || $(PY312) -m venv $(MONGO_VENV)
	$(MONGO_VENV)/bin/python -m pip install -q --disable-pip-version-check --pre -r requirements-mongo.txt
	@touch $@

# Trains only when config.yml or nlu/data changed since the last model.
model: setup
	$(PY) -m nlu train --if-stale

run: model
	$(PY) -m bot.launch --workers $(WORKERS)

# Imports point down only (the [tool.importlinter] contract of pyproject.toml), then the suite.
test: model
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest $(PYTEST_ARGS)

lint-imports: setup
	$(VENV)/bin/lint-imports --no-cache

evaluate: setup
	$(PY) -m nlu evaluate

clean:
	rm -rf var models/*.tar.gz models/fingerprint.json
