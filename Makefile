# Two commands: `make demo` and `make test`. Both set up .venv from requirements.lock first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint setup clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/segnas demo --out demo_run

lint: $(STAMP)  # ruff (style, imports) and mypy (types) over the package; both run first in `make test`
	$(BIN)/ruff check segnas tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -n 2 --dist worksteal -q --durations=15  # the slowest tests, to keep CI short

test-fast: lint  # the tests that are not marked slow: about a minute, for the edit-test loop
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

clean:
	rm -rf $(VENV) demo_run .pytest_cache
