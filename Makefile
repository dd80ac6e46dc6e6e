# Two commands on a fresh machine:
#   make search   -> set up .venv and run the quickstart search
#   make test     -> set up .venv and run the whole test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: search test lint bench install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Re-install when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

search: $(STAMP)
	$(BIN)/adaptune search jobs/quickstart.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check platform tests benchmarks
	$(BIN)/ruff format --check platform tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/dao_step.py

clean:
	rm -rf .adaptune .pytest_cache .mypy_cache .ruff_cache
