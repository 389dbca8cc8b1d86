#!/usr/bin/env bash
# Shared helpers for the launchers (sourced, not run). Sets ROOT-relative helpers;
# callers define ROOT and CALLER_PWD before sourcing.

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

# die MESSAGE : one error line on stderr, exit 2.
die() { echo "error: $*" >&2; exit 2; }

# usage_check USAGE MIN_ARGS NUM_GIVEN : prints usage and exits when too few arguments.
usage_check() {
    if [ "$3" -lt "$2" ]; then
        echo "usage: $1" >&2
        exit 2
    fi
}

# check_int NAME VALUE MIN : VALUE must be an integer >= MIN.
check_int() {
    [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] || die "$1 must be an integer >= $3, got '$2'"
}

# abs_path PATH : PATH made absolute against the caller's working directory.
abs_path() {
    case "$1" in
        /*|obs://*|s3://*|file://*) echo "$1" ;;
        *) echo "$CALLER_PWD/$1" ;;
    esac
}

# pick_python : $PYTHON, else the project's .venv, else python3.
pick_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"
    elif [ -x "$ROOT/.venv/bin/python" ]; then echo "$ROOT/.venv/bin/python"
    else echo python3
    fi
}

# launch LOG_FILE COMMAND... : runs COMMAND in the background logging to LOG_FILE,
# or in the foreground (output also copied to LOG_FILE) when FOREGROUND=1.
launch() {
    local log="$1"; shift
    mkdir -p "$(dirname "$log")"
    if [ "${FOREGROUND:-0}" = "1" ]; then
        set +e
        "$@" 2>&1 | tee "$log"
        local status=${PIPESTATUS[0]}
        set -e
        return "$status"
    fi
    nohup "$@" > "$log" 2>&1 &
    echo "started in the background (pid $!); log: $log"
}
