#!/usr/bin/env bash
# Makes one venv of the interop tests, idempotently: `make_venv.sh NAME REQUIREMENTS_FILE` makes
# tests/interop/.venvs/NAME ($PYTHON -m venv, default python3) with exactly those pins and checks
# them with `pip check`. A venv whose requirements file is unchanged since it was made (same sha256)
# is kept as it is; a changed one is made anew. Exits non-zero on any failure. Run from anywhere.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: make_venv.sh NAME REQUIREMENTS_FILE" >&2; exit 2; }
name="$1"
req="$2"
VENVS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.venvs"
PYTHON="${PYTHON:-python3}"
venv="$VENVS/$name"

command -v "$PYTHON" >/dev/null 2>&1 || { echo "make_venv.sh: $PYTHON not found" >&2; exit 1; }
[ -f "$req" ] || { echo "make_venv.sh: no $req" >&2; exit 1; }
mkdir -p "$VENVS"

hash="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" = "$hash" ]; then
    echo "make_venv.sh: venv $name is up to date"
    exit 0
fi
echo "make_venv.sh: making venv $name from $req"
start=$(date +%s)
rm -rf "$venv"
"$PYTHON" -m venv "$venv"
PIP_ROOT_USER_ACTION=ignore "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
"$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null
echo "$hash" > "$venv/.requirements.sha256"
echo "make_venv.sh: venv $name made in $(( $(date +%s) - start ))s"
