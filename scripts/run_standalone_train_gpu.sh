#!/usr/bin/env bash
# Training on one GPU.
# Usage: bash scripts/run_standalone_train_gpu.sh [CKPT_SAVE_DIR] [BATCH_SIZE] [END_EPOCH] [DEVICE_ID] [--KEY value ...]
# Runs in the background logging to logs/run_standalone_train_gpu.log; FOREGROUND=1 runs in the foreground.
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
usage_check "bash scripts/run_standalone_train_gpu.sh [CKPT_SAVE_DIR] [BATCH_SIZE] [END_EPOCH] [DEVICE_ID]" 4 $#
CKPT_SAVE_DIR="$(abs_path "$1")"; BATCH_SIZE="$2"; END_EPOCH="$3"; DEVICE_ID="$4"; shift 4
check_int BATCH_SIZE "$BATCH_SIZE" 1
check_int END_EPOCH "$END_EPOCH" 1
check_int DEVICE_ID "$DEVICE_ID" 0
export DEVICE_ID RANK_ID=0 RANK_SIZE=1
launch "$CALLER_PWD/logs/run_standalone_train_gpu.log" "$(pick_python)" "$ROOT/train.py" --device_target GPU \
    --ckpt_save_dir "$CKPT_SAVE_DIR" --batch_size "$BATCH_SIZE" --end_epoch "$END_EPOCH" "$@"
