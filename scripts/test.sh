#!/usr/bin/env bash
# The test suite three times over: on the real topology (PostgreSQL, Redis, worker
# processes); the reliability suite on that topology, in a session of its own because it
# kills and restarts things; then the tests marked `embedded` on the embedded default
# (SQLite, the in-process channel layer and tasks), exactly as a fresh checkout runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
# Every simulated shopper here comes from one address; the per-address limits have
# their own tests, which lower them.
export CHAT_IP_CONNECTIONS_PER_MINUTE=1000000 CHAT_IP_MESSAGES_PER_MINUTE=1000000

# pytest, where "no test selected" (exit 5: the paths given hold none of that kind) passes.
run_pytest() {
  local code=0
  "$PY" -m pytest "$@" || code=$?
  if [ "$code" -ne 0 ] && [ "$code" -ne 5 ]; then exit "$code"; fi
}

topology() {
  export DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
  export REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
  export SECRET_KEY="test-only-secret-key-for-the-suite"
  export SHOP_TOKEN_SECRET="test-only-shop-token-secret"
  export DATABASE_CONN_MAX_AGE=0
}

echo "== tests on the real topology (PostgreSQL + Redis)"
(topology && run_pytest -m "not reliability" "$@")

echo "== the fault, abuse and isolation suite (pytest -m reliability), real topology"
(topology && run_pytest -m reliability "$@")

echo "== tests on the embedded default (SQLite, in-process)"
embedded_var="$(mktemp -d)"
trap 'rm -rf "$embedded_var"' EXIT
(
  unset DATABASE_URL REDIS_URL SECRET_KEY
  export SUPPORT_BOT_VAR_DIR="$embedded_var"
  run_pytest -m embedded "$@"
)
