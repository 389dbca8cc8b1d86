#!/usr/bin/env bash
# Data-parallel training on DEVICE_NUM GPUs with mpirun (NCCL).
# Usage: bash scripts/run_distribute_train_gpu.sh [CKPT_SAVE_DIR] [BATCH_SIZE] [END_EPOCH] [DEVICE_NUM] [VISIBLE_DEVICES] [--KEY value ...]
# Example: bash scripts/run_distribute_train_gpu.sh ./ckpt/gpu_distributed 32 165 8 0,1,2,3,4,5,6,7
# Runs in the background logging to logs/run_distribute_train_gpu.log; FOREGROUND=1 runs in the foreground.
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
usage_check "bash scripts/run_distribute_train_gpu.sh [CKPT_SAVE_DIR] [BATCH_SIZE] [END_EPOCH] [DEVICE_NUM] [VISIBLE_DEVICES(0,1,2,3,4,5,6,7)]" 5 $#
CKPT_SAVE_DIR="$(abs_path "$1")"; BATCH_SIZE="$2"; END_EPOCH="$3"; DEVICE_NUM="$4"; VISIBLE_DEVICES="$5"; shift 5
check_int BATCH_SIZE "$BATCH_SIZE" 1
check_int END_EPOCH "$END_EPOCH" 1
check_int DEVICE_NUM "$DEVICE_NUM" 1
[[ "$VISIBLE_DEVICES" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "VISIBLE_DEVICES must be a comma-separated list of device numbers, got '$VISIBLE_DEVICES'"
listed=$(echo "$VISIBLE_DEVICES" | tr ',' '\n' | wc -l)
[ "$listed" -eq "$DEVICE_NUM" ] || die "VISIBLE_DEVICES '$VISIBLE_DEVICES' lists $listed devices but DEVICE_NUM is $DEVICE_NUM"
command -v mpirun > /dev/null || die "mpirun not found: install Open MPI (distributed GPU training runs one process per GPU through mpirun)"
cd "$ROOT"
export CUDA_VISIBLE_DEVICES="$VISIBLE_DEVICES" RANK_SIZE="$DEVICE_NUM"
launch "$CALLER_PWD/logs/run_distribute_train_gpu.log" mpirun -n "$DEVICE_NUM" --allow-run-as-root \
    --output-filename "$CALLER_PWD/logs/mpi" --merge-stderr-to-stdout \
    "$(pick_python)" "$ROOT/train.py" --device_target GPU --run_distribute True \
    --ckpt_save_dir "$CKPT_SAVE_DIR" --batch_size "$BATCH_SIZE" --end_epoch "$END_EPOCH" "$@"
