# The repository's Makefile: the POEMS worked example's stages, run with the code of this
# checkout in its own virtual environment, and the developers' targets (test, bench).
# The stages themselves are defined once, in review_pipeline/review.mk, which every review
# made with `review init` includes too. `make help` lists the targets.

PYTHON ?= python3
# Use the active virtual environment, or make our own in .venv.
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := .venv
endif
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.review_pipeline-installed

REVIEW := $(BIN)/review
REVIEW_READY := $(INSTALLED)
DATASETTE := $(BIN)/datasette
DATASETTE_READY := $(BIN)/datasette
include review_pipeline/review.mk

$(INSTALLED): pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Datasette is an optional extra: browsing needs it, nothing else does.
$(BIN)/datasette: | $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[browse]'

.PHONY: test bench bench-dedup

test: | $(INSTALLED) ## Run the tests, the linter and the type checker
	$(BIN)/pytest -q
	$(BIN)/ruff check review_pipeline tests benchmarks
	$(BIN)/mypy

ASREVIEW_VENV := .venv-asreview
ASREVIEW := asreview==3.0.8

# ASReview is the screening benchmark's oracle, never a dependency: an environment of its own.
$(ASREVIEW_VENV)/bin/python:
	$(PYTHON) -m venv $(ASREVIEW_VENV)
	$(ASREVIEW_VENV)/bin/pip install --quiet $(ASREVIEW) || echo "bench: could not install $(ASREVIEW); the screening benchmark runs without it"

bench: | $(INSTALLED) $(ASREVIEW_VENV)/bin/python ## Run the benchmarks (reads ../shared/data when present) and print a table
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_fetch.py
	$(BIN)/python benchmarks/bench_import.py
	$(BIN)/python benchmarks/bench_identity.py
	$(BIN)/python benchmarks/bench_synthesis.py
	$(BIN)/python benchmarks/bench_serve.py
	$(BIN)/python benchmarks/bench_screen.py $$($(ASREVIEW_VENV)/bin/python -c "import asreview" 2>/dev/null && echo --asreview $(ASREVIEW_VENV)/bin/python)

BENCH_VENV := .venv-bench
BIB_DEDUPE := bib-dedupe==0.11.0

# bib-dedupe is compared with, never depended on: it lives in an environment of its own.
$(BENCH_VENV)/bin/python:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet $(BIB_DEDUPE) || echo "bench-dedup: could not install $(BIB_DEDUPE); it is left out of the comparison"

bench-dedup: | $(INSTALLED) $(BENCH_VENV)/bin/python ## Dedup accuracy and speed on ../shared/data/dedup, side by side with bib-dedupe
	$(BIN)/python benchmarks/bench_dedup.py $$($(BENCH_VENV)/bin/python -c "import bib_dedupe" 2>/dev/null && echo --bib-dedupe $(BENCH_VENV)/bin/python)
