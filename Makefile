# The two set-up commands of the README. Each creates .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench bench-farm demo clean

$(BIN)/treatywatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@# compiled once, as `pip install .` does: an editable install's modules were compiled at every start where
	@# PYTHONDONTWRITEBYTECODE is set (containers, CI)
	$(BIN)/python -m compileall -q service/treatywatch
	@touch $@

run: $(BIN)/treatywatch
	$(BIN)/treatywatch --config config/ run

test: $(BIN)/treatywatch
	$(BIN)/ruff check service tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n auto

demo: $(BIN)/treatywatch
	$(BIN)/treatywatch demo

bench: $(BIN)/treatywatch
	$(BIN)/python bench/matching.py
	$(BIN)/python bench/pipeline.py

# the feed farm beside lemon24/reader (installs Debian's nginx and reader into bench/.venv-reader), then latency
bench-farm: $(BIN)/treatywatch
	$(BIN)/python bench/farm.py --sizes 500 5000 --steady 60
	$(BIN)/python bench/latency.py --items 50 --feeds 20 --interval 2

clean:
	rm -rf $(VENV) state/*.db*
