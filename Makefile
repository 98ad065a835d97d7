# One entry for each routine. `make run` and `make test` set everything up themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run run-stdio test check pytest node-deps bench clean

# `make run-stdio` serves JSON-RPC on stdout: make itself must print nothing there.
MAKEFLAGS += --no-print-directory

$(STAMP): pyproject.toml
	@echo "setting up $(VENV) ..." >&2
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --upgrade pip >&2
	@$(BIN)/python -m pip install --quiet -e ".[dev]" >&2
	@touch $(STAMP)

## run: start the Streamable HTTP sidecar on 127.0.0.1:8765 with the embedded SQLite store (prints the URL and client snippets)
HTTP_URL = http://$(or $(THINKGATE_HTTP_HOST),127.0.0.1):$(or $(THINKGATE_HTTP_PORT),8765)/mcp
run: $(STAMP)
	@echo "ThinkGate serves MCP over Streamable HTTP at $(HTTP_URL)  (/healthz /readyz /metrics beside it)" >&2
	@echo "Add it to a client:" >&2
	@echo "  claude mcp add --transport http thinkgate $(HTTP_URL)" >&2
	@echo '  {"mcpServers": {"thinkgate": {"type": "http", "url": "$(HTTP_URL)"}}}' >&2
	@echo "  or: $(BIN)/thinkgate config claude-code|cursor|vscode|gemini|codex --http $(HTTP_URL)" >&2
	@echo "Ctrl-C to stop." >&2
	@exec $(BIN)/thinkgate serve --http

## run-stdio: serve MCP on stdio instead (what an MCP client launches; prints how to connect one on stderr)
run-stdio: $(STAMP)
	@echo "ThinkGate speaks MCP on stdio: an MCP client launches it. To add it to a client, run one of:" >&2
	@echo "  $(BIN)/thinkgate config claude-code|cursor|vscode|gemini|codex" >&2
	@echo "Serving on this terminal now (Ctrl-D to stop):" >&2
	@exec $(BIN)/thinkgate serve

## check: lint, format check and strict typing
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## node-deps: the official Node server, Node 22, the TS SDK and the conformance suite (for tests)
node-deps:
	@bash scripts/node-deps.sh

## test: everything — static checks, then the whole test suite
test: check node-deps
	$(BIN)/python -m pytest

## pytest: only the test suite
pytest: $(STAMP)
	$(BIN)/python -m pytest

## bench: ThinkGate against the official Node server, a plain SDK server and a floor, then micro-benchmarks, then the HTTP load row (~20 min; BENCH_ARGS="--quick" for a smoke run)
bench: $(STAMP) node-deps
	@$(BIN)/python -m bench.suite $(BENCH_ARGS)
	@$(BIN)/python -m bench.micro $(if $(findstring --quick,$(BENCH_ARGS)),--quick)
	@$(BIN)/python -m bench.http_load $(if $(findstring --quick,$(BENCH_ARGS)),--quick)
	@$(BIN)/python -m bench.http_pg $(if $(findstring --quick,$(BENCH_ARGS)),--quick)
	@$(BIN)/python -m bench.graph $(if $(findstring --quick,$(BENCH_ARGS)),--quick)
	@$(BIN)/python -m bench.governance $(if $(findstring --quick,$(BENCH_ARGS)),--quick)

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
