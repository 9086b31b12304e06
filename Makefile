# Keel: `make demo` runs a demo business at http://127.0.0.1:8000, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KEEL := $(BIN)/keel
HOST ?= 127.0.0.1
PORT ?= 8000
SIZE ?= small

.PHONY: demo serve test lint types pytest test-sqlite test-postgres bench load soak faults audit clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: export KEEL_DEBUG ?= 1
demo: $(STAMP)
	$(KEEL) migrate --no-input -v 0
	$(KEEL) demo --size $(SIZE) --if-missing
	$(KEEL) model train > /dev/null  # the win probabilities the board and deals show
	$(KEEL) serve $(HOST):$(PORT)

serve: export KEEL_DEBUG ?= 1
serve: $(STAMP)
	$(KEEL) serve $(HOST):$(PORT)

# Tests never read the developer's own KEEL_DATABASE_URL: SQLite first, then PostgreSQL.
test: lint types test-sqlite test-postgres

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	KEEL_DEBUG=1 $(BIN)/mypy keel bench

test-sqlite: $(STAMP)
	env -u KEEL_DATABASE_URL KEEL_SECRET_KEY=test-only $(BIN)/pytest -n 2

test-postgres: $(STAMP)
	@if [ -n "$$KEEL_TEST_POSTGRES_URL" ]; then \
	  echo "== the suite again on PostgreSQL"; \
	  KEEL_DATABASE_URL="$$KEEL_TEST_POSTGRES_URL" KEEL_SECRET_KEY=test-only $(BIN)/pytest -n 2; \
	else echo "== KEEL_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"; fi

bench: export KEEL_DEBUG ?= 1
bench: $(STAMP)
	$(BIN)/python -m bench

# The production server on PostgreSQL under 50 simulated people (locust), the large demo
# in the database keel_bench_load; `make soak` runs it 10 minutes, watching worker memory.
USERS ?= 50
load: $(STAMP)
	$(BIN)/python -m bench.load --users $(USERS)

soak: $(STAMP)
	$(BIN)/python -m bench.load --users $(USERS) --soak

# Concurrent moves, killed workers and jobs, PostgreSQL restarted, SQLite read-only or
# full: each checks that nothing was lost (the SQLite cases need root).
faults: $(STAMP)
	$(BIN)/python -m bench.faults

# The installed dependencies against known vulnerabilities (pip-audit, strict); says
# SKIPPED and passes only when the vulnerability database cannot be reached from here.
audit: $(STAMP)
	$(BIN)/python -m bench.audit

clean:
	rm -rf $(VENV) keel.sqlite3 keel.sqlite3-*
