#!/usr/bin/env bash
# Data-parallel training on DEVICE_NUM GPUs with mpirun (NCCL), on this server or on the servers of a host file.
# Usage: bash scripts/run_distribute_train_gpu.sh [CKPT_SAVE_DIR] [BATCH_SIZE] [END_EPOCH] [DEVICE_NUM] [VISIBLE_DEVICES] [HOSTFILE] [--KEY value ...]
# Example: bash scripts/run_distribute_train_gpu.sh ./ckpt/gpu_distributed 32 165 8 0,1,2,3,4,5,6,7
#          bash scripts/run_distribute_train_gpu.sh ./ckpt/gpu_distributed 32 165 16 0,1,2,3,4,5,6,7 hosts.txt
# DEVICE_NUM: processes in all (one per GPU). VISIBLE_DEVICES: the GPUs each server uses.
# HOSTFILE (optional): an Open MPI host file, one server per line with its GPU count (`node1 slots=8`);
#   DEVICE_NUM is then a multiple of the VISIBLE_DEVICES count, and every server needs this repository,
#   the same Python environment and the dataset at the same paths (CKPT_SAVE_DIR on a shared file system).
# Runs in the background logging to logs/run_distribute_train_gpu.log; FOREGROUND=1 runs in the foreground.
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
usage_check "bash scripts/run_distribute_train_gpu.sh [CKPT_SAVE_DIR] [BATCH_SIZE] [END_EPOCH] [DEVICE_NUM] [VISIBLE_DEVICES(0,1,2,3,4,5,6,7)] [HOSTFILE]" 5 $#
CKPT_SAVE_DIR="$(abs_path "$1")"; BATCH_SIZE="$2"; END_EPOCH="$3"; DEVICE_NUM="$4"; VISIBLE_DEVICES="$5"; shift 5
HOSTFILE=""
if [ $# -gt 0 ] && [[ "$1" != --* ]]; then HOSTFILE="$(abs_path "$1")"; shift; fi
check_int BATCH_SIZE "$BATCH_SIZE" 1
check_int END_EPOCH "$END_EPOCH" 1
check_int DEVICE_NUM "$DEVICE_NUM" 1
[[ "$VISIBLE_DEVICES" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "VISIBLE_DEVICES must be a comma-separated list of device numbers, got '$VISIBLE_DEVICES'"
listed=$(echo "$VISIBLE_DEVICES" | tr ',' '\n' | wc -l)
HOST_ARGS=()
if [ -n "$HOSTFILE" ]; then
    [ -f "$HOSTFILE" ] || die "HOSTFILE '$HOSTFILE' is not a file"
    [ $((DEVICE_NUM % listed)) -eq 0 ] || die "DEVICE_NUM $DEVICE_NUM is not a multiple of the $listed devices VISIBLE_DEVICES '$VISIBLE_DEVICES' lists per server"
    HOST_ARGS=(--hostfile "$HOSTFILE")
else
    [ "$listed" -eq "$DEVICE_NUM" ] || die "VISIBLE_DEVICES '$VISIBLE_DEVICES' lists $listed devices but DEVICE_NUM is $DEVICE_NUM"
fi
command -v mpirun > /dev/null || die "mpirun not found: install Open MPI (distributed GPU training runs one process per GPU through mpirun)"
export CUDA_VISIBLE_DEVICES="$VISIBLE_DEVICES" RANK_SIZE="$DEVICE_NUM"
# Open MPI passes only the variables named with -x to the processes on other servers.
ENV_ARGS=()
for name in CUDA_VISIBLE_DEVICES RANK_SIZE PATH LD_LIBRARY_PATH PYTHONPATH CUDA_HOME GLOG_v; do
    if [ -n "${!name:-}" ]; then ENV_ARGS+=(-x "$name"); fi
done
launch "$CALLER_PWD/logs/run_distribute_train_gpu.log" mpirun -n "$DEVICE_NUM" "${HOST_ARGS[@]}" "${ENV_ARGS[@]}" \
    --allow-run-as-root --output-filename "$CALLER_PWD/logs/mpi" --merge-stderr-to-stdout \
    "$(pick_python)" "$ROOT/train.py" --device_target GPU --run_distribute True \
    --ckpt_save_dir "$CKPT_SAVE_DIR" --batch_size "$BATCH_SIZE" --end_epoch "$END_EPOCH" "$@"
