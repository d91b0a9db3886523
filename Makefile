# The two set-up commands of the README. Each creates .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench demo clean

$(BIN)/treatywatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

run: $(BIN)/treatywatch
	$(BIN)/treatywatch --config config/ run

test: $(BIN)/treatywatch
	$(BIN)/ruff check service tests bench
	$(BIN)/mypy
	$(BIN)/pytest

demo: $(BIN)/treatywatch
	$(BIN)/treatywatch demo

bench: $(BIN)/treatywatch
	$(BIN)/python bench/matching.py
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) state/*.db*
