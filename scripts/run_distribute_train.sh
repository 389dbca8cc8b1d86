#!/usr/bin/env bash
# Data-parallel training on Ascend devices with an HCCL rank table, on one server or several.
# Usage: bash scripts/run_distribute_train.sh [RANK_TABLE_FILE] [CKPT_SAVE_DIR] [RANK_SIZE] [RANK_START] [DEVICE_NUM] [--KEY value ...]
#   RANK_SIZE: ranks in all (every device of every server in the rank table).
#   RANK_START, DEVICE_NUM (optional, default 0 and RANK_SIZE): the first rank of this server and its
#   number of devices. Run the script once on every server, e.g. for two servers of 8 devices:
#     server 1: bash scripts/run_distribute_train.sh hccl_16p.json ./ckpt 16 0 8
#     server 2: bash scripts/run_distribute_train.sh hccl_16p.json ./ckpt 16 8 8
# One process per device of this server (DEVICE_ID 0..DEVICE_NUM-1, RANK_ID RANK_START+DEVICE_ID), each in
# the background logging to train_parallel<RANK_ID>/log.txt; FOREGROUND=1 waits for all of them and returns
# the exit code of the first (lowest rank) that failed.
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
usage_check "bash scripts/run_distribute_train.sh [RANK_TABLE_FILE] [CKPT_SAVE_DIR] [RANK_SIZE] [RANK_START] [DEVICE_NUM]" 3 $#
RANK_TABLE_FILE="$(abs_path "$1")"; CKPT_SAVE_DIR="$(abs_path "$2")"; RANK_SIZE="$3"; shift 3
RANK_START=0
DEVICE_NUM="$RANK_SIZE"
if [ $# -gt 0 ] && [[ "$1" != --* ]]; then
    RANK_START="$1"; shift
    [ $# -gt 0 ] && [[ "$1" != --* ]] || die "RANK_START needs DEVICE_NUM after it (the devices of this server)"
    DEVICE_NUM="$1"; shift
fi
[ -f "$RANK_TABLE_FILE" ] || die "RANK_TABLE_FILE '$RANK_TABLE_FILE' is not a file"
check_int RANK_SIZE "$RANK_SIZE" 1
check_int RANK_START "$RANK_START" 0
check_int DEVICE_NUM "$DEVICE_NUM" 1
[ $((RANK_START + DEVICE_NUM)) -le "$RANK_SIZE" ] \
    || die "RANK_START $RANK_START + DEVICE_NUM $DEVICE_NUM exceeds RANK_SIZE $RANK_SIZE (the ranks of all servers)"
PY="$(pick_python)"
export RANK_TABLE_FILE RANK_SIZE
pids=()
for ((i = 0; i < DEVICE_NUM; i++)); do
    rank=$((RANK_START + i))
    dir="$CALLER_PWD/train_parallel$rank"
    mkdir -p "$dir"
    DEVICE_ID=$i RANK_ID=$rank nohup "$PY" "$ROOT/train.py" --device_target Ascend \
        --run_distribute True --ckpt_save_dir "$CKPT_SAVE_DIR" "$@" > "$dir/log.txt" 2>&1 &
    pids+=($!)
    echo "rank $rank (device $i) started (pid $!); log: $dir/log.txt"
done
if [ "${FOREGROUND:-0}" = "1" ]; then
    status=0
    wait_all "${pids[@]}" || status=$?
    exit "$status"
fi
