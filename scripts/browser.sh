#!/usr/bin/env bash
# The browser tests drive Debian's chromium with Playwright (Playwright's own browser
# download cannot work offline). Install it when missing and we may.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
  echo "chromium is not installed and this user cannot install it: browser tests will be skipped" >&2
fi
