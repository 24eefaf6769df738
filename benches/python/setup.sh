#!/usr/bin/env bash
# Creates the virtual environment of the Python comparison and installs async-dag 0.3.1 into
# it: `${CARGO_TARGET_DIR:-<repo>/target}/dagfut-benches/python-venv`. Idempotent: does
# nothing when the venv already has that version. Prints the venv's path on its last line.
set -euo pipefail

ASYNC_DAG_VERSION=0.3.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
venv="$target/dagfut-benches/python-venv"

# A Python 3.12 from pyenv when there is one (the version the numbers were taken with),
# otherwise whatever `python3` is on the PATH.
find_python() {
    if command -v pyenv >/dev/null 2>&1 || [ -x "${PYENV_ROOT:-$HOME/.pyenv}/bin/pyenv" ]; then
        local pyenv_bin root candidate
        pyenv_bin="$(command -v pyenv || echo "${PYENV_ROOT:-$HOME/.pyenv}/bin/pyenv")"
        # `pyenv which` only finds versions that are active; try it, then the install dirs.
        if candidate="$("$pyenv_bin" which python3.12 2>/dev/null)" && [ -x "$candidate" ]; then
            echo "$candidate"
            return
        fi
        root="$("$pyenv_bin" root)"
        for candidate in "$root"/versions/3.12*/bin/python3; do
            if [ -x "$candidate" ]; then
                echo "$candidate"
                return
            fi
        done
    fi
    command -v python3
}

installed_version() {
    "$venv/bin/python" -c \
        'import importlib.metadata as m; print(m.version("async-dag"))' 2>/dev/null || true
}

if [ -x "$venv/bin/python" ] && [ "$(installed_version)" = "$ASYNC_DAG_VERSION" ]; then
    echo "async-dag $ASYNC_DAG_VERSION already installed in $venv" >&2
else
    python="$(find_python)"
    # async-dag 0.3.1 uses PEP 695 generics: it needs Python 3.12 or newer.
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
        echo "error: async-dag $ASYNC_DAG_VERSION needs Python >= 3.12; $python is" \
            "$("$python" --version 2>&1) (install one with pyenv)" >&2
        exit 1
    fi
    echo "creating $venv with $python ($("$python" --version 2>&1))" >&2
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "async-dag==$ASYNC_DAG_VERSION" >&2
    echo "installed async-dag $(installed_version) in $venv" >&2
fi
echo "$venv"
