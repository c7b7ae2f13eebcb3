#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs dependencies, builds the dev preset (Debug, warnings as errors) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --preset dev
cmake --build --preset dev -j "$(nproc)"
ctest --preset dev -j "$(nproc)"

# Untrusted input (issue 15): the torch-free tests (format library and the parser regressions) built with clang
# under ASan + UBSan in the fuzz preset, then every libFuzzer target for ATTNSCOPE_FUZZ_SECONDS (default 30) from
# its seeds. The whole-project ASan build (LibTorch and Qt translation units) does not fit CI's time; run the `asan`
# preset for that by hand.
cmake --preset fuzz
cmake --build --preset fuzz --target attnscope_format_tests -j "$(nproc)"
ctest --preset fuzz -j "$(nproc)"
scripts/fuzz.sh "${ATTNSCOPE_FUZZ_SECONDS:-30}"
