#!/usr/bin/env bash
# Builds the Ascend 310 inference app: ascend310_infer/out/main.
# Usage: bash ascend310_infer/build.sh
# Needs the Ascend toolkit (CANN: ASCEND_HOME_PATH, ASCEND_TOOLKIT_HOME or /usr/local/Ascend), MindSpore's
# C++ package (MINDSPORE_PATH, else the folder of the `mindspore` Python package of $PYTHON or python3,
# holding include/api/ and lib/libmindspore.so), cmake, a C++17 compiler and gflags.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
problems=()
# join ITEMS... : the items separated by "; ".
join() { local out="$1"; shift; for item in "$@"; do out="$out; $item"; done; echo "$out"; }

# The Ascend toolkit: the first candidate folder that exists.
ascend=""
looked=()
for var in ASCEND_HOME_PATH ASCEND_TOOLKIT_HOME; do
    value="${!var:-}"
    if [ -z "$value" ]; then looked+=("$var (unset)")
    elif [ -d "$value" ]; then ascend="$value"; break
    else looked+=("$var=$value (no such folder)")
    fi
done
if [ -z "$ascend" ]; then
    if [ -d /usr/local/Ascend ]; then ascend=/usr/local/Ascend
    else looked+=("/usr/local/Ascend (no such folder)")
    fi
fi
if [ -z "$ascend" ]; then
    problems+=("the Ascend toolkit (CANN) was not found; looked at: $(join "${looked[@]}"). Install it and source its set_env.sh")
fi

# MindSpore's C++ package: include/api/ and lib/libmindspore.so.
ms_ok() { [ -f "$1/include/api/model.h" ] && [ -f "$1/lib/libmindspore.so" ]; }
ms_why() {
    local missing=()
    [ -f "$1/include/api/model.h" ] || missing+=("include/api/model.h")
    [ -f "$1/lib/libmindspore.so" ] || missing+=("lib/libmindspore.so")
    echo "$1 (no $(join "${missing[@]}"))"
}
mindspore=""
looked=()
if [ -n "${MINDSPORE_PATH:-}" ]; then
    if ms_ok "$MINDSPORE_PATH"; then mindspore="$MINDSPORE_PATH"; else looked+=("MINDSPORE_PATH=$(ms_why "$MINDSPORE_PATH")"); fi
else
    looked+=("MINDSPORE_PATH (unset)")
fi
if [ -z "$mindspore" ]; then
    if py_ms="$("$PY" -c 'import os, mindspore; print(os.path.dirname(mindspore.__file__))' 2>/dev/null)"; then
        if ms_ok "$py_ms"; then mindspore="$py_ms"; else looked+=("the mindspore package of $PY: $(ms_why "$py_ms")"); fi
    else
        looked+=("the mindspore package of $PY (cannot import mindspore)")
    fi
fi
if [ -z "$mindspore" ]; then
    problems+=("MindSpore's C++ inference package was not found; looked at: $(join "${looked[@]}"). Install MindSpore for Ascend or set MINDSPORE_PATH to the folder holding include/api/ and lib/libmindspore.so")
fi
command -v cmake > /dev/null || problems+=("cmake is not installed")

if [ ${#problems[@]} -gt 0 ]; then
    for problem in "${problems[@]}"; do echo "error: $problem" >&2; done
    echo "error: cannot build the Ascend 310 inference app (for CPU/GPU inference use INFER_BACKEND=mindspore)" >&2
    exit 1
fi

echo "Ascend toolkit: $ascend"
echo "MindSpore C++ package: $mindspore"
mkdir -p "$HERE/build"
cd "$HERE/build"
cmake .. -DMINDSPORE_PATH="$mindspore"
make -j"$(nproc 2>/dev/null || echo 4)"
echo "built $HERE/out/main"
