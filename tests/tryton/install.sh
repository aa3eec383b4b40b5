#!/usr/bin/env bash
# Installs a pinned Tryton server (trytond 8.2 and the modules the real-server test activates) and
# proteus into a Python virtual environment, for tests/tryton_real.rs.
#
#   tests/tryton/install.sh            # venv at target/tryton-venv
#   TRIBUTARY_TRYTON_VENV=/some/dir tests/tryton/install.sh
#
# Idempotent: when the venv already holds exactly the pinned versions it only says so.
# Python: $TRIBUTARY_PYTHON, else python3.11, else python3 (trytond 8.2 needs >= 3.9).
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV="${TRIBUTARY_TRYTON_VENV:-target/tryton-venv}"

# One line per distribution; bump them together (same minor series).
PINS=(
  "trytond==8.2.1"
  "trytond-party==8.2.0"
  "trytond-company==8.2.0"
  "trytond-currency==8.2.0"
  "trytond-product==8.2.0"
  "trytond-stock==8.2.1"
  "trytond-account==8.2.1"
  "trytond-account-invoice==8.2.0"
  "trytond-sale==8.2.0"
  "proteus==8.2.0"
)

pick_python() {
  if [ -n "${TRIBUTARY_PYTHON:-}" ]; then echo "$TRIBUTARY_PYTHON"; return; fi
  for p in python3.11 python3; do
    if command -v "$p" >/dev/null 2>&1; then command -v "$p"; return; fi
  done
  echo "install.sh: no python3 found (set TRIBUTARY_PYTHON)" >&2
  exit 2
}

pinned_ok() {
  [ -x "$VENV/bin/python" ] || return 1
  # pip normalises names to lower case with '-' (e.g. trytond-account-invoice).
  local have
  have="$("$VENV/bin/python" -m pip list --format=freeze 2>/dev/null | tr 'A-Z_' 'a-z-')" || return 1
  local pin
  for pin in "${PINS[@]}"; do
    grep -qx -- "$pin" <<<"$have" || return 1
  done
}

start=$(date +%s)
if pinned_ok; then
  echo "install.sh: $VENV already has the pinned Tryton ${PINS[0]#trytond==} set; nothing to do"
  exit 0
fi

PY="$(pick_python)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "install.sh: creating venv $VENV with $PY ($("$PY" --version 2>&1))"
  if ! "$PY" -m venv "$VENV"; then
    echo "install.sh: '$PY -m venv' failed; on Debian/Ubuntu install python3-venv" >&2
    exit 2
  fi
fi
"$VENV/bin/python" -m pip install --quiet "${PINS[@]}"
pinned_ok || { echo "install.sh: pinned versions not satisfied after pip install" >&2; exit 1; }
echo "install.sh: installed Tryton into $VENV in $(( $(date +%s) - start ))s"
