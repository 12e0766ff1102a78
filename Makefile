# Two entry points: `make demo` and `make test`. Each creates what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSPKGS := scep certmonger chromium prometheus

.PHONY: demo test lint typecheck unit slow syspkgs bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# Debian packages for the independent peers (micromdm scep, certmonger), the
# browser check and promtool (package prometheus; only promtool is used: its server, which
# would listen on every interface, is stopped if the package's install started it). Installed only when running as root (as CI does); otherwise the
# tests that need them skip and say how to install them.
syspkgs:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(SYSPKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
	      || echo "warning: could not install$$missing; tests that need them will skip"; \
	  fi; \
	  pkill -x prometheus 2>/dev/null || true; \
	else echo "not root: skipping Debian packages ($(SYSPKGS)); tests needing them will skip"; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python .ci/importlint.py

typecheck: $(STAMP)
	$(BIN)/python .ci/typecheck.py

# `make test` runs every test but the long runs marked `slow` (a fresh-venv install of the wheel, whole
# lab validations, lab-vs-forecast grids, cluster fault runs); `make slow` runs those, as `make bench`
# runs the benchmarks.
unit: $(STAMP)
	$(BIN)/pytest -q -m "not slow" --durations=15

slow: $(STAMP) syspkgs
	$(BIN)/pytest -q -m slow --durations=0

# Run every stage even when an earlier one fails, so one CI run shows everything; fail at the end.
test: $(STAMP) syspkgs
	@rc=0; \
	$(MAKE) --no-print-directory lint || rc=1; \
	$(MAKE) --no-print-directory typecheck || rc=1; \
	$(MAKE) --no-print-directory unit || rc=1; \
	exit $$rc

demo: $(STAMP)
	$(BIN)/iospki demo

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	for f in bench/bench_*.py; do $(BIN)/python -m bench.$$(basename $$f .py) || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
