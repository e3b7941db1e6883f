# kb: two commands on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= .kb-index
HOST ?= 127.0.0.1
PORT ?= 8000
# axe-core (MPL-2.0) for the browser test's accessibility checks: from npm, pinned in tests/axe/, git-ignored.
AXE := tests/axe/node_modules/axe-core/axe.min.js

.PHONY: setup run index test test-fast lint axe bench relevance stress clean

$(BIN)/kb: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(BIN)/kb

setup: $(BIN)/kb

index: setup
	$(BIN)/kb index examples/articles --index $(INDEX)

# Ctrl-C reaches make, its shell and kb serve alike: the shell waits for kb serve to stop and
# exits 0, so make has no failed recipe to report ("*** [run] Interrupt").
run: index
	@echo "Serving http://$(HOST):$(PORT)/ — press Ctrl-C to stop"
	@trap 'exit 0' INT; KB_ARTICLES_DIR=examples/articles $(BIN)/kb serve --index $(INDEX) --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check kb indexer web tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

$(AXE): tests/axe/package.json tests/axe/package-lock.json
	npm ci --prefix tests/axe --no-audit --no-fund --silent
	@touch $(AXE)

axe: $(AXE)

# What CI runs: everything but the long `slow` forms.
test: lint $(AXE)
	$(BIN)/pytest -q -m "not slow"

# The core in well under a minute: no Chromium, no Typesense nodes, no reliability runs (kills, load).
test-fast: lint
	$(BIN)/pytest -q -m "not slow and not browser and not typesense and not stress"

bench: setup
	$(BIN)/python benchmarks/perf.py

relevance: setup
	$(BIN)/python benchmarks/relevance.py

stress: setup
	$(BIN)/pytest -q -m slow
	$(BIN)/python benchmarks/stress.py

clean:
	rm -rf $(VENV) $(INDEX) .pytest_cache .mypy_cache .ruff_cache tests/axe/node_modules
