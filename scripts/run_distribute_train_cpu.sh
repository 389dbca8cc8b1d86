#!/usr/bin/env bash
# Data-parallel training with WORKER_NUM CPU processes on this machine, started by msrun
# (run_distribute_train_msrun.sh with one server).
# Usage: bash scripts/run_distribute_train_cpu.sh [CKPT_SAVE_DIR] [WORKER_NUM] [BATCH_SIZE] [END_EPOCH] [--KEY value ...]
# Environment: MSRUN_PORT (scheduler port, default 8118).
# Runs in the background logging to logs/run_distribute_train_cpu.log (workers: logs/msrun/worker_<i>.log);
# FOREGROUND=1 runs in the foreground.
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
usage_check "bash scripts/run_distribute_train_cpu.sh [CKPT_SAVE_DIR] [WORKER_NUM] [BATCH_SIZE] [END_EPOCH]" 4 $#
CKPT_SAVE_DIR="$(abs_path "$1")"; WORKER_NUM="$2"; BATCH_SIZE="$3"; END_EPOCH="$4"; shift 4
check_int WORKER_NUM "$WORKER_NUM" 1
check_int BATCH_SIZE "$BATCH_SIZE" 1
check_int END_EPOCH "$END_EPOCH" 1
msrun_train "$CALLER_PWD/logs/run_distribute_train_cpu.log" "$WORKER_NUM" "$WORKER_NUM" 127.0.0.1 \
    "${MSRUN_PORT:-8118}" 0 "$CKPT_SAVE_DIR" CPU --batch_size "$BATCH_SIZE" --end_epoch "$END_EPOCH" "$@"
