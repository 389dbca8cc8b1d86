#!/usr/bin/env bash
# COCO keypoint evaluation on one Ascend device.
# Usage: bash scripts/run_eval.sh [TEST_MODEL_FILE] [COCO_BBOX_FILE] [DEVICE_ID] [--KEY value ...]
# Runs in the background logging to eval_log<DEVICE_ID>.txt; FOREGROUND=1 runs in the foreground.
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
usage_check "bash scripts/run_eval.sh [TEST_MODEL_FILE] [COCO_BBOX_FILE] [DEVICE_ID]" 3 $#
MODEL_FILE="$(abs_path "$1")"; BBOX_FILE="$(abs_path "$2")"; DEVICE_ID="$3"; shift 3
[ -f "$MODEL_FILE" ] || die "TEST_MODEL_FILE '$MODEL_FILE' is not a file"
[ -f "$BBOX_FILE" ] || die "COCO_BBOX_FILE '$BBOX_FILE' is not a file"
check_int DEVICE_ID "$DEVICE_ID" 0
export DEVICE_ID RANK_ID=0 RANK_SIZE=1
launch "$CALLER_PWD/eval_log${DEVICE_ID}.txt" "$(pick_python)" "$ROOT/eval.py" --device_target Ascend \
    --eval_model_file "$MODEL_FILE" --coco_bbox_file "$BBOX_FILE" "$@"
