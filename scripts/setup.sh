#!/usr/bin/env bash
# Installs every Debian package clipkit needs to build, test and benchmark.
# Usage: scripts/setup.sh [--bench]
# Idempotent: packages already present are left alone. Run as root or with sudo.
set -euo pipefail

PACKAGES=(
  # toolchain and test frameworks
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # core libraries
  zlib1g-dev nlohmann-json3-dev libcli11-dev libutf8proc-dev
  # linear algebra
  libdnnl-dev libopenblas-dev
  # image codecs
  libjpeg62-turbo-dev libpng-dev libwebp-dev libtiff-dev libheif-dev
  python3
)
# Benchmarks against the reference implementations (Debian's PyTorch, Pillow, numpy): only with
# --bench, since the tests never need them.
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(python3-numpy python3-pil python3-torch)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
