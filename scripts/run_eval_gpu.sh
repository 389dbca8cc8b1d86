#!/usr/bin/env bash
# COCO keypoint evaluation on one GPU.
# Usage: bash scripts/run_eval_gpu.sh [TEST_MODEL_FILE] [COCO_BBOX_FILE] [VISIBLE_DEVICES] [--KEY value ...]
# VISIBLE_DEVICES: the GPU to use (CUDA_VISIBLE_DEVICES); inside the process it is device 0 (DEVICE_ID=0).
# Runs in the background logging to logs/run_eval_gpu.log; FOREGROUND=1 runs in the foreground.
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
usage_check "bash scripts/run_eval_gpu.sh [TEST_MODEL_FILE] [COCO_BBOX_FILE] [VISIBLE_DEVICES(0,1,2,3,4,5,6,7)]" 3 $#
MODEL_FILE="$(abs_path "$1")"; BBOX_FILE="$(abs_path "$2")"; VISIBLE_DEVICES="$3"; shift 3
[ -f "$MODEL_FILE" ] || die "TEST_MODEL_FILE '$MODEL_FILE' is not a file"
[ -f "$BBOX_FILE" ] || die "COCO_BBOX_FILE '$BBOX_FILE' is not a file"
[[ "$VISIBLE_DEVICES" =~ ^[0-9]+$ ]] || die "VISIBLE_DEVICES must be one device number for evaluation, got '$VISIBLE_DEVICES'"
# The one visible GPU is device 0 of the process, whichever physical GPU it is.
export CUDA_VISIBLE_DEVICES="$VISIBLE_DEVICES" DEVICE_ID=0 RANK_ID=0 RANK_SIZE=1
launch "$CALLER_PWD/logs/run_eval_gpu.log" "$(pick_python)" "$ROOT/eval.py" --device_target GPU \
    --eval_model_file "$MODEL_FILE" --coco_bbox_file "$BBOX_FILE" "$@"
