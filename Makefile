# `make run` serves the dashboard on demo data; `make test` runs the whole suite.
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8050
DEMO_MESSAGES ?= 200000

.PHONY: run test lint bench clean

$(VENV)/.run-installed: requirements.txt
	bash scripts/system-deps.sh run
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.run-installed requirements-test.txt
	bash scripts/system-deps.sh test
	$(VENV)/bin/pip install -q -r requirements-test.txt
	touch $@

run: $(VENV)/.run-installed
	$(PY) app.py demo --if-empty --messages $(DEMO_MESSAGES)
	$(PY) app.py users demo
	$(PY) app.py serve --host $(HOST) --port $(PORT)

test: $(VENV)/.test-installed
	$(PY) -m pytest

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.test-installed
	$(PY) -m bench

clean:
	rm -rf $(VENV)
