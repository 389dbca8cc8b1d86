#!/usr/bin/env bash
# Builds the SimplePoseNet inference app, OUT/main, and OUT/env.sh (puts the runtime's libraries on
# LD_LIBRARY_PATH; source it before running the app by hand). OUT defaults to ascend310_infer/out.
# Usage: bash ascend310_infer/build.sh [--lite | --mindspore] [--out OUT] [-DCMAKE_OPTION=VALUE ...]
#   --lite       build against MindSpore Lite (the default when MS_LITE_HOME is set): Ascend 310/310P, GPU, CPU
#   --mindspore  build against the MindSpore 310 package (the default otherwise): Ascend 310 only
# Environment:
#   MS_LITE_HOME      the unpacked MindSpore Lite cloud-inference package, mindspore-lite-<version>-linux-<arch>
#                     (runtime/include/api/, runtime/lib/libmindspore-lite.so)
#   MINDSPORE_PATH    the MindSpore 310 package (include/api/, lib/libmindspore.so); else the folder of the
#                     mindspore Python package of $PYTHON or python3
#   ASCEND_HOME_PATH, ASCEND_TOOLKIT_HOME   the Ascend toolkit (CANN) the 310 package needs; else /usr/local/Ascend
#   CXX11_ABI         0 or 1: overrides the _GLIBCXX_USE_CXX11_ABI read from the runtime library's symbols
# Says in one line which runtime it found where, or, per missing piece, what is missing and where it looked.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
USAGE="bash ascend310_infer/build.sh [--lite | --mindspore] [--out OUT] [-DCMAKE_OPTION=VALUE ...]"

fail() { echo "error: $*" >&2; exit 2; }
# join ITEMS... : the items separated by "; ".
join() { local out="$1"; shift; for item in "$@"; do out="$out; $item"; done; echo "$out"; }
# missing DIR FILES... : "DIR (no FILE, ...)" naming the files DIR lacks; nothing when it has them all.
missing() {
    local dir="$1" file absent=()
    shift
    if [ ! -d "$dir" ]; then echo "$dir (no such folder)"; return; fi
    for file in "$@"; do [ -f "$dir/$file" ] || absent+=("$file"); done
    if [ ${#absent[@]} -gt 0 ]; then
        local list="${absent[0]}" item
        for item in "${absent[@]:1}"; do list="$list, $item"; done
        echo "$dir (no $list)"
    fi
}

mode=""
OUT="$HERE/out"
cmake_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --lite) mode=lite ;;
        --mindspore) mode=mindspore ;;
        --out) [ $# -ge 2 ] || fail "--out needs a folder (usage: $USAGE)"; OUT="$2"; shift ;;
        -D?*) cmake_args+=("$1") ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) fail "unknown argument '$1' (usage: $USAGE)" ;;
    esac
    shift
done
if [ -z "$mode" ]; then
    if [ -n "${MS_LITE_HOME:-}" ]; then mode=lite; else mode=mindspore; fi
fi
problems=()

# The runtime: RUNTIME_DIR holds include/api/ and lib/$LIB.
RUNTIME_DIR=""
if [ "$mode" = lite ]; then
    LIB=libmindspore-lite.so
    NAME="MindSpore Lite"
    if [ -z "${MS_LITE_HOME:-}" ]; then
        problems+=("MindSpore Lite not found: MS_LITE_HOME is unset. Download the cloud-inference package mindspore-lite-<version>-linux-<x64|aarch64>.tar.gz, unpack it and set MS_LITE_HOME to its folder")
    else
        looked=()
        for dir in "$MS_LITE_HOME/runtime" "$MS_LITE_HOME"; do
            why="$(missing "$dir" include/api/model.h "lib/$LIB")"
            if [ -z "$why" ]; then RUNTIME_DIR="$dir"; break; fi
            looked+=("$why")
        done
        [ -n "$RUNTIME_DIR" ] || problems+=("MindSpore Lite not found in MS_LITE_HOME=$MS_LITE_HOME; looked at: $(join "${looked[@]}"). Set MS_LITE_HOME to the unpacked mindspore-lite-<version>-linux-<arch> folder, which holds runtime/include/api/ and runtime/lib/$LIB")
    fi
