# kb: two commands on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= .kb-index
HOST ?= 127.0.0.1
PORT ?= 8000
# axe-core (MPL-2.0) for the browser test's accessibility checks: from npm, pinned in tests/axe/, git-ignored.
AXE := tests/axe/node_modules/axe-core/axe.min.js

.PHONY: setup run index test lint axe bench relevance stress clean

$(BIN)/kb: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(BIN)/kb

setup: $(BIN)/kb

index: setup
	$(BIN)/kb index examples/articles --index $(INDEX)

run: index
	KB_ARTICLES_DIR=examples/articles $(BIN)/kb serve --index $(INDEX) --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check kb indexer web tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

$(AXE): tests/axe/package.json tests/axe/package-lock.json
	npm ci --prefix tests/axe --no-audit --no-fund --silent
	@touch $(AXE)

axe: $(AXE)

test: lint $(AXE)
	$(BIN)/pytest -q -m "not slow"

bench: setup
	$(BIN)/python benchmarks/perf.py

relevance: setup
	$(BIN)/python benchmarks/relevance.py

stress: setup
	$(BIN)/pytest -q -m slow
	$(BIN)/python benchmarks/stress.py

clean:
	rm -rf $(VENV) $(INDEX) .pytest_cache .mypy_cache .ruff_cache tests/axe/node_modules
