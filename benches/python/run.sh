#!/usr/bin/env bash
# The optional Python comparison: creates (or reuses) the venv with async-dag 0.3.1, then runs
# bench.py with it. Writes ${CARGO_TARGET_DIR:-<repo>/target}/dagfut-benches/python.json.
#
#   bash benches/python/run.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# setup.sh logs to stderr and prints the venv's path as its last line on stdout.
venv="$(bash "$here/setup.sh" | tail -n 1)"
exec "$venv/bin/python" "$here/bench.py" "$@"
