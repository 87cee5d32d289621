# `make run` serves the dashboard on demo data; `make test` runs the whole suite.
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8050
DEMO_MESSAGES ?= 200000

.PHONY: run test screenshots lint bench clean locales locales-extract locales-update

# The words: one gettext domain, keys as msgids, a .po per language (see reporting/i18n.py).
LOCALE_DIR := reporting/locale
POT := $(LOCALE_DIR)/messages.pot
MO_FILES := $(patsubst %.po,%.mo,$(wildcard $(LOCALE_DIR)/*/LC_MESSAGES/messages.po))
KEYWORDS := --no-default-keywords -k t:2 -k tn:2,2 -k N_ -k tr:2

$(VENV)/.run-installed: requirements.txt
	bash scripts/system-deps.sh run
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.run-installed requirements-test.txt node_modules/.installed
	bash scripts/system-deps.sh test
	$(VENV)/bin/pip install -q -r requirements-test.txt
	touch $@

# axe-core, which the accessibility browser test injects into each page, from npm at the
# version package-lock.json pins (node_modules is not committed).
node_modules/.installed: package.json package-lock.json
	bash scripts/system-deps.sh npm
	npm ci --no-audit --no-fund --silent
	touch $@

run: $(VENV)/.run-installed locales
	$(PY) app.py demo --if-empty --messages $(DEMO_MESSAGES)
	$(PY) app.py users demo
	$(PY) app.py serve --host $(HOST) --port $(PORT)

test: $(VENV)/.test-installed locales
	$(PY) -m pytest

# The README's pictures (docs/screenshots/*.png), taken by the browser test on the demo data;
# `make test` takes them too but keeps them in its own temporary directory.
screenshots: $(VENV)/.test-installed locales
	SCREENSHOTS=1 $(PY) -m pytest -n 0 tests/test_browser_dashboard.py -k dr402

# Ruff, then mypy over the package code (the files and settings are in pyproject.toml).
lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(VENV)/.test-installed
	$(PY) -m bench

# Compiled catalogs are built, not committed: each .mo from its .po when the .po is newer.
locales: $(MO_FILES)

$(LOCALE_DIR)/%/LC_MESSAGES/messages.mo: $(LOCALE_DIR)/%/LC_MESSAGES/messages.po $(VENV)/.run-installed
	$(VENV)/bin/pybabel compile -l $* -i $< -o $@

# After changing a message in the code: extract the keys, merge them into each .po, then
# write the new texts in every language (tests/test_catalog.py fails until they are there).
locales-extract: $(VENV)/.run-installed
	PYTHONPATH=. $(VENV)/bin/pybabel extract -F babel.cfg $(KEYWORDS) --add-location=file \
		--sort-output --project="Delivery reports" --version=0.1.0 -o $(POT) .

locales-update: locales-extract
	$(VENV)/bin/pybabel update -i $(POT) -d $(LOCALE_DIR) -D messages --no-fuzzy-matching \
		--ignore-obsolete

clean:
	rm -rf $(VENV) $(MO_FILES)
