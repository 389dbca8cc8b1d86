#!/usr/bin/env bash
# Training on the CPU (uses the fast CPU convolution path).
# Usage: bash scripts/run_standalone_train_cpu.sh [CKPT_SAVE_DIR] [BATCH_SIZE] [END_EPOCH] [--KEY value ...]
# Example: bash scripts/run_standalone_train_cpu.sh ./ckpt/cpu 16 20 --config_path demo_config.yaml
# Runs in the background logging to logs/run_standalone_train_cpu.log; FOREGROUND=1 runs in the foreground.
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
usage_check "bash scripts/run_standalone_train_cpu.sh [CKPT_SAVE_DIR] [BATCH_SIZE] [END_EPOCH]" 3 $#
CKPT_SAVE_DIR="$(abs_path "$1")"; BATCH_SIZE="$2"; END_EPOCH="$3"; shift 3
check_int BATCH_SIZE "$BATCH_SIZE" 1
check_int END_EPOCH "$END_EPOCH" 1
launch "$CALLER_PWD/logs/run_standalone_train_cpu.log" "$(pick_python)" "$ROOT/train.py" --device_target CPU \
    --ckpt_save_dir "$CKPT_SAVE_DIR" --batch_size "$BATCH_SIZE" --end_epoch "$END_EPOCH" "$@"
