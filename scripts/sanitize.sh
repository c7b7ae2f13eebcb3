#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The sanitizer runs that do not fit CI's default run (scripts/run-tests.sh): each builds only what it tests.
#
#   scripts/sanitize.sh tsan   ThreadSanitizer (preset tsan): the analysis engine's thread tests
#                              (attnscope_thread_tests: AnalysisEngineTest.*), the server's unit tests (EventQueue)
#                              and a real attnscope-server process with the real client (attnscope_remote_tests).
#                              LibTorch is not instrumented: it runs one OpenMP thread, and tests/sanitizers/tsan.supp
#                              names only its own libraries.
#   scripts/sanitize.sh asan   AddressSanitizer + UndefinedBehaviorSanitizer (preset asan): the app's QtTests
#                              (offscreen) and the server's tests, leaks checked (tests/sanitizers/lsan.supp names
#                              only leaks inside Qt's, fontconfig's and LibTorch's own libraries).
#   scripts/sanitize.sh all    both
#
# Environment: ATTNSCOPE_SANITIZE_JOBS (default: the number of cores) compile jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${ATTNSCOPE_SANITIZE_JOBS:-$(nproc)}
export CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-$(command -v ccache || true)}

run_tsan() {
    cmake --preset tsan >/dev/null
    cmake --build --preset tsan -j "$jobs" --target attnscope_thread_tests attnscope_server_unit_tests \
        attnscope_remote_tests
    ctest --preset tsan -j 1
}

run_asan() {
    cmake --preset asan >/dev/null
    cmake --build --preset asan -j "$jobs" --target tst_mapmath tst_heatmappanel tst_overviewgrid tst_mainwindow \
        tst_exporter tst_session tst_usability tst_runflow tst_remote attnscope_server_unit_tests attnscope_remote_tests
    ctest --preset asan-app -j 1
}

case ${1:-all} in
tsan) run_tsan ;;
asan) run_asan ;;
all)
    run_tsan
    run_asan
    ;;
*)
    echo "usage: scripts/sanitize.sh [tsan|asan|all]" >&2
    exit 2
    ;;
esac
