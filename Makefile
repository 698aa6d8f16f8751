# Entry points for developers and CI. `make test` installs what is missing, then runs pytest;
# the tests start their own Kafka and PostgreSQL (tests/fixtures/stack.py).
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install test up down status lint demo

install:
	bash deploy/install.sh

test: install
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

# Long-lived local servers on fixed ports (Kafka 19092, PostgreSQL 15432), data under .run/.
up: install
	$(PY) -m deploy.stack up

down:
	$(PY) -m deploy.stack down

status:
	$(PY) -m deploy.stack status

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services deploy

# The whole job: stack up, sample Roger events in, the Xero bill and payment printed, all stopped.
demo: install
	$(PY) -m deploy.demo
