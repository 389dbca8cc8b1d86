#!/usr/bin/env bash
# Training on one Ascend device.
# Usage: bash scripts/run_standalone_train.sh [CKPT_SAVE_DIR] [DEVICE_ID] [BATCH_SIZE] [--KEY value ...]
# Runs in the background logging to train_log<DEVICE_ID>.txt; FOREGROUND=1 runs in the foreground.
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
usage_check "bash scripts/run_standalone_train.sh [CKPT_SAVE_DIR] [DEVICE_ID] [BATCH_SIZE]" 3 $#
CKPT_SAVE_DIR="$(abs_path "$1")"; DEVICE_ID="$2"; BATCH_SIZE="$3"; shift 3
check_int DEVICE_ID "$DEVICE_ID" 0
check_int BATCH_SIZE "$BATCH_SIZE" 1
export DEVICE_ID RANK_ID=0 RANK_SIZE=1
launch "$CALLER_PWD/train_log${DEVICE_ID}.txt" "$(pick_python)" "$ROOT/train.py" --device_target Ascend \
    --ckpt_save_dir "$CKPT_SAVE_DIR" --batch_size "$BATCH_SIZE" "$@"
