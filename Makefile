# recor — two commands do all set-up on a fresh machine:
#   make demo   loads the bundled sample network into the registry, prints a summary, writes maps
#   make test   lints (ruff) and runs the test suite against a throwaway PostGIS database
# Both install what is missing (Debian packages for the running PostgreSQL, the virtual
# environment), start the local server if it is down, create the database and apply the schema.
# Run twice, they do nothing new.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := .stamps

export PGHOST ?= 127.0.0.1
export PGUSER ?= postgres

.PHONY: demo test setup system venv db lint bench clean

demo: setup
	$(PY) -m recor demo

test: setup lint
	$(PY) -m pytest -q -n 2 --dist loadfile

setup: system venv db

system:
	bash scripts/setup-system.sh

venv: $(STAMP)/venv

$(STAMP)/venv: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	mkdir -p $(STAMP) && touch $@

db: venv
	$(PY) -m recor db init

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(PY) scripts/bench_import.py
	$(PY) scripts/bench_network.py
	$(PY) scripts/bench_maps.py

clean:
	rm -rf $(STAMP) maps/out test-artifacts
