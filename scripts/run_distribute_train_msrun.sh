#!/usr/bin/env bash
# Data-parallel training started by MindSpore's msrun, on any device and any number of servers.
# Usage: bash scripts/run_distribute_train_msrun.sh [WORKER_NUM] [LOCAL_WORKER_NUM] [MASTER_ADDR] [MASTER_PORT] [NODE_RANK] [CKPT_SAVE_DIR] [DEVICE_TARGET] [--KEY value ...]
#   WORKER_NUM: processes in all; LOCAL_WORKER_NUM: processes on this server (one per device), the same on
#   every server; MASTER_ADDR/MASTER_PORT: address of server 0, where msrun's scheduler runs;
#   NODE_RANK: this server's number, 0 .. WORKER_NUM/LOCAL_WORKER_NUM - 1 (its workers are the ranks
#   NODE_RANK*LOCAL_WORKER_NUM ...); DEVICE_TARGET: Ascend, GPU or CPU.
# Run once on every server, e.g. two servers with 8 GPUs:
#   server 0: bash scripts/run_distribute_train_msrun.sh 16 8 10.0.0.1 8118 0 /shared/ckpt GPU
#   server 1: bash scripts/run_distribute_train_msrun.sh 16 8 10.0.0.1 8118 1 /shared/ckpt GPU
# Every server needs this repository, the Python environment and the dataset; rank 0 writes the
# checkpoints, so give CKPT_SAVE_DIR on a file system the servers share if all of them should see them.
# Runs in the background logging to logs/run_distribute_train_msrun.log, the workers of this server to
# logs/msrun/worker_<rank>.log (MSRUN_LOG_DIR); FOREGROUND=1 runs in the foreground.
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
usage_check "bash scripts/run_distribute_train_msrun.sh [WORKER_NUM] [LOCAL_WORKER_NUM] [MASTER_ADDR] [MASTER_PORT] [NODE_RANK] [CKPT_SAVE_DIR] [DEVICE_TARGET]" 7 $#
WORKER_NUM="$1"; LOCAL_WORKER_NUM="$2"; MASTER_ADDR="$3"; MASTER_PORT="$4"; NODE_RANK="$5"
CKPT_SAVE_DIR="$(abs_path "$6")"; DEVICE_TARGET="$7"; shift 7
check_int WORKER_NUM "$WORKER_NUM" 1
check_int LOCAL_WORKER_NUM "$LOCAL_WORKER_NUM" 1
check_int MASTER_PORT "$MASTER_PORT" 1024
[ "$MASTER_PORT" -le 65535 ] || die "MASTER_PORT must be a port number 1024..65535, got '$MASTER_PORT'"
check_int NODE_RANK "$NODE_RANK" 0
[ "$LOCAL_WORKER_NUM" -le "$WORKER_NUM" ] || die "LOCAL_WORKER_NUM $LOCAL_WORKER_NUM exceeds WORKER_NUM $WORKER_NUM"
[ $((WORKER_NUM % LOCAL_WORKER_NUM)) -eq 0 ] \
    || die "WORKER_NUM $WORKER_NUM is not a multiple of LOCAL_WORKER_NUM $LOCAL_WORKER_NUM (every server runs LOCAL_WORKER_NUM workers)"
[ "$NODE_RANK" -lt $((WORKER_NUM / LOCAL_WORKER_NUM)) ] \
    || die "NODE_RANK must be below the number of servers, WORKER_NUM/LOCAL_WORKER_NUM = $((WORKER_NUM / LOCAL_WORKER_NUM)), got '$NODE_RANK'"
[ -n "$MASTER_ADDR" ] || die "MASTER_ADDR must be the address of server 0"
case "$DEVICE_TARGET" in
    Ascend|GPU|CPU) ;;
    *) die "DEVICE_TARGET must be Ascend, GPU or CPU, got '$DEVICE_TARGET'" ;;
esac
msrun_train "$CALLER_PWD/logs/run_distribute_train_msrun.log" "$WORKER_NUM" "$LOCAL_WORKER_NUM" "$MASTER_ADDR" \
    "$MASTER_PORT" "$NODE_RANK" "$CKPT_SAVE_DIR" "$DEVICE_TARGET" "$@"
