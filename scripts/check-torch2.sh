#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds and tests attnscope against LibTorch 2.x with CUDA, the LibTorch every PyTorch user has: the wheel that
# scripts/oracle-venv.sh installs from PyPI (torch 2.15, CUDA 13). Run it before resolving anything that touches
# core/: Debian 12's LibTorch 1.13 never compiles the 2.x-only code (fused attention for layers that keep no
# maps, the CUDA allocator's peak), and this does, with warnings as errors, and runs the WHOLE test suite on it
# (CUDA tests skip without a GPU; the fused-vs-tiled test runs on the CPU).
#
# Usage: scripts/check-torch2.sh                      # venv in .venv/ (created on first use, ~5 GB)
#        ATTNSCOPE_VENV=/work/venv scripts/check-torch2.sh
# Needs: scripts/install-deps.sh's packages (cmake, ninja, gtest, ...) and a CUDA toolkit with nvcc at configure
# time (PyTorch's CMake config of a CUDA wheel enables the CUDA language; nothing of ours is compiled by nvcc).
# Build directory: build/gpu (the `gpu` preset). Prints the time of each step last.
set -euo pipefail
cd "$(dirname "$0")/.."

times=()
step() { # step NAME COMMAND...: runs it and records its wall time
  local name=$1 start
  shift
  start=$(date +%s)
  "$@"
  times+=("$name: $(($(date +%s) - start)) s")
}

find_venv() { VENV=$(scripts/oracle-venv.sh | tail -1); }
step "oracle venv (torch 2.x)" find_venv
PY="$VENV/bin/python"
TORCH_CMAKE_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
export TORCH_CMAKE_PREFIX
echo "check-torch2: $("$PY" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)')"

# PyTorch's CMake config of a CUDA wheel needs nvcc (it enables CMake's CUDA language); the usual place.
if ! command -v nvcc >/dev/null && [ -z "${CUDACXX:-}" ]; then
  if [ -x /usr/local/cuda/bin/nvcc ]; then
    export CUDACXX=/usr/local/cuda/bin/nvcc
  else
    echo "check-torch2: no nvcc (PATH, CUDACXX or /usr/local/cuda): PyTorch's CMake config of a CUDA wheel needs one" >&2
    exit 2
  fi
fi
if command -v ccache >/dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
  # Without these ccache refuses every TU that uses the precompiled LibTorch header (all of the engine's).
  export CCACHE_SLOPPINESS=pch_defines,time_macros
fi

JOBS=${JOBS:-$(nproc)}
step configure cmake --preset gpu -DATTNSCOPE_WARNINGS_AS_ERRORS=ON
step build cmake --build --preset gpu -j "$JOBS"
step "test (ctest, whole suite)" ctest --preset gpu -j "$JOBS"

echo "check-torch2: passed on $("$PY" -c 'import torch; print("LibTorch", torch.__version__)')"
printf '  %s\n' "${times[@]}"
