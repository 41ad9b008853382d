# Two entry points for a newcomer: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out
PATIENTS ?= 1000
SEED   ?= 42
AS_OF  ?= 2026-06-30

# Keep Prefect's state inside the project and quiet about telemetry.
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90

.PHONY: demo test lint bench clean setup bench-dxa-text

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,dask]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/osteoscreen synth --patients $(PATIENTS) --seed $(SEED) --as-of $(AS_OF) --out $(OUT)/synthetic
	$(BIN)/osteoscreen run --source $(OUT)/synthetic --db $(OUT)/osteoscreen.duckdb --out $(OUT) --as-of $(AS_OF)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

BENCH_PATIENTS ?= 10000

bench: $(STAMP)
	$(BIN)/python bench/bench.py --patients $(BENCH_PATIENTS)

bench-dxa-text: $(STAMP)
	$(BIN)/python bench/dxa_text.py

clean:
	rm -rf $(OUT) .prefect .pytest_cache
