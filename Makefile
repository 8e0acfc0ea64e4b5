# Every target creates (or reuses) the local virtualenv, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test test-clock lint demo bench clean

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

# The whole suite with the clock (libfaketime, relative so child processes agree) at 23:59:50 UTC, so
# the run straddles midnight, then at 00:30 UTC. Tests must not depend on the time of day.
test-clock: $(STAMP)
	@for at in "23:59:50" "00:30:00"; do \
		off=$$(( $$(date -u -d "tomorrow $$at" +%s) - $$(date -u +%s) )); \
		echo "== make test with the clock at $$at UTC"; \
		faketime -f "+$$off" $(PY) -m pytest -n 2 -q || exit 1; \
	done

lint: $(STAMP)
	$(VENV)/bin/ruff check dcactl tests bench
	$(VENV)/bin/mypy

demo: $(STAMP)
	$(VENV)/bin/python examples/demo.py

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
