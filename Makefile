# The README's commands. `make run` and `make test` do all set-up on a fresh machine; the app builds a
# missing or stale index itself, with a progress bar in the page.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run run-postgres test test-fast bench lint index clean train

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

index: $(VENV)/.installed
	$(PY) -m assistant ingest

# The app serves this machine only (http://localhost:8501). `make run HOST=0.0.0.0` serves the network; uploads
# are then off unless ASSISTANT_UPLOADS=on. Naming the address the browser sees (this machine's name) keeps
# Streamlit from looking up the external IP address. Other settings: .streamlit/config.toml.
HOST ?= localhost
PORT ?= 8501
SERVER_NAME := $(if $(filter 0.0.0.0 ::,$(HOST)),$(shell hostname),$(HOST))
run: $(VENV)/.installed
	$(VENV)/bin/streamlit run app.py --server.address $(HOST) --server.port $(PORT) --browser.serverAddress $(SERVER_NAME) --server.headless true --browser.gatherUsageStats false --server.fileWatcherType none

# `make run` with the passages on a local PostgreSQL server (assistant/localpg.py; its data in embeddings/postgres):
# starts the server, waits for the URL it prints, runs the app with ASSISTANT_STORE set to it, and stops the server
# when the app exits (Ctrl-C). HOST and PORT as for `make run`.
run-postgres: $(VENV)/.installed
	@printed=$$(mktemp); \
	$(PY) -m assistant.localpg --data embeddings/postgres > "$$printed" & server=$$!; \
	trap 'kill $$server 2>/dev/null; wait $$server; rm -f "$$printed"' EXIT; \
	trap 'exit 130' INT TERM; \
	until grep -q '^ASSISTANT_STORE=' "$$printed"; do kill -0 $$server 2>/dev/null || exit 1; sleep 0.1; done; \
	export "$$(grep '^ASSISTANT_STORE=' "$$printed")"; \
	$(MAKE) --no-print-directory run

test: index
	$(PY) -m pytest

test-fast: $(VENV)/.installed
	$(PY) -m pytest -m "not integration and not browser"

bench: index
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) -m bench.run

# Reproduces models/qa-reranker from ../shared/data/qa-train on CPU (80-96 min on 2 cores; the log says
# how long each stage took): train (resumable: rerun to continue after a kill), export to ONNX int8 and
# calibrate on the held-out slices, then fit the answer threshold through the engine on held-out sets.
TRAIN_RUN ?= training/runs/shipped
train: $(VENV)/.installed
	PYTHONHASHSEED=0 $(PY) -m training.train --out $(TRAIN_RUN)
	$(PY) -m training.export --run $(TRAIN_RUN) --out models/qa-reranker
	$(PY) -m training.eval_sets --out tests/data/qa-heldout
	$(PY) -m training.fit_threshold --model models/qa-reranker --sets tests/data/qa-heldout/calibration --hybrid-weight 12

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) embeddings/CURRENT embeddings/gen-* embeddings/tmp-* embeddings/models
