#!/usr/bin/env bash
# Runs the test suite in ./.venv, creating and filling it first when needed; then, on a CPU where oneDNN runs
# more than AVX2 (AVX-512, AMX, AVX2-VNNI), the tests marked `numerics` once more under ONEDNN_MAX_CPU_ISA=AVX2,
# so that the AVX2 kernels' rounding is checked on any machine.
# Both passes spread the tests over parallel worker processes (pytest-xdist) when the machine has more than one core.
# Usage: bash scripts/run_tests.sh [pytest arguments...]   (the second pass takes the same arguments)
# Environment: PYTHON (interpreter used to create .venv, default python3); AVX2_PASS=auto (default: as above),
#   1 (always, also where it repeats the first pass) or 0 (never); TEST_WORKERS (worker processes, default the
#   cores up to 4; 1 runs the tests in this process, one after the other).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/common_env.sh
ensure_venv requirements.txt requirements-test.txt

# Each worker holds its own MindSpore (up to about 8 GB by the end of the suite): a few, not one per core.
cores="$(nproc 2>/dev/null || echo 1)"
workers="${TEST_WORKERS:-$(( cores < 4 ? cores : 4 ))}"
[[ "$workers" =~ ^[1-9][0-9]*$ ]] || die "TEST_WORKERS must be a positive whole number, got '$workers'"
parallel=()
if [ "$workers" -gt 1 ]; then
    if "$VENV_PY" -c "import xdist" >/dev/null 2>&1; then
        # worksteal: an idle worker takes tests queued for the other, so a few long tests do not end the run alone
        parallel=(-n "$workers" --dist worksteal)
    else
        echo "note: pytest-xdist is not installed in $VENV_PY; the tests run one after the other"
        workers=1
    fi
fi
if [ "$workers" -gt 1 ]; then echo "running the test suite in $workers worker processes..."; else echo "running the test suite..."; fi
set +e
"$VENV_PY" -m pytest -q "${parallel[@]}" tests "$@"
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
    ONEDNN_MAX_CPU_ISA=AVX2 "$VENV_PY" -m pytest -q "${parallel[@]}" tests "$@" -m numerics
    second=$?
    set -e
    # 5: the arguments selected no numerics test
    if [ "$status" = 0 ] && [ "$second" != 0 ] && [ "$second" != 5 ]; then
        status=$second
    fi
fi
exit $status
