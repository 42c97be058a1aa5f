# Sourced by scripts/main.sh and scripts/test.sh: installs everything analogtorch needs on a fresh
# Debian machine, and is quick when it is already there.
#   1. Debian packages (compiler, CMake, ninja, ccache, GoogleTest, zlib, Fashion-MNIST).
#   2. A virtual environment from requirements.txt, kept in a cache outside the clone and reused
#      while requirements.txt is unchanged (ANALOGTORCH_VENV overrides its location).
#   3. The extension, built in place with ninja and ccache (MAX_JOBS=2 by default).
# Set ANALOGTORCH_CUDA=0 to skip the CUDA kernels (auto: built when nvcc and CUDA torch are there).

set -euo pipefail

ANALOGTORCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ANALOGTORCH_ROOT

log() { printf '\033[1m[analogtorch]\033[0m %s\n' "$*" >&2; }

install_debian_packages() {
  local wanted=(build-essential cmake ninja-build ccache libgtest-dev zlib1g-dev dataset-fashion-mnist python3-venv python3-dev)
  local missing=()
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  # A Python from outside Debian (e.g. pyenv) brings its own venv and headers.
  if python3 -c 'import venv, sysconfig, os; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null; then
    missing=("${missing[@]/python3-venv}")
    missing=("${missing[@]/python3-dev}")
  fi
  local needed=()
  for package in "${missing[@]}"; do [ -n "$package" ] && needed+=("$package"); done
  [ ${#needed[@]} -eq 0 ] && return
  log "installing Debian packages: ${needed[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
}

setup_venv() {
  local key
  key="$(cat "$ANALOGTORCH_ROOT/requirements.txt" <(python3 --version) | sha256sum | cut -c1-16)"
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/analogtorch"
  ANALOGTORCH_VENV="${ANALOGTORCH_VENV:-$cache/venv-$key}"
  if [ ! -f "$ANALOGTORCH_VENV/.requirements-installed" ]; then
    log "creating the virtual environment $ANALOGTORCH_VENV (torch is large: a few minutes)"
    rm -rf "$ANALOGTORCH_VENV"
    mkdir -p "$(dirname "$ANALOGTORCH_VENV")"
    python3 -m venv "$ANALOGTORCH_VENV"
    "$ANALOGTORCH_VENV/bin/pip" install -q -r "$ANALOGTORCH_ROOT/requirements.txt" 2>&1 | grep -v "is ignored" >&2 || true
    "$ANALOGTORCH_VENV/bin/python" -c "import torch, numpy, scipy, pytest, hypothesis, tqdm, matplotlib"
    touch "$ANALOGTORCH_VENV/.requirements-installed"
  fi
  # shellcheck disable=SC1091
  source "$ANALOGTORCH_VENV/bin/activate"
}

build_extension() {
  export MAX_JOBS="${MAX_JOBS:-2}"
  [ -d /usr/lib/ccache ] && export PATH="/usr/lib/ccache:$PATH"
  # An editable install of this clone; ninja and ccache make a rebuild of unchanged sources quick.
  log "building the extension (ANALOGTORCH_CUDA=${ANALOGTORCH_CUDA:-auto})"
  local build_log="$ANALOGTORCH_ROOT/build/pip-install.log"
  mkdir -p "$ANALOGTORCH_ROOT/build"
  if ! (cd "$ANALOGTORCH_ROOT" && pip install -v --no-build-isolation --no-deps -e . >"$build_log" 2>&1); then
    grep -v "is ignored" "$build_log" | tail -40 >&2
    log "the build failed; the whole log is in $build_log"
    return 1
  fi
}

install_debian_packages
setup_venv
build_extension
