#!/usr/bin/env bash
# The main job: sets up a fresh Debian machine (scripts/env.sh), then compares digital and analog
# training on Fashion-MNIST (python -m analogtorch compare; results, tables and plots in results/).
# Extra arguments go to compare (e.g. --epochs 20 --seeds 0 1 2 for the full setting).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ANALOGTORCH_ROOT"
python -m analogtorch compare --out results "$@"
