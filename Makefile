# Entry points for developers and CI. `make test` installs what is missing, then runs pytest;
# the tests start their own Kafka and PostgreSQL (tests/fixtures/stack.py).
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install test test-unit up connect down status lint demo lock bench

install:
	bash deploy/install.sh

test: install
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

# Pure logic, fakes and the Xero gateway contract suite (the sandbox is a subprocess):
# no Kafka, no PostgreSQL.
test-unit: install
	$(VENV)/bin/pytest -q tests/unit tests/contract $(PYTEST_ARGS)

# The whole stack in the background on fixed ports (Kafka 19092, PostgreSQL 15432, sandbox 9090,
# ingest 8080, projector 8081, writer 8082), data under .run/; prints URLs and dev secrets.
up: install
	$(PY) -m deploy.stack up
	$(PY) -m deploy.apps up

connect:
	$(PY) -m deploy.apps connect $(COMPANY)

down:
	-$(PY) -m deploy.apps down
	$(PY) -m deploy.stack down

status:
	-$(PY) -m deploy.apps status
	$(PY) -m deploy.stack status

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services xero_sandbox deploy tests

# The whole job: stack up, sample Roger events in, the Xero bill and payment printed, all stopped.
demo: install
	$(PY) -m deploy.demo

# Throughput, latency, restart and memory figures on a stack of its own: prints a table and
# writes bench-results.json (README, Performance). BENCH_ARGS=--quick for a few minutes.
BENCH_ARGS ?=
bench: install
	$(PY) -m deploy.bench $(BENCH_ARGS)

# Regenerates requirements.lock (exact versions and hashes, dev extras included) from
# pyproject.toml, keeping the pins it already has; `make lock LOCK_ARGS=--upgrade` moves all
# to their newest versions. deploy/install.sh installs from the lock alone.
LOCK_ARGS ?=
lock:
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-find-links --extra dev --output-file requirements.lock $(LOCK_ARGS) pyproject.toml
