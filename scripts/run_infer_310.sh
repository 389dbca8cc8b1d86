#!/usr/bin/env bash
# Inference of an exported MindIR on the COCO validation set, then COCO keypoint AP.
# Usage: bash scripts/run_infer_310.sh [MINDIR_PATH] [NEED_PREPROCESS] [DEVICE_ID] [--KEY value ...]
#   NEED_PREPROCESS: y (write the input batches) or n (reuse ./preprocess_Result); DEVICE_ID defaults to 0.
#   --KEY value: configuration overrides for preprocess.py and postprocess.py (e.g. --dataset_path,
#   --coco_bbox_file, --TEST.USE_GT_BBOX True); the input batch size and image size are read from the MindIR.
# Environment: INFER_BACKEND=ascend310 (default: build ascend310_infer into ./infer_app and run it) or mindspore
#   (run src/deploy/mindir.py); INFER_DEVICE, the device of either: Ascend (the app's default), GPU or CPU (the
#   runner's default; the runner takes CPU or GPU). The app on GPU or CPU needs MindSpore Lite (MS_LITE_HOME);
#   on Ascend it uses MindSpore Lite when MS_LITE_HOME is set, the MindSpore 310 package otherwise.
# Works in the current folder: preprocess_Result/, result_Files/, time_Result/, results/, infer_app/ and the logs
# preprocess.log, build.log, infer.log, acc.log (the postprocess output; its AP line is printed).
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
USAGE="bash scripts/run_infer_310.sh [MINDIR_PATH] [NEED_PREPROCESS] [DEVICE_ID]"
usage_check "$USAGE" 2 $#
MINDIR="$(abs_path "$1")"; NEED_PREPROCESS="$2"; shift 2
DEVICE_ID=0
if [ $# -gt 0 ] && [[ "$1" != --* ]]; then DEVICE_ID="$1"; shift; fi
[ -f "$MINDIR" ] || die "MINDIR_PATH '$MINDIR' is not a file"
case "$NEED_PREPROCESS" in
    y|Y) NEED_PREPROCESS=y ;;
    n|N) NEED_PREPROCESS=n ;;
    *) die "NEED_PREPROCESS must be 'y' or 'n', got '$NEED_PREPROCESS'" ;;
esac
check_int DEVICE_ID "$DEVICE_ID" 0
BACKEND="${INFER_BACKEND:-ascend310}"
case "$BACKEND" in
    ascend310|mindspore) ;;
    *) die "INFER_BACKEND must be 'ascend310' or 'mindspore', got '$BACKEND'" ;;
esac
if [ "$BACKEND" = ascend310 ]; then
    INFER_DEVICE="${INFER_DEVICE:-Ascend}"
    case "$INFER_DEVICE" in
        Ascend|GPU|CPU) ;;
        *) die "INFER_DEVICE must be 'Ascend', 'GPU' or 'CPU' for the C++ app, got '$INFER_DEVICE'" ;;
    esac
else
    INFER_DEVICE="${INFER_DEVICE:-CPU}"
    case "$INFER_DEVICE" in
        CPU|GPU) ;;
        *) die "INFER_DEVICE must be 'CPU' or 'GPU' for the MindSpore runner, got '$INFER_DEVICE'" ;;
    esac
fi

PY="$(pick_python)"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
PRE="$CALLER_PWD/preprocess_Result"
POST="$CALLER_PWD/result_Files"
cd "$CALLER_PWD"

# step NAME LOG COMMAND... : runs COMMAND with its output in LOG; stops the script when it fails.
step() {
    local name="$1" log="$2"; shift 2
    echo "== $name (log: $log)"
    if ! "$@" > "$log" 2>&1; then
        tail -n 5 "$log" >&2
        die "$name failed, see $CALLER_PWD/$log"
    fi
}

# The input shape B×3×H×W the model was exported with: preprocess.py writes batches of it.
SHAPE="$("$PY" -c 'import sys; from src.deploy.mindir import mindir_input_shape; print(*mindir_input_shape(sys.argv[1]))' "$MINDIR" 2>/dev/null)" \
    || die "cannot read the input shape of MINDIR_PATH '$MINDIR' (is it a MindIR file from export.py?)"
read -r BATCH _ HEIGHT WIDTH <<< "$SHAPE"
PATHS=(--INFER.PRE_RESULT_PATH "$PRE" --INFER.POST_RESULT_PATH "$POST")

# The app is built first, so that a missing runtime stops the script before the long preprocessing.
if [ "$BACKEND" = ascend310 ]; then
    APP="$CALLER_PWD/infer_app"
    BUILD_ARGS=(--out "$APP")
    [ "$INFER_DEVICE" = Ascend ] || BUILD_ARGS+=(--lite)   # GPU and CPU only through MindSpore Lite
    step "build the C++ app" build.log bash "$ROOT/ascend310_infer/build.sh" "${BUILD_ARGS[@]}"
    grep "^runtime: " build.log || true
fi

if [ "$NEED_PREPROCESS" = y ]; then
    step "preprocess (batches of ${BATCH}x3x${HEIGHT}x${WIDTH})" preprocess.log "$PY" "$ROOT/preprocess.py" \
        --TEST.BATCH_SIZE "$BATCH" --MODEL.IMAGE_SIZE "[$WIDTH,$HEIGHT]" "$@" "${PATHS[@]}"
elif [ ! -f "$PRE/meta/info.json" ]; then
    die "NEED_PREPROCESS is 'n' but $PRE holds no preprocessed data; run with NEED_PREPROCESS y"
fi

rm -f "$POST"/sp_*_0.bin
if [ "$BACKEND" = ascend310 ]; then
    # The runtime's libraries go on LD_LIBRARY_PATH for the app only, not for the Python steps.
    step "inference (C++ app, $INFER_DEVICE $DEVICE_ID)" infer.log bash -c 'source "$1"; shift; exec "$@"' _ \
        "$APP/env.sh" "$APP/main" --mindir_path="$MINDIR" --input0_path="$PRE/00_data" \
        --device_target="$INFER_DEVICE" --device_id="$DEVICE_ID" --output_dir="$CALLER_PWD"
else
    step "inference (MindSpore, $INFER_DEVICE)" infer.log "$PY" -m src.deploy.mindir --mindir_path "$MINDIR" \
        --input0_path "$PRE/00_data" --device_target "$INFER_DEVICE" --device_id "$DEVICE_ID" --output_dir "$CALLER_PWD"
fi
grep -h "mean inference time" "$CALLER_PWD/time_Result/test_perform_static.txt" || true

step "postprocess" acc.log "$PY" "$ROOT/postprocess.py" "$@" "${PATHS[@]}"
grep "^AP: " acc.log | tail -n 1
