#!/usr/bin/env bash
# System prerequisites of the local stack and the tests (Debian/Ubuntu): PostgreSQL 15+ server binaries,
# a JDK 17+, Maven, make, Python's venv, and Chromium + its WebDriver (the status page's browser test,
# tests/pipeline/test_status_page.py; Playwright's own browser download is not used). Installs only what is missing; a quick no-op when all present.
# Other systems: install the equivalents yourself (PostgreSQL 15+ with initdb on PATH, JDK 17+, Maven 3,
# Python 3.11+ with venv, make).
set -euo pipefail

missing=()

have_pg() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] || continue
    v=$(basename "$(dirname "$d")")
    [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 15 ] && return 0
  done
  command -v initdb >/dev/null 2>&1 && [ "$(initdb --version | grep -oE '[0-9]+' | head -1)" -ge 15 ]
}

have_java17() {
  command -v java >/dev/null 2>&1 || return 1
  local v
  v=$(java -version 2>&1 | grep -oE 'version "[0-9]+' | grep -oE '[0-9]+$' || echo 0)
  [ "$v" -ge 17 ]
}

have_pg || missing+=(postgresql)
have_java17 || missing+=(default-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v make >/dev/null 2>&1 || missing+=(make)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)

if [ ${#missing[@]} -eq 0 ]; then
  echo "prerequisites present (PostgreSQL 15+, JDK 17+, Maven, make, python3-venv, chromium, chromium-driver)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: ${missing[*]}; this script only knows apt-get: install them with your package manager" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "missing: ${missing[*]}; run as root or install: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian's postgresql package starts a system cluster on 5432; the stack runs its own private cluster
# and does not need it, but leaves it alone.
