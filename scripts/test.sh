#!/usr/bin/env bash
# The test suite, twice over: first on the real topology (PostgreSQL, Redis, worker
# processes), then the tests marked `embedded` on the embedded default (SQLite, the
# in-process channel layer and tasks), exactly as a fresh checkout runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

echo "== tests on the real topology (PostgreSQL + Redis)"
DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}" \
REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" \
SECRET_KEY="test-only-secret-key-for-the-suite" SHOP_TOKEN_SECRET="test-only-shop-token-secret" \
DATABASE_CONN_MAX_AGE=0 \
  $PY -m pytest -m "not reliability" "$@"

echo "== tests on the embedded default (SQLite, in-process)"
embedded_var="$(mktemp -d)"
trap 'rm -rf "$embedded_var"' EXIT
env -u DATABASE_URL -u REDIS_URL -u SECRET_KEY SUPPORT_BOT_VAR_DIR="$embedded_var" \
  $PY -m pytest -m embedded "$@"
