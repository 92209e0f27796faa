# Developer entry points of django-flowmachine.
#
#   make test    create .venv if needed, install the project with its test extra,
#                run the suite on SQLite and then on PostgreSQL (both must pass)
#   make docs    build the documentation into docs/_build/html (warnings are errors)
#   make demo    create .venv if needed, install the project with its redis and
#                diagrams extras, migrate, seed (prints the demo user and password) and serve the
#                demo shop and insurance claim on http://127.0.0.1:$(PORT)/ (FLOWS_DEMO_STORE=redis:
#                Redis store; uploads under demo/files/)
#
# Variables: PYTHON (interpreter that creates .venv, 3.10+; default python3),
# PORT (demo port; default 8000), PYTEST_ARGS (extra pytest arguments).
# PostgreSQL and Redis addresses: see tests/settings.py and the README.

PYTHON ?= python3
PORT ?= 8000
PYTEST_ARGS ?=

VENV := .venv
BIN := $(VENV)/bin
# Re-install only when pyproject.toml (for the demo: or this Makefile) is newer than the stamp.
STAMP := $(VENV)/.flowmachine-installed

.DEFAULT_GOAL := help
.PHONY: help venv test test-sqlite test-postgres lint docs demo clean

help:
	@echo "make test    run the test suite on SQLite and PostgreSQL (creates .venv)"
	@echo "make demo    serve the demo (shop and insurance claim) on http://127.0.0.1:$(PORT)/ (creates .venv)"
	@echo "make clean   remove .venv, build artefacts, the demo database and its files"

$(BIN)/python:
	@if [ -e $(VENV) ] && [ ! -d $(VENV) ]; then echo "error: $(VENV) is a file, not a virtual environment; remove it" >&2; exit 1; fi
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "$(PYTHON) is Python %d.%d; django-flowmachine needs 3.10+: run make PYTHON=python3.12 ..." % sys.version_info[:2])'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,docs,lint,bench]"
	@touch $(STAMP)

venv: $(STAMP)

# Both databases run even when the first fails; the target fails if either did.
test: $(STAMP)
	@status=0; \
	echo "== pytest on SQLite =="; \
	$(BIN)/pytest $(PYTEST_ARGS) || status=1; \
	echo "== pytest on PostgreSQL (FLOWMACHINE_TEST_DB=postgres) =="; \
	FLOWMACHINE_TEST_DB=postgres $(BIN)/pytest $(PYTEST_ARGS) || status=1; \
	echo "== lint (ruff check, ruff format --check) =="; \
	$(MAKE) --no-print-directory lint || status=1; \
	echo "== documentation (sphinx -W) =="; \
	$(MAKE) --no-print-directory docs || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see the runs above)"; fi; \
	exit $$status

test-sqlite: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(STAMP)
	FLOWMACHINE_TEST_DB=postgres $(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# mypy sees the package as installed: backends/ staged at flowmachine/backends.
	rm -rf build/typecheck && mkdir -p build/typecheck/tests
	cp -r flowmachine build/typecheck/ && cp -r backends build/typecheck/flowmachine/backends
	cp tests/__init__.py tests/settings.py tests/models.py build/typecheck/tests/
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml flowmachine
	@# The allowed import directions (pyproject's [tool.importlinter]): no cycle, no upward import.
	cd build/typecheck && ../../$(BIN)/lint-imports ../../pyproject.toml

docs: $(STAMP)
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html

# The demo needs the runtime, the Redis client and pygraphviz (its "Flow diagram"
# link; a prebuilt wheel), not the test tools.
DEMO_STAMP := $(VENV)/.flowmachine-demo-installed
$(DEMO_STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[redis,diagrams]"
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python demo/manage.py migrate --noinput --verbosity 0
	$(BIN)/python demo/manage.py seed_demo
	@echo "Task state store: $${FLOWS_DEMO_STORE:-db}"
	$(BIN)/python demo/manage.py runserver 127.0.0.1:$(PORT)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache demo/db.sqlite3 demo/files
