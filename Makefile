# The review as a chain of file targets: each stage re-runs only when a file it reads
# changed, so a second `make all` does nothing. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules
.DEFAULT_GOAL := help

PYTHON ?= python3
LIVE ?=
# Use the active virtual environment, or make our own in .venv.
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := .venv
endif
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.review_pipeline-installed
REVIEW := $(BIN)/review

DB := data/review.db
STAMPS := data/.stamps
REPORTS := reports
export REVIEW_DB := $(DB)

CODE := $(shell find review_pipeline -name '*.py')
PROTOCOL := queries/protocol.toml
SNAPSHOT := $(wildcard snapshot/pubmed/*.jsonl)
RAW := $(shell find raw -type f 2>/dev/null)
IMPORTS := $(filter-out imports/README.md,$(wildcard imports/*))
DEDUP_DECISIONS := $(wildcard extracted/dedup/*.csv)
SCREEN_SHEETS := $(wildcard extracted/screening/*.csv extracted/screening/*.xlsx)
EXTRACT_TABLES := $(wildcard extracted/extraction/*.csv extracted/extraction/*/*.csv extracted/extraction/*/*.xlsx)

.PHONY: help all fetch import dedup screen extract prisma report browse test bench bench-dedup clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 13

all: report ## Run the whole review: fetch import dedup screen extract prisma report

$(INSTALLED): pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

fetch: $(STAMPS)/fetch ## Load the PubMed search (offline: kept raw responses or the snapshot; LIVE=1 searches PubMed)
import: $(STAMPS)/import ## Import the export files listed in the protocol
dedup: $(STAMPS)/dedup ## Link duplicate records
screen: $(STAMPS)/screen ## Apply eligibility rules and reviewers' screening sheets
extract: $(STAMPS)/extract ## Validate and load the extraction tables
prisma: $(REPORTS)/prisma.json ## Write the PRISMA 2020 flow (reports/prisma.json .csv .md .svg .png) and search_log.md
report: $(REPORTS)/index.html ## Write the review as one HTML page (reports/index.html)

FETCH_FLAGS := $(if $(LIVE),,--offline)
FORCE_LIVE := $(if $(LIVE),.force,)
.PHONY: .force

$(STAMPS)/fetch: $(PROTOCOL) $(SNAPSHOT) $(RAW) $(CODE) $(FORCE_LIVE) | $(INSTALLED)
	$(REVIEW) fetch $(FETCH_FLAGS)
	@mkdir -p $(@D) && touch $@

$(STAMPS)/import: $(STAMPS)/fetch $(PROTOCOL) $(IMPORTS)
	$(REVIEW) import
	@touch $@

$(STAMPS)/dedup: $(STAMPS)/import $(DEDUP_DECISIONS)
	$(REVIEW) dedup
	@touch $@

$(STAMPS)/screen: $(STAMPS)/dedup $(PROTOCOL) $(SCREEN_SHEETS)
	$(REVIEW) screen
	@touch $@

$(STAMPS)/extract: $(STAMPS)/screen $(PROTOCOL) $(EXTRACT_TABLES)
	$(REVIEW) extract
	@touch $@

PRISMA_OUT := $(addprefix $(REPORTS)/,prisma.json prisma.csv prisma.md prisma.svg prisma.png search_log.md)
# files of extracted/ itself, such as the previous version of an updated review
PREVIOUS := $(wildcard extracted/*.csv)

$(PRISMA_OUT) &: $(STAMPS)/extract $(PREVIOUS)
	$(REVIEW) prisma --out-dir $(REPORTS)

$(REPORTS)/index.html: $(REPORTS)/prisma.json
	$(REVIEW) report --out-dir $(REPORTS)

# Datasette is an optional extra: browsing needs it, nothing else does.
$(BIN)/datasette: | $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[browse]'

browse: $(STAMPS)/extract | $(BIN)/datasette ## Browse the database read-only in Datasette on http://127.0.0.1:8001
	$(BIN)/datasette serve --immutable $(DB) --host 127.0.0.1 --port 8001

test: | $(INSTALLED) ## Run the tests, the linter and the type checker
	$(BIN)/pytest -q
	$(BIN)/ruff check review_pipeline tests benchmarks
	$(BIN)/mypy

bench: | $(INSTALLED) ## Run the benchmarks (reads ../shared/data when present) and print a table
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_fetch.py
	$(BIN)/python benchmarks/bench_import.py

BENCH_VENV := .venv-bench
BIB_DEDUPE := bib-dedupe==0.11.0

# bib-dedupe is compared with, never depended on: it lives in an environment of its own.
$(BENCH_VENV)/bin/python:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet $(BIB_DEDUPE) || echo "bench-dedup: could not install $(BIB_DEDUPE); it is left out of the comparison"

bench-dedup: | $(INSTALLED) $(BENCH_VENV)/bin/python ## Dedup accuracy and speed on ../shared/data/dedup, side by side with bib-dedupe
	$(BIN)/python benchmarks/bench_dedup.py $$($(BENCH_VENV)/bin/python -c "import bib_dedupe" 2>/dev/null && echo --bib-dedupe $(BENCH_VENV)/bin/python)

clean: ## Remove the database, stamps and reports (never queries/, extracted/ or raw/)
	rm -rf data $(REPORTS)
