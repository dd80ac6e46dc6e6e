# Two commands on a fresh machine:
#   make search   -> set up .venv and run the quickstart search
#   make test     -> set up .venv and run the whole test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: search test unit lint bench install clean

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

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check platform tests benchmarks examples
	$(BIN)/ruff format --check platform tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/mypy examples/dann/adaptune_dann

# On demand, never in `make test` (which runs a smoke of each script instead). Results go to
# benchmarks/results/; the README's Benchmarks tables are built from them.
RESULTS := benchmarks/results
bench: $(STAMP)
	$(BIN)/python benchmarks/dao_step.py
	mkdir -p $(RESULTS)
	$(BIN)/python benchmarks/searcher_scale.py > $(RESULTS)/searcher_scale.json
	$(BIN)/python benchmarks/trial_overhead.py --trials 10 > $(RESULTS)/trial_overhead.json
	$(BIN)/python benchmarks/search_fixed_cost.py --runs 3 > $(RESULTS)/search_fixed_cost.json
	$(BIN)/python benchmarks/search_efficiency.py --seeds 10 \
		--curves $(RESULTS)/grid_curves.json > $(RESULTS)/search_efficiency.json
	@if $(BIN)/python -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then \
		$(BIN)/python benchmarks/gpu_throughput.py --ray --compile --out $(RESULTS)/gpu_throughput.json; \
		$(BIN)/python benchmarks/dama_step.py --backend cuda > $(RESULTS)/dama_step_cuda.json; \
		$(BIN)/python benchmarks/gpu_pack.py --out $(RESULTS)/gpu_pack.json; \
	else echo "no GPU: gpu_throughput.py, dama_step.py --backend cuda and gpu_pack.py skipped"; fi

clean:
	rm -rf .adaptune .pytest_cache .mypy_cache .ruff_cache
