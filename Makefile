# Each target creates the virtualenv it needs; a fresh machine needs only Python 3.11+ and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve paper test lint types unit bench clean

# Quiet, and on stderr: `make serve` may be what an MCP client starts, and its stdout is the protocol's.
$(STAMP): pyproject.toml
	@echo "make: installing binance-mcp into $(VENV)" >&2
	@$(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --upgrade pip >&2
	@$(BIN)/python -m pip install --quiet -e '.[test]' >&2
	@touch $(STAMP)

serve: $(STAMP)
	@$(BIN)/python server.py serve

paper: $(STAMP)
	$(BIN)/python server.py paper

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy finds a package by the name of its directory; the rooms live at the top level, so give it
# build/typecheck/binance_mcp: symbolic links to what the wheel installs as binance_mcp.
TYPED := __init__.py __main__.py server.py py.typed actors events exchange face

types: $(STAMP)
	rm -rf build/typecheck && mkdir -p build/typecheck/binance_mcp
	for name in $(TYPED); do ln -s ../../../$$name build/typecheck/binance_mcp/$$name; done
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint types unit

bench: $(STAMP)
	$(BIN)/python bench/paper_ticker.py
	$(BIN)/python bench/journal.py
	$(BIN)/python bench/stdio_calls.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/orders.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/http_gaps.py
	$(BIN)/python bench/fuzz.py
	$(BIN)/python bench/hosts.py
	$(BIN)/python bench/http_calls.py
	$(BIN)/python bench/stream.py
	$(BIN)/python bench/chain_check.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
