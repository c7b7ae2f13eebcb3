#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs everything attnscope needs to build and test on Debian 12 (bookworm) or 13 (trixie: the same package
# names, with LibTorch 2.6 and Qt 6.8), from apt only.
# Skips apt entirely when every package is already installed, so repeated runs cost nothing.
set -euo pipefail

# OpenBLAS replaces the reference BLAS libtorch links by default (~30x faster forward passes). Debian 13's
# LibTorch 2.6 needs the OpenMP build: with the pthread build its BLAS threads fight LibTorch's OpenMP threads
# (the trainer tests: 149 s with pthread, 2.3 s with openmp; Debian 12's LibTorch 1.13 is fine with pthread).
OPENBLAS=libopenblas0-pthread
. /etc/os-release 2>/dev/null || true
[ "${VERSION_CODENAME:-}" = trixie ] && OPENBLAS=libopenblas0-openmp

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev            # LibTorch 1.13 (CPU); GPU users point CMake at PyTorch instead (README)
  "$OPENBLAS"
  nlohmann-json3-dev libcli11-dev libssl-dev
  libzip-dev              # the zip container of PyTorch .pt checkpoints (core/src/pt/)
  qt6-base-dev qt6-svg-dev libqcustomplot-dev   # the desktop front end (app/)
  xvfb xauth                                     # scripts/screenshots.sh renders on a virtual X screen of a chosen size
  libgtest-dev googletest
  libonig-dev libutf8proc-dev   # tokenizer.json: the regex engine HF tokenizers uses, Unicode normalization
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev   # attnscope-server and the CLI's --server (server/)
  openssl                 # server tests make a self-signed TLS certificate with the openssl command
  clang libclang-rt-dev unzip   # scripts/fuzz.sh: libFuzzer + sanitizer runtimes; unzip takes .pt pickles as seeds
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
