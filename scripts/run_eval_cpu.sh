#!/usr/bin/env bash
# COCO keypoint evaluation on the CPU (fast CPU convolution path).
# Usage: bash scripts/run_eval_cpu.sh [TEST_MODEL_FILE] [COCO_BBOX_FILE] [--KEY value ...]
# Runs in the background logging to logs/run_eval_cpu.log; FOREGROUND=1 runs in the foreground.
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
usage_check "bash scripts/run_eval_cpu.sh [TEST_MODEL_FILE] [COCO_BBOX_FILE]" 2 $#
MODEL_FILE="$(abs_path "$1")"; BBOX_FILE="$(abs_path "$2")"; shift 2
[ -f "$MODEL_FILE" ] || die "TEST_MODEL_FILE '$MODEL_FILE' is not a file"
[ -f "$BBOX_FILE" ] || die "COCO_BBOX_FILE '$BBOX_FILE' is not a file"
launch "$CALLER_PWD/logs/run_eval_cpu.log" "$(pick_python)" "$ROOT/eval.py" --device_target CPU \
    --eval_model_file "$MODEL_FILE" --coco_bbox_file "$BBOX_FILE" "$@"
