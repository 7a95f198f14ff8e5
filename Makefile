# The two commands a newcomer needs:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

## run: install, create the SQLite ledger and dev keys, load the demo journey, serve on $(HOST):$(PORT)
##      (another port: make run PORT=8080)
run: install
	$(BIN)/ledger init
	$(BIN)/ledger demo --if-empty
	$(BIN)/ledger serve --host $(HOST) --port $(PORT)

## test: install and run the whole suite (SQLite and PostgreSQL): the tests on $(TEST_WORKERS) workers,
##       then the reliability drills alone (R2 restarts the PostgreSQL server every worker shares)
TEST_WORKERS ?= 2
test: install
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope --durations=30 -m "not reliability"
	$(BIN)/pytest --durations=10 -m reliability tests/reliability

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m bench --size quick

clean:
	rm -rf $(VENV) var .pytest_cache
