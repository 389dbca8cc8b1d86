#!/usr/bin/env bash
# The whole job on the CPU with synthetic data: set up .venv, generate the dataset,
# train with demo_config.yaml, evaluate against the synthetic detector boxes, draw predictions.
# Usage: bash scripts/run_demo.sh [--KEY value ...]   (extra arguments go to train.py and eval.py)
# Environment: DEMO_DATA (dataset folder, default data/synthetic in the repository), DEMO_OUTPUT
#              (default demo_output in the repository; relative values of both are taken from the
#              directory you call the script in), DEMO_NUM_TRAIN / DEMO_NUM_VAL (images to generate,
#              default 3000 / 100; a set with fewer training images than DEMO_NUM_TRAIN is generated
#              again), NO_VENV=1 (use $PYTHON, default python3, instead of creating ./.venv).
# Re-running continues from the newest checkpoint in DEMO_OUTPUT/ckpt (delete it to train afresh).
# The last line is the COCO AP; a network too weak to find anyone gets a warning instead of a picture.
set -euo pipefail
CALLER_PWD="$(pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/common_env.sh"
ensure_venv requirements.txt
PY="$VENV_PY"
DATA="$(abs_path "${DEMO_DATA:-$ROOT/data/synthetic}")"
OUT="$(abs_path "${DEMO_OUTPUT:-$ROOT/demo_output}")"
START=$(date +%s)

NUM_TRAIN="${DEMO_NUM_TRAIN:-3000}"
NUM_VAL="${DEMO_NUM_VAL:-100}"
HAVE_TRAIN=0
if [ -f "$DATA/annotations/person_keypoints_val2017.json" ] && [ -d "$DATA/train2017" ]; then
    HAVE_TRAIN=$(find "$DATA/train2017" -maxdepth 1 -name '*.jpg' | wc -l)
fi
if [ "$HAVE_TRAIN" -lt "$NUM_TRAIN" ]; then
    # Same seed, same images: a larger set keeps the images of a smaller one.
    echo "== generating the synthetic dataset in $DATA ($NUM_TRAIN training, $NUM_VAL validation images)"
    "$PY" -m src.synthetic --output "$DATA" --num_train "$NUM_TRAIN" --num_val "$NUM_VAL" --seed 0
fi
BBOX="$DATA/person_detection_results/COCO_val2017_detections_AP_H_56_person.json"
COMMON=(--config_path "$ROOT/demo_config.yaml" --dataset_path "$DATA" --coco_bbox_file "$BBOX")

echo "== training (log: $OUT/train.log)"
mkdir -p "$OUT"
# `if !` keeps a failing pipe from ending the script (set -e, pipefail) before it says what failed.
if ! "$PY" "$ROOT/train.py" "${COMMON[@]}" --ckpt_save_dir "$OUT/ckpt" --resume auto "$@" 2>&1 | tee "$OUT/train.log"; then
    echo "error: training failed, see $OUT/train.log" >&2
    exit 1
fi
CKPT="$("$PY" -c "import sys; from src.training.checkpoint import list_checkpoints; print((list_checkpoints(sys.argv[1]) or [''])[-1])" "$OUT/ckpt")"
[ -n "$CKPT" ] || { echo "error: no checkpoint in $OUT/ckpt" >&2; exit 1; }

echo "== evaluating $CKPT (log: $OUT/eval.log)"
if ! "$PY" "$ROOT/eval.py" "${COMMON[@]}" --eval_model_file "$CKPT" "$@" 2>&1 | tee "$OUT/eval.log"; then
    echo "error: evaluation failed, see $OUT/eval.log" >&2
    exit 1
fi

echo "== drawing predictions"
PICTURE="$OUT/predictions.png"
if DRAWN="$("$PY" -m src.visualize --results "${CKPT%.ckpt}/results/keypoints_results.json" \
        --images "$DATA/val2017" --ann "$DATA/annotations/person_keypoints_val2017.json" \
        --output "$PICTURE" 2>&1)"; then
    [ -z "$DRAWN" ] || echo "$DRAWN"
    echo "demo finished in $(( $(date +%s) - START )) s; predictions drawn to $PICTURE"
else
    # A network trained too briefly finds nobody to draw: the AP below says how it did.
    REASON="$(echo "$DRAWN" | tail -n 1)"
    echo "warning: no picture drawn: ${REASON#error: }" >&2
    echo "demo finished in $(( $(date +%s) - START )) s without a picture"
fi
grep "^AP: " "$OUT/eval.log" | tail -n 1
