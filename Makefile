# One entry point for every routine job. `make test` and `make demo` work on a fresh clone:
# they create .venv and install the project with its extras when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv generate test lint docs demo bench bench-smoke serve clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,cli,dev,mlflow,s3]'
	touch $(STAMP)

venv: $(STAMP)

generate: $(STAMP)
	$(BIN)/python scripts/generate.py

# PostgreSQL tests run when MR_TEST_DATABASE_URL is set or the local default answers
# (scripts/test_database.py says which in one line, and how to enable them when skipped).
test: $(STAMP)
	MR_TEST_DATABASE_URL="$$($(BIN)/python scripts/test_database.py)" $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench
	$(BIN)/mypy
	$(BIN)/lint-imports

demo: $(STAMP)
	$(BIN)/python -m model_registry.demo

bench: $(STAMP)
	$(BIN)/python -m bench

bench-smoke: $(STAMP)
	$(BIN)/python -m bench --smoke

serve: $(STAMP)
	$(BIN)/model-registry serve

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The documentation site (Sphinx + MyST) in docs/_build/html; any warning is an error.
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
