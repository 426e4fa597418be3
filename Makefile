# Set-up and everyday commands. `make run` and `make test` work on a fresh machine that has only Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export ANON_PIPELINE_WORKDIR ?= $(CURDIR)/anon_output
POLICY ?= insurance_customers_k5

.PHONY: run test dev bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n' > $@

## Materialise every asset of the bundled policy on the bundled sample data, then say where the outputs are.
run: $(BIN)/.installed $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster asset materialize -m anon_pipeline.definitions --select 'key:$(POLICY)/*'
	$(BIN)/anon-pipeline where policies/$(POLICY).yaml

## Run the whole test suite.
test: $(BIN)/.installed $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m pytest

## Start the Dagster UI on 127.0.0.1.
dev: $(BIN)/.installed $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1

## Run the benchmarks (prints figures; each ends with one JSON line).
bench: $(BIN)/.installed
	$(BIN)/pip install --quiet -e ".[bench]"
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) anon_output .dagster_home
