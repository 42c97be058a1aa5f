#!/usr/bin/env bash
# The main job: sets up a fresh Debian machine (scripts/env.sh), then runs analogtorch's demo.
# Extra arguments go to `python -m analogtorch demo`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ANALOGTORCH_ROOT"
python -m analogtorch demo "$@"
