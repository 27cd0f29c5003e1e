# The README's commands. `make run` and `make test` do all set-up on a fresh machine; the app builds a
# missing or stale index itself, with a progress bar in the page.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test test-fast bench lint index clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

index: $(VENV)/.installed
	$(PY) -m assistant ingest

run: $(VENV)/.installed
	$(VENV)/bin/streamlit run app.py --server.headless true --browser.gatherUsageStats false --server.fileWatcherType none

test: index
	$(PY) -m pytest

test-fast: $(VENV)/.installed
	$(PY) -m pytest -m "not integration and not browser"

bench: index
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) -m bench.run

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) embeddings/CURRENT embeddings/gen-* embeddings/tmp-* embeddings/models
