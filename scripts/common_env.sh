#!/usr/bin/env bash
# Shared helpers for the launchers (sourced, not run). Callers define ROOT (the repository) and
# CALLER_PWD (the directory the user called the script in) before sourcing.
#
# The Python entry points run in CALLER_PWD with the repository on PYTHONPATH, exactly as
# `python <repo>/train.py ...` typed there would: relative paths, in the launcher's arguments, in
# the `--KEY value` words passed through and in the configuration file, are taken from the
# caller's directory.

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# ensure_venv REQUIREMENT_FILE... : creates ./.venv when missing and installs the given
# requirement files when they changed since the last install; sets VENV_PY. Each set of files
# has its own stamp, so run_demo.sh (requirements.txt) and run_tests.sh (that plus
# requirements-test.txt) do not take each other's install for a change.
# NO_VENV=1 skips all of it and uses $PYTHON (default python3) as it is.
ensure_venv() {
    if [ "${NO_VENV:-0}" = "1" ]; then
        VENV_PY="$(command -v "${PYTHON:-python3}")" || { echo "error: NO_VENV=1 but ${PYTHON:-python3} is not found" >&2; return 1; }
        return 0
    fi
    local py="${PYTHON:-python3}"
    VENV_PY="$ROOT/.venv/bin/python"
    if [ ! -x "$VENV_PY" ]; then
        echo "creating virtual environment in $ROOT/.venv ..."
        "$py" -m venv "$ROOT/.venv" || { echo "error: could not create .venv with $py (is python3-venv installed?)" >&2; return 1; }
        "$VENV_PY" -m pip install --quiet --upgrade pip
    fi
    local stamp="$ROOT/.venv/.installed-$(echo "$*" | tr ' /' '+_').sha"
    local want
    want="$(cd "$ROOT" && cat "$@" requirements-onednn.txt | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "installing requirements ($*) into .venv (first run downloads MindSpore, ~800 MB)..."
        local args=()
        for f in "$@"; do args+=(-r "$ROOT/$f"); done
        "$VENV_PY" -m pip install --quiet "${args[@]}"
        # The oneDNN headers of the CPU path, without the ~2 GB of runtimes their package depends on.
        "$VENV_PY" -m pip install --quiet --no-deps -r "$ROOT/requirements-onednn.txt"
        echo "$want" > "$stamp"
    fi
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
        *) echo "${CALLER_PWD%/}/$1" ;;
    esac
}

# pick_python : $PYTHON, else the project's .venv, else python3.
pick_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"
    elif [ -x "$ROOT/.venv/bin/python" ]; then echo "$ROOT/.venv/bin/python"
    else echo python3
    fi
}

# wait_all PID... : waits for every PID; returns the exit code of the first one (in the order
# given) that failed, 0 when none did.
wait_all() {
    local status=0 code pid
    for pid in "$@"; do
        code=0
        wait "$pid" || code=$?
        if [ "$status" -eq 0 ] && [ "$code" -ne 0 ]; then status=$code; fi
    done
    return "$status"
}

# forward_stop PID : asks the job PID to stop. msrun's ranks (its children with MS_ROLE=MS_WORKER; not
# its `tail -f` helpers) get SIGTERM themselves: msrun has no handler for it and would die, leaving its
# ranks running; they stop after the same step and write its checkpoint. Any other job gets SIGTERM.
forward_stop() {
    local child ranks=0
    for child in $(ps -o pid= --ppid "$1" 2> /dev/null); do
        if [ "$(cat "/proc/$child/comm" 2> /dev/null)" != tail ] \
            && tr '\0' '\n' < "/proc/$child/environ" 2> /dev/null | grep -qx MS_ROLE=MS_WORKER; then
            kill -TERM "$child" 2> /dev/null && ranks=$((ranks + 1))
        fi
    done
    if [ "$ranks" -eq 0 ]; then kill -TERM "$1" 2> /dev/null || true; fi
}

# launch LOG_FILE COMMAND... : runs COMMAND in the background logging to LOG_FILE,
# or in the foreground (output also copied to LOG_FILE) when FOREGROUND=1. In the foreground, SIGTERM,
# SIGINT (Ctrl-C) and SIGHUP to the launcher are passed on as SIGTERM (forward_stop) and the launcher
# waits for the job to end and returns its exit code; the job runs in its own session, so that Ctrl-C
# reaches it only that way (msrun would otherwise kill its ranks at once), and `tee -i` goes on copying.
launch() {
    local log="$1"; shift
    mkdir -p "$(dirname "$log")"
    if [ "${FOREGROUND:-0}" = "1" ]; then
        set +e
        setsid "$@" > >(tee -i "$log") 2>&1 &
        local pid=$! status
        trap 'forward_stop "$pid"' TERM INT HUP
        while true; do
            wait "$pid"
            status=$?
            kill -0 "$pid" 2> /dev/null || break   # else the wait was cut short by a signal: wait on
        done
        trap - TERM INT HUP
        wait   # for tee to copy the last lines
        set -e
        return "$status"
    fi
    nohup "$@" > "$log" 2>&1 &
    echo "started in the background (pid $!); log: $log; kill $! stops it after the step under way"
}

# msrun_train LOG WORKER_NUM LOCAL_WORKER_NUM MASTER_ADDR MASTER_PORT NODE_RANK CKPT_SAVE_DIR DEVICE_TARGET [ARGS...]
# : data-parallel training started by MindSpore's msrun on this server (one call per server),
# workers logging to logs/msrun/ (MSRUN_LOG_DIR) under the caller's directory.
msrun_train() {
    local log="$1" workers="$2" local_workers="$3" addr="$4" port="$5" node_rank="$6" ckpt="$7" target="$8"
    shift 8
    local py
    py="$(pick_python)"
    command -v "$py" > /dev/null || die "Python interpreter '$py' not found"
    local py_dir
    py_dir="$(dirname "$(command -v "$py")")"
    # msrun is the console script MindSpore (2.3 and later) installs next to its interpreter.
    local msrun=("$py_dir/msrun")
    if [ ! -x "$py_dir/msrun" ]; then
        if command -v msrun > /dev/null; then msrun=("$(command -v msrun)")
        elif "$py" -c "import importlib.util as u, os, sys; s = u.find_spec('mindspore')
sys.exit(not (s and os.path.isfile(os.path.join(os.path.dirname(s.origin), 'parallel', 'cluster', 'run.py'))))"; then
            msrun=("$py" -m mindspore.parallel.cluster.run)
        else
            die "msrun not found next to $py or on PATH (it comes with MindSpore 2.3 and later)"
        fi
    fi
    # msrun starts each worker with the `python` found on PATH: make it this interpreter.
    export PATH="$py_dir:$PATH"
    launch "$log" "${msrun[@]}" --worker_num="$workers" \
        --local_worker_num="$local_workers" --master_addr="$addr" --master_port="$port" --node_rank="$node_rank" \
        --join=True --log_dir="$(abs_path "${MSRUN_LOG_DIR:-logs/msrun}")" "$ROOT/train.py" \
        --device_target "$target" --run_distribute True --ckpt_save_dir "$ckpt" "$@"
}
