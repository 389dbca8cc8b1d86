#!/usr/bin/env bash
# Data-parallel training on RANK_SIZE Ascend devices of one server (HCCL rank table).
# Usage: bash scripts/run_distribute_train.sh [RANK_TABLE_FILE] [CKPT_SAVE_DIR] [RANK_SIZE] [--KEY value ...]
# One process per device, each in the background logging to train_parallel<i>/log.txt
# (FOREGROUND=1 waits for all of them and returns the first non-zero exit code).
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
usage_check "bash scripts/run_distribute_train.sh [RANK_TABLE_FILE] [CKPT_SAVE_DIR] [RANK_SIZE]" 3 $#
RANK_TABLE_FILE="$(abs_path "$1")"; CKPT_SAVE_DIR="$(abs_path "$2")"; RANK_SIZE="$3"; shift 3
[ -f "$RANK_TABLE_FILE" ] || die "RANK_TABLE_FILE '$RANK_TABLE_FILE' is not a file"
check_int RANK_SIZE "$RANK_SIZE" 1
[ "$RANK_SIZE" -le 8 ] || die "RANK_SIZE must be at most 8 (devices of one server), got '$RANK_SIZE'"
PY="$(pick_python)"
export RANK_TABLE_FILE RANK_SIZE
pids=()
for ((i = 0; i < RANK_SIZE; i++)); do
    dir="$CALLER_PWD/train_parallel$i"
    mkdir -p "$dir"
    (cd "$ROOT" && DEVICE_ID=$i RANK_ID=$i nohup "$PY" "$ROOT/train.py" --device_target Ascend \
        --run_distribute True --ckpt_save_dir "$CKPT_SAVE_DIR" "$@" > "$dir/log.txt" 2>&1) &
    pids+=($!)
    echo "rank $i started (pid $!); log: $dir/log.txt"
done
if [ "${FOREGROUND:-0}" = "1" ]; then
    status=0
    for pid in "${pids[@]}"; do wait "$pid" || { [ $status -ne 0 ] || status=$?; }; done
    exit $status
fi
