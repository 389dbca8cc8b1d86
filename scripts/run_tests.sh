#!/usr/bin/env bash
# Runs the test suite in ./.venv, creating and filling it first when needed; then, on a CPU where oneDNN runs
# more than AVX2 (AVX-512, AMX, AVX2-VNNI), the tests marked `numerics` once more under ONEDNN_MAX_CPU_ISA=AVX2,
# so that the AVX2 kernels' rounding is checked on any machine.
# Usage: bash scripts/run_tests.sh [pytest arguments...]   (the second pass takes the same arguments)
# Environment: PYTHON (interpreter used to create .venv, default python3); AVX2_PASS=auto (default: as above),
#   1 (always, also where it repeats the first pass) or 0 (never).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/common_env.sh
ensure_venv requirements.txt requirements-test.txt
echo "running the test suite..."
set +e
"$VENV_PY" -m pytest -q tests "$@"
status=$?
set -e

read -r isa above < <("$VENV_PY" -c "from tests.helpers import describe_onednn_isa; print(describe_onednn_isa())") \
    || true
isa="${isa:-unknown}" above="${above:-0}"
skipped="numerics tests under ONEDNN_MAX_CPU_ISA=AVX2: skipped"
case "${AVX2_PASS:-auto}" in
    1) run_pass=1 ;;
    0) run_pass=0; echo "$skipped (AVX2_PASS=0)" ;;
    *) run_pass="$above"
       if [ "$isa" = unknown ]; then echo "$skipped: MindSpore's oneDNN library, which names the instruction set, was not found"
       elif [ "$above" != 1 ]; then echo "$skipped: oneDNN ran the pass above at $isa already"; fi ;;
esac
if [ "$run_pass" = 1 ]; then
    echo "running the numerics tests again under ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN ran $isa above)..."
    set +e
    ONEDNN_MAX_CPU_ISA=AVX2 "$VENV_PY" -m pytest -q tests "$@" -m numerics
    second=$?
    set -e
    # 5: the arguments selected no numerics test
    if [ "$status" = 0 ] && [ "$second" != 0 ] && [ "$second" != 5 ]; then
        status=$second
    fi
fi
exit $status
