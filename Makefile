# The dev loop. `make check` runs what CI runs (.ci/run), on the venv made by `make venv`.
PY := .venv/bin/python
BIN := .venv/bin

.PHONY: venv lint format types imports test check snapshots screenshots bench bench-quick schema

venv:  ## the project's venv with the test and lint tools
	python3 -m venv .venv && $(BIN)/pip install -q -e '.[test]'

lint:  ## formatting and lint rules, package, tests, bench and scripts
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format:  ## rewrite the files ruff would reformat, and apply its safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

types:  ## mypy --strict over the package and the tests
	$(BIN)/mypy

imports:  ## the import contracts of pyproject.toml ([tool.importlinter])
	$(BIN)/lint-imports

test:  ## the whole suite
	$(PY) -m pytest

check: lint types imports test  ## everything CI checks

snapshots:  ## accept changed SVG snapshots of the UI (look at them first: pytest writes a report)
	$(PY) -m pytest tests/ui/test_snapshots.py --snapshot-update

schema:  ## regenerate tuiman.schema.json from the loader (after adding or changing a config key)
	$(PY) -m tuiman schema -o tuiman.schema.json

screenshots:  ## regenerate screenshots/*.svg from the demo
	$(PY) scripts/screenshots.py

bench:  ## the full benchmark against Circus and supervisord (~15 min) -> BENCHMARKS.md
	python3 bench/run.py

bench-quick:  ## a smoke run of the benchmark (~4 min) -> bench/.out/BENCHMARKS-quick.md
	python3 bench/run.py --quick