else
    LIB=libmindspore.so
    NAME="the MindSpore 310 package"
    looked=()
    if [ -n "${MINDSPORE_PATH:-}" ]; then
        why="$(missing "$MINDSPORE_PATH" include/api/model.h "lib/$LIB")"
        if [ -z "$why" ]; then RUNTIME_DIR="$MINDSPORE_PATH"; else looked+=("MINDSPORE_PATH=$why"); fi
    else
        looked+=("MINDSPORE_PATH (unset)")
    fi
    if [ -z "$RUNTIME_DIR" ]; then
        if py_ms="$("$PY" -c 'import os, mindspore; print(os.path.dirname(mindspore.__file__))' 2>/dev/null)"; then
            why="$(missing "$py_ms" include/api/model.h "lib/$LIB")"
            if [ -z "$why" ]; then RUNTIME_DIR="$py_ms"; else looked+=("the mindspore package of $PY: $why"); fi
        else
            looked+=("the mindspore package of $PY (cannot import mindspore)")
        fi
    fi
    if [ -z "$RUNTIME_DIR" ]; then
        if [ -n "${MS_LITE_HOME:-}" ]; then why="--mindspore chosen"; else why="MS_LITE_HOME is unset"; fi
        problems+=("the MindSpore 310 package was not found ($why, so MindSpore Lite was not tried); looked at: $(join "${looked[@]}"). Set MS_LITE_HOME to an unpacked MindSpore Lite package (Ascend 310/310P, GPU, CPU), or MINDSPORE_PATH to a MindSpore package holding include/api/ and lib/$LIB")
    fi

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
        if [ -d /usr/local/Ascend ]; then ascend=/usr/local/Ascend; else looked+=("/usr/local/Ascend (no such folder)"); fi
    fi
    [ -n "$ascend" ] || problems+=("the Ascend toolkit (CANN), which the MindSpore 310 package needs, was not found; looked at: $(join "${looked[@]}"). Install it and source its set_env.sh")
fi

# The std::string ABI: CXX11_ABI, else the runtime library's exported C++ symbols (std::__cxx11 or the old
# std::string); the two ABIs do not mix in one binary.
abi=""
abi_source=""
if [ -n "${CXX11_ABI:-}" ]; then
    [[ "$CXX11_ABI" =~ ^[01]$ ]] || problems+=("CXX11_ABI must be 0 or 1, got '$CXX11_ABI'")
    abi="$CXX11_ABI"
    abi_source="set by CXX11_ABI"
elif [ -n "$RUNTIME_DIR" ]; then
    if ! command -v nm > /dev/null; then
        problems+=("nm (binutils) is not installed, so the C++ ABI of $RUNTIME_DIR/lib/$LIB cannot be read; install binutils or set CXX11_ABI=0 or 1")
    else
        symbols="$(nm -DC --defined-only "$RUNTIME_DIR/lib/$LIB" 2> /dev/null || true)"
        new=$(grep -c -e '__cxx11' -e 'abi:cxx11' <<< "$symbols" || true)
        old=$(grep -c -e 'std::string' -e 'std::basic_string<' <<< "$symbols" || true)
        if [ "$new" -gt 0 ] && [ "$old" -eq 0 ]; then abi=1
        elif [ "$old" -gt 0 ] && [ "$new" -eq 0 ]; then abi=0
        else problems+=("cannot tell the C++ string ABI of $RUNTIME_DIR/lib/$LIB from its symbols ($new with std::__cxx11, $old with the old std::string); set CXX11_ABI=0 or 1")
        fi
        abi_source="read from its symbols"
    fi
fi
command -v cmake > /dev/null || problems+=("cmake is not installed (the app needs CMake >= 3.14 and a C++17 compiler)")

if [ ${#problems[@]} -gt 0 ]; then
    for problem in "${problems[@]}"; do echo "error: $problem" >&2; done
    exit 2
fi

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
where="$NAME at $RUNTIME_DIR (lib/$LIB, _GLIBCXX_USE_CXX11_ABI=$abi $abi_source)"
if [ "$mode" = lite ]; then
    echo "runtime: $where; devices: Ascend, GPU, CPU"
    lite=ON
    lib_dirs=("$RUNTIME_DIR/lib")
    # The folders MindSpore Lite's guide puts on LD_LIBRARY_PATH besides runtime/lib.
    for dir in "$RUNTIME_DIR/third_party/dnnl" "$MS_LITE_HOME/tools/converter/lib"; do
        [ -d "$dir" ] && lib_dirs+=("$dir")
    done
else
    echo "runtime: $where; Ascend toolkit at $ascend; devices: Ascend"
    lite=OFF
    lib_dirs=("$RUNTIME_DIR/lib")
fi

cmake -S "$HERE" -B "$OUT/build" -DMINDSPORE_PATH="$RUNTIME_DIR" -DMS_LITE="$lite" -DCXX11_ABI="$abi" \
    -DOUTPUT_DIR="$OUT" "${cmake_args[@]}"
cmake --build "$OUT/build" -j "$(nproc 2>/dev/null || echo 2)"
library_path="$(IFS=:; echo "${lib_dirs[*]}")"
printf 'export LD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"\n' "$library_path" > "$OUT/env.sh"
echo "built $OUT/main (source $OUT/env.sh before running it by hand)"
