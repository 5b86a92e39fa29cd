# Every target that needs Python depends on the venv stamp, so a fresh clone needs nothing but `make X`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
PYTEST_WORKERS ?= 2

.PHONY: install services test test-quick lint demo bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The distributed-mode tests start a real redis-server, the report tests a headless Chromium (with a CJK font
# for legible screenshots), the WARC import tests mirror the replica with wget: Debian packages, installed when
# missing (needs root).
services:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }
	@command -v wget >/dev/null || { apt-get update -qq && apt-get install -y -qq wget >/dev/null; }

test: $(STAMP) services
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests

# The tests that crawl nothing end to end (no `slow` marker): the edit-test loop.
test-quick: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not slow" tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy crawler pipelines publish tests bench

demo: $(STAMP)
	$(BIN)/python -m tests.demo

# The benchmark extras (trafilatura, gne; the peers news-please and jieba) are for `make bench` only; nginx and
# wrk come from apt at run time.
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,bench,peers]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
