# The stages of a review as file targets, for `make`. Each stage re-runs only when a file it
# reads changed, was added or was removed, so a second `make all` does nothing.
#
# A review's Makefile includes this file (`review makefile` prints its path) and may set
# REVIEW, the command (default: `review` on the PATH), and REVIEW_READY, what must exist
# before a stage runs (the repository's own Makefile makes its virtual environment so).

REVIEW_MK := $(lastword $(MAKEFILE_LIST))

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules
.DEFAULT_GOAL := help

REVIEW ?= review
REVIEW_READY ?=
DATASETTE ?= datasette
DATASETTE_READY ?=
LIVE ?=

DB := data/review.db
STAMPS := data/.stamps
REPORTS := reports
export REVIEW_DB := $(DB)

# The files under some folders that match a pattern, those make can name: a name with a
# space, a bracket or a quote is left to the stage, which reads (and names) it all the same.
files = $(shell find $(1) -type f -path '$(2)' 2>/dev/null | LC_ALL=C grep -E '^[A-Za-z0-9._/+=@,-]+$$' | LC_ALL=C sort)

# review_pipeline's own code: a new version re-runs every stage.
CODE := $(call files,$(dir $(REVIEW_MK)),*.py)
PROTOCOL := queries/protocol.toml
SEARCHED := $(call files,snapshot raw,*)
IMPORTS := $(filter-out imports/README.md,$(call files,imports,*))
DEDUP_DECISIONS := $(call files,extracted/dedup,*.csv)
SCREEN_SHEETS := $(filter %.csv %.xlsx,$(call files,extracted/screening,*))
EXTRACT_TABLES := $(filter %.csv %.xlsx,$(call files,extracted/extraction,*))
GRADE := $(filter %.csv %.xlsx,$(call files,extracted/synthesis,*))
# files of extracted/ itself, such as the previous version of an updated review
PREVIOUS := $(filter $(wildcard extracted/*.csv),$(call files,extracted,*.csv))

# A file that is removed leaves no newer date behind, so each stage also reads the list of
# its files, kept in $(STAMPS)/<stage>.list and rewritten (when make reads this file) only
# when the list changes; `make help` and `make clean` write none.
same = $(and $(findstring x$(1),x$(2)),$(findstring x$(2),x$(1)))
listed = $(STAMPS)/$(1).list$(if $(filter-out help clean,$(or $(MAKECMDGOALS),help)),$(if \
  $(and $(wildcard $(STAMPS)/$(1).list),$(call same,$(2),$(file < $(STAMPS)/$(1).list))),,$(shell \
  mkdir -p $(STAMPS))$(file > $(STAMPS)/$(1).list,$(2))))

.PHONY: help all fetch import dedup screen extract synthesis prisma report browse clean .force

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 13

all: report ## Run the whole review: fetch import dedup screen extract synthesis prisma report

fetch: $(STAMPS)/fetch ## Load the PubMed searches (offline: kept raw responses or the snapshot; LIVE=1 searches PubMed)
import: $(STAMPS)/import ## Import the export files listed in the protocol
dedup: $(STAMPS)/dedup ## Link duplicate records
screen: $(STAMPS)/screen ## Apply eligibility rules and reviewers' screening sheets
extract: $(STAMPS)/extract ## Validate and load the extraction tables
synthesis: $(REPORTS)/synthesis.json ## Pool each outcome per treatment (reports/synthesis.json, reports/forest/)
prisma: $(REPORTS)/prisma.json ## Write the PRISMA 2020 flow (reports/prisma.json .csv .md .svg .png) and search_log.md
report: $(REPORTS)/index.html ## Write the review as one HTML page (reports/index.html)

FETCH_FLAGS := $(if $(LIVE),--live,--offline)
FORCE_LIVE := $(if $(LIVE),.force,)

$(STAMPS)/fetch: $(PROTOCOL) $(SEARCHED) $(call listed,fetch,$(SEARCHED)) $(CODE) $(FORCE_LIVE) | $(REVIEW_READY)
	$(REVIEW) fetch $(FETCH_FLAGS)
	@mkdir -p $(@D) && touch $@

$(STAMPS)/import: $(STAMPS)/fetch $(PROTOCOL) $(IMPORTS) $(call listed,import,$(IMPORTS))
	$(REVIEW) import
	@touch $@

$(STAMPS)/dedup: $(STAMPS)/import $(DEDUP_DECISIONS) $(call listed,dedup,$(DEDUP_DECISIONS))
	$(REVIEW) dedup
	@touch $@

$(STAMPS)/screen: $(STAMPS)/dedup $(PROTOCOL) $(SCREEN_SHEETS) $(call listed,screen,$(SCREEN_SHEETS))
	$(REVIEW) screen
	@touch $@

$(STAMPS)/extract: $(STAMPS)/screen $(PROTOCOL) $(EXTRACT_TABLES) $(call listed,extract,$(EXTRACT_TABLES))
	$(REVIEW) extract
	@touch $@

PRISMA_OUT := $(addprefix $(REPORTS)/,prisma.json prisma.csv prisma.md prisma.svg prisma.png search_log.md)

$(PRISMA_OUT) &: $(STAMPS)/extract $(PREVIOUS) $(call listed,prisma,$(PREVIOUS))
	$(REVIEW) prisma --out-dir $(REPORTS)

$(REPORTS)/synthesis.json: $(STAMPS)/extract $(PROTOCOL)
	$(REVIEW) synthesis --out-dir $(REPORTS)

$(REPORTS)/index.html: $(REPORTS)/synthesis.json $(REPORTS)/prisma.json $(GRADE) $(call listed,report,$(GRADE))
	$(REVIEW) report --out-dir $(REPORTS)

browse: $(STAMPS)/extract | $(DATASETTE_READY) ## Browse the database read-only in Datasette on http://127.0.0.1:8001
	$(DATASETTE) serve --immutable $(DB) --host 127.0.0.1 --port 8001

clean: ## Remove the database, stamps and reports (never queries/, extracted/, imports/ or raw/)
	rm -rf data $(REPORTS)
