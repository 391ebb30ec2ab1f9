# The two commands: `make run` and `make test` (plus `make bench` and `make lint` as they come).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app statuspage

.PHONY: run test venv clean bench

$(BIN)/activate:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

run: venv
	$(FLASK) db upgrade
	$(FLASK) seed
	$(FLASK) serve

# The fast part by default; `make test TEST_MARKS=` (as CI runs it) adds the slow tests
# marked `browser` and `process`. See the README's "What the tests need".
TEST_MARKS ?= not process and not browser

test: venv
	$(BIN)/python -m pytest -m "$(TEST_MARKS)" $(PYTEST_ARGS)

# Every server the README offers against nginx serving the same page, freshness, cost with
# history, email fan-out (PostgreSQL too with TEST_DATABASE_URL or BENCH_DATABASE_URL), each
# worker's memory after minutes of writes, the goals of issues 16 and 21 with ✔/✘
# (tests/bench/run.py; about 9 minutes, 3.5 of them the writes:
# BENCH_ARGS="--memory-minutes 30" for the issue's 30, "--memory-only" for that alone).
# Needs: nginx wrk
bench: venv
	@PATH="$$PATH:/usr/sbin"; command -v nginx >/dev/null && command -v wrk >/dev/null || { \
		echo "make bench needs nginx and wrk: sudo apt-get install -y nginx wrk"; exit 2; }
	PATH="$$PATH:/usr/sbin" $(BIN)/python tests/bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
