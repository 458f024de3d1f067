# `make run` serves the assistant on 127.0.0.1:8000; `make test` runs the test suite.
# Both create or refresh .venv first, so they work on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INTENT_MODEL := data/build/intent_model.joblib
SEARCH_INDEX := data/build/index/LIVE
export LITELLM_LOCAL_MODEL_COST_MAP := True
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test eval venv model data system-deps langgraph-dev clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Training masks titles, authors and order ids first, so the entity extraction is part of the model.
$(INTENT_MODEL): $(STAMP) tools/intent.py tools/entities.py tools/catalog.py tools/text.py tools/vocab.py \
		$(wildcard data/intents/train*.jsonl) $(wildcard data/catalog/series_*.jsonl) data/catalog/themes_ja.json
	$(BIN)/mangaassist train-intent

# The embedded search index; `mangaassist index` re-embeds only what changed and swaps it in.
$(SEARCH_INDEX): $(STAMP) tools/indexing.py tools/rerank.py tools/embeddings.py tools/embedded_backend.py tools/text.py \
		$(wildcard data/catalog/*.jsonl) data/catalog/themes_ja.json $(wildcard data/policies/*.md) \
		$(wildcard data/reviews/*.jsonl) $(wildcard data/embeddings/*.npz)
	$(BIN)/mangaassist index
	touch $(SEARCH_INDEX)

model: $(INTENT_MODEL) $(SEARCH_INDEX)

run: venv model
	$(BIN)/mangaassist serve --host 127.0.0.1 --port 8000

test: venv model system-deps
	$(BIN)/python -m pytest

# The full evaluation (every suite, report under var/eval); fails when a gate threshold is missed.
eval: venv model
	$(BIN)/mangaassist eval --suite all --out var/eval

# Servers and the browser the integration tests drive (PostgreSQL, Redis, Chromium), from Debian.
# Tests start their own throwaway instances on free loopback ports; nothing is left running.
SYSTEM_BINARIES := /usr/bin/chromium /usr/bin/chromedriver /usr/bin/redis-server /usr/lib/postgresql/15/bin/initdb
system-deps:
	@missing=""; for f in $(SYSTEM_BINARIES); do [ -x $$f ] || missing="$$missing $$f"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages (missing:$$missing)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver postgresql redis-server >/dev/null; \
	fi

# Regenerate derived store data (products.jsonl, orders.sqlite) after editing series files.
data: venv
	$(BIN)/mangaassist data build

# LangGraph Studio against the turn graph.
langgraph-dev: venv model
	$(BIN)/langgraph dev --no-browser --no-reload --host 127.0.0.1 --port 2124

clean:
	rm -rf $(VENV) data/build var
