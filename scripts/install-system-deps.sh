#!/usr/bin/env bash
# Installs the Debian packages the test suite needs: PostgreSQL 15 with HypoPG.
# Does nothing when they are present; needs root (or sudo) to install them.
set -euo pipefail

PG15=/usr/lib/postgresql/15/bin/postgres
HYPOPG=/usr/share/postgresql/15/extension/hypopg.control
if [ -x "$PG15" ] && [ -f "$HYPOPG" ]; then
  exit 0
fi

packages="postgresql-15 postgresql-15-hypopg"
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
if [ ! -x "$PG15" ] || [ ! -f "$HYPOPG" ]; then
  echo "apt-get finished but $PG15 or $HYPOPG is still missing." >&2
  exit 1
fi
