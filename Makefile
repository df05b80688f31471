# Every target sets up .venv itself: a fresh machine needs only Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo run bench chaos chaos-cluster clean host-tools

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The cluster tests build test hosts with ip netns (iproute2) and nsenter (util-linux).
host-tools:
	@command -v ip >/dev/null && command -v nsenter >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq iproute2 util-linux >/dev/null)

# ruff first: a style slip fails in seconds, before the minutes of pytest.
test: $(STAMP) host-tools
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/python -m gigqd.demo --dir $(or $(DEMO_DIR),.demo)

# cluster_scale.py builds test hosts (root, ip netns), like the cluster tests.
bench: $(STAMP) host-tools
	$(BIN)/python bench/compare.py
	$(BIN)/python bench/claim_cost.py
	$(BIN)/python bench/postgres_compare.py
	$(BIN)/python bench/cluster_scale.py

chaos: $(STAMP)
	$(BIN)/python -m tests.chaos.chaos --long

chaos-cluster: $(STAMP) host-tools
	$(BIN)/python -m tests.cluster.cluster --long --record docs/reliability.md

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
