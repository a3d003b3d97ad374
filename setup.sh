#!/usr/bin/env bash
# Set up archiver on a fresh machine: a virtualenv in .venv with archiver and its test tools.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if ! command -v wget >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  # wget is the benchmark baseline, chromium renders the HTML report in tests.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wget chromium >/dev/null) \
      || echo "setup.sh: could not install wget/chromium; the tests that need them will be skipped" >&2
  fi
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  # PostgreSQL: the shared archive of `archiver worker` (SPEC §11); its tests start a private server.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
      || echo "setup.sh: could not install postgresql; the PostgreSQL tests will be skipped" >&2
  fi
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
