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

# Dagster's run log at INFO (its per-step DEBUG events stay in the UI's run history), and without the notice that
# `dagster asset materialize` is superseded by the `dg` CLI, which this project does not install.
RUN_LOG_LEVEL ?= INFO
MATERIALIZE_WARNING := ignore:Function `asset_materialize_command` is superseded

## Materialise every asset of the bundled policy on the bundled sample data, then print a summary of the release
## (each check and its result, K, the release folder, the plan id and its key tables).
run: $(BIN)/.installed $(DAGSTER_HOME)/dagster.yaml
	@echo "materialising every asset of policy $(POLICY) (Dagster log level $(RUN_LOG_LEVEL))"
	@PYTHONWARNINGS='$(MATERIALIZE_WARNING)' $(BIN)/dagster asset materialize -m anon_pipeline.definitions \
		--select 'key:$(POLICY)/*' \
		--config-json '{"loggers": {"console": {"config": {"log_level": "$(RUN_LOG_LEVEL)"}}}}'
	@$(BIN)/anon-pipeline where policies/$(POLICY).yaml

## Run the whole test suite, after the import contracts (pyproject.toml [tool.importlinter]), ruff and mypy.
test: $(BIN)/.installed $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/lint-imports
	$(BIN)/ruff check anon_pipeline anon_pipeline_tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto --dist loadfile

## Start the Dagster UI on 127.0.0.1.
dev: $(BIN)/.installed $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1

## Run the benchmarks (prints figures; each ends with one JSON line).
bench: $(BIN)/.installed
	$(BIN)/pip install --quiet -e ".[bench]"
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) anon_output .dagster_home
