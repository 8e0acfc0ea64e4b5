# Every target creates (or reuses) the local virtualenv, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,keyring]'
	# ccxt (tests only: it trades against the devnet) pins its dependencies exactly (multidict 6.9.1,
	# idna, cffi, ...); it is installed without them, so it runs on this project's pinned versions
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -c constraints.txt \
		ccxt aiohttp-fast-zlib zlib-ng uvloop orjson
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

lint: $(STAMP)
	$(VENV)/bin/ruff check dcactl tests bench
	$(VENV)/bin/mypy

demo: $(STAMP)
	$(VENV)/bin/python examples/demo.py

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
