# Two commands for a fresh machine: `make demo` and `make test`; `make check` is the fast lane
# for everyday work (lint, types, and the tests that need neither LibreOffice nor a browser).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test check lint bytecode install bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/xlsxgov demo demo

# Both cores: one pytest worker per CPU, each test file whole on one worker (its module fixtures
# built once, its tests in order).
PYTEST := $(PY) -m pytest -q -n auto --dist loadfile

# The tests start the CLI hundreds of times; with PYTHONDONTWRITEBYTECODE set (as on this
# machine) each start would compile the package again (~0.1 s), so compile it once here.
bytecode: $(STAMP)
	$(PY) -m compileall -q xlsxgov

test: $(STAMP) lint bytecode
	$(PYTEST)

lint: $(STAMP)
	$(VENV)/bin/ruff check xlsxgov tests benchmarks
	$(VENV)/bin/mypy

check: $(STAMP) lint bytecode
	$(PYTEST) -m "not office and not slow"

bench: $(STAMP)
	for b in template_build validate_batch consolidate_bench campaign_bench portal_bench; do $(PY) benchmarks/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) demo
