#!/usr/bin/env bash
# Installs the Debian packages the test suite needs: PostgreSQL 15 with HypoPG, and
# Chromium (headless, for the tests of the report and the web page).
# Does nothing when they are present; needs root (or sudo) to install them.
set -euo pipefail

PG15=/usr/lib/postgresql/15/bin/postgres
HYPOPG=/usr/share/postgresql/15/extension/hypopg.control
if [ -x "$PG15" ] && [ -f "$HYPOPG" ] && command -v chromium >/dev/null 2>&1; then
  exit 0
fi

packages="postgresql-15 postgresql-15-hypopg chromium"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo"
else
  echo "The tests need Debian's $packages. Install them as root:" >&2
  echo "  apt-get install -y $packages" >&2
  exit 1
fi

echo "Installing $packages ..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $packages >/dev/null
if [ ! -x "$PG15" ] || [ ! -f "$HYPOPG" ] || ! command -v chromium >/dev/null 2>&1; then
  echo "apt-get finished but $PG15, $HYPOPG or chromium is still missing." >&2
  exit 1
fi
