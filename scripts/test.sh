#!/usr/bin/env bash
# Runs every test: pytest (Python and ops) and ctest (GoogleTest suites of the C++ sources).
# Sets up a fresh Debian machine first (scripts/env.sh). Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ANALOGTORCH_ROOT"

log "pytest"
python -m pytest tests/python -q "$@"

log "GoogleTest (cmake + ctest)"
cmake -S . -B build/cmake -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/cmake -j "${MAX_JOBS}" >/dev/null
ctest --test-dir build/cmake --output-on-failure -j "${MAX_JOBS}"
