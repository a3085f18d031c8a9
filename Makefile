# Two commands for a fresh machine: `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/xlsxgov demo demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	for b in template_build validate_batch consolidate_bench campaign_bench portal_bench; do $(PY) benchmarks/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) demo
