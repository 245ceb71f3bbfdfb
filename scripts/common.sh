# Shared by scripts/run.sh and scripts/test.sh: dependencies, build, shared-data lookup.
# shellcheck shell=bash

PAGELLM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian 12 packages the build and the tests need.
PAGELLM_APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl python3
  libabsl-dev nlohmann-json3-dev libonig-dev libutf8proc-dev libssl-dev libboost-dev
  libgtest-dev libgmock-dev libbenchmark-dev pybind11-dev python3-dev
)
# What the tests need on top: Python's Jinja2 (the chat-template oracle), pytest, and clang with
# its runtimes (libFuzzer, sanitizers) for the fuzz targets. Node.js (the end-to-end tests with
# the official OpenAI SDK) is installed separately when missing.
PAGELLM_TEST_APT_PACKAGES=(python3-jinja2 python3-pytest clang-14 libclang-rt-14-dev)

# Installs the apt packages (as root, or through sudo). Skips apt when everything is there
# already, unless PAGELLM_FORCE_APT=1.
install_deps() {
  local missing=()
  for p in "${PAGELLM_APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 && "${PAGELLM_FORCE_APT:-0}" != 1 ]]; then
    echo "==> apt packages: all present"
    return 0
  fi
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; return 1; }
    sudo="sudo"
  fi
  echo "==> apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# build DIR [cmake args...]: configure (once) and build everything with Ninja.
build() {
  local dir="$1"; shift
  local jobs="${PAGELLM_JOBS:-$(nproc)}"
  # The Python module is built for Debian's python3 (not whatever python3 comes first on PATH).
  cmake -S "$PAGELLM_ROOT" -B "$dir" -G Ninja -DPython3_EXECUTABLE=/usr/bin/python3 "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

# The shared test-data folder (models/, tokenizers/): $PAGELLM_SHARED_DIR or ../shared.
shared_dir() {
  if [[ -n "${PAGELLM_SHARED_DIR:-}" ]]; then echo "$PAGELLM_SHARED_DIR"; else echo "$PAGELLM_ROOT/../shared"; fi
}
