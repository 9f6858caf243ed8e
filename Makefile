# Two commands do all the set-up:  `make demo` (install + run the bundled demo) and `make test`.
# Another Python in its own venv:  make test PY=python3.10 VENV=.venv310
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

.PHONY: install demo test test-fast lint bench clean

install: $(BIN)/mosaicgan

$(BIN)/mosaicgan: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first (by default the local CPU build; other versions come from PyPI as CUDA builds),
	# so that the project's `torch>=2.3` installs nothing more.
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	@touch $@

demo: install
	$(BIN)/mosaicgan demo --out runs/demo

test: install
	$(BIN)/python -m pytest

# Skips the tests marked slow (training runs over several seeds, the end-to-end demo).
test-fast: install
	$(BIN)/python -m pytest -m "not slow"

# ruff (pycodestyle, pyflakes, bugbear, import order; settings in pyproject.toml) and the
# layers contract of import-linter (an import from a higher layer fails).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: install
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf $(VENV) runs
