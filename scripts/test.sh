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

# The same suites built with AddressSanitizer + UndefinedBehaviorSanitizer: any finding fails them
# (-fno-sanitize-recover; leak detection on).
log "GoogleTest under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DANALOGTORCH_SANITIZE=ON \
  -DANALOGTORCH_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/sanitize -j "${MAX_JOBS}" >/dev/null
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/sanitize --output-on-failure -j "${MAX_JOBS}"
