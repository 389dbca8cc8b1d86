#!/usr/bin/env bash
# Runs the test suite in ./.venv, creating and filling it first when needed.
# Usage: bash scripts/run_tests.sh [pytest arguments...]
# Environment: PYTHON (interpreter used to create .venv, default python3).
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
exit $status
