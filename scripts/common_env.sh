#!/usr/bin/env bash
# Shared helpers for the launchers (sourced, not run).

# ensure_venv REQUIREMENT_FILE... : creates ./.venv when missing and installs the
# given requirement files when they changed since the last install.
ensure_venv() {
    local py="${PYTHON:-python3}"
    VENV_PY="$ROOT/.venv/bin/python"
    if [ ! -x "$VENV_PY" ]; then
        echo "creating virtual environment in $ROOT/.venv ..."
        "$py" -m venv "$ROOT/.venv" || { echo "error: could not create .venv with $py (is python3-venv installed?)" >&2; return 1; }
        "$VENV_PY" -m pip install --quiet --upgrade pip
    fi
    local stamp="$ROOT/.venv/.requirements.sha"
    local want
    want="$(cat "$@" | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "installing requirements ($*) into .venv (first run downloads MindSpore, ~800 MB)..."
        local args=()
        for f in "$@"; do args+=(-r "$f"); done
        "$VENV_PY" -m pip install --quiet "${args[@]}"
        echo "$want" > "$stamp"
    fi
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
}
