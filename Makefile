# Every target sets up .venv itself: a fresh machine needs only Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo run bench chaos clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/python -m gigqd.demo --dir $(or $(DEMO_DIR),.demo)

bench: $(STAMP)
	$(BIN)/python bench/compare.py
	$(BIN)/python bench/claim_cost.py
	$(BIN)/python bench/postgres_compare.py

chaos: $(STAMP)
	$(BIN)/python -m tests.chaos.chaos --long

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
