#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The one prepared GPU check (docs/gpu.md, docs/performance.md): on a 16-core H100/H200 machine where PyTorch 2.x
# with CUDA is installed (python3 -c "import torch" works) and nothing can be downloaded, in ONE call of at most
# 9 minutes:
#   1. env        GPU, driver, torch, nvcc, cmake, compiler                                   (budget   20 s)
#   2. configure  the `gpu` preset against that torch (Ninja, Release, no Qt)                  (budget   90 s)
#   3. build      only attnscope-cli and attnscope_engine_tests                                (budget  300 s)
#   4. tests      CUDA vs CPU maps (CudaMatchesCpu, fp32 <= 1e-5, bf16 <= 1e-2), the reference
#                 fixtures on CUDA (ReferenceFixtures.MatchesReferenceOnCuda), fused vs tiled
#                 attention on CPU and CUDA (FusedMatchesTiled)                                (budget  120 s)
#   5. ceilings   device copy and bf16 matmul rate (PyTorch)                                  (budget   30 s)
#   6. bench      docs/performance.md's GPU table: attnscope-cli bench --shape S --dtype bf16
#                 and bench/eager_reference.py, N = 512, 4K, 16K, 64K; diff-3b first (the
#                 issue's targets), then softmax-3b, cope-3b                                   (whatever is left)
#   7. report     bench/report.py table + summary.md (printed last)
# Every step runs under `timeout` with min(its budget, time left before the deadline), so one slow step cannot
# eat the rest; a step that no longer fits is recorded as skipped. Nothing stops at a failure: each step's
# status, time and log go to OUTDIR.
#
# Expected times there (estimated, not measured on a GPU machine): the cold build of everything in the preset
# took 530 CPU-seconds on the 2-core development machine (24 min of wall time there, shared with other builds);
# the two targets here are ~470 of them, so ~30 s of compiling on 16 cores plus the serial chain (precompiled
# header, the slowest test TU, two links: ~60-70 s) => ~1.5-2 min; configure ~15-30 s; the tests ~1 min.
# Each 3B shape's random model (3.2 B parameters, 12.7 GB fp32 on disk) is written, hashed and loaded again by
# every bench call (~40-60 s of setup per shape), so the bench gets about 5 minutes and the later shapes may be
# cut short: their rows then come from the lines the bench prints as it goes (OUTDIR/bench-*.log) even when no
# JSON was written. A dry run on the CPU (below) takes ~6 min on the 2-core machine.
#
# Usage: scripts/gpu-check.sh [--cpu-dry-run] [OUTDIR]      OUTDIR defaults to $OUT, else out/gpu-check
#   --cpu-dry-run   the same steps on the CPU at tiny sizes (1-layer shapes, N = 64, 128; fp32), for checking
#                   this script on a machine without a GPU; uses the python in $PYTHON (default python3)
# Environment: PYTHON (a python with torch 2.x; default python3), DEADLINE_S (default 540), JOBS (default nproc).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
REPO=$PWD

DRY=0
if [ "${1:-}" = "--cpu-dry-run" ]; then
  DRY=1
  shift
fi
OUTDIR=${1:-${OUT:-out/gpu-check}}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
PYTHON=${PYTHON:-python3}
JOBS=${JOBS:-$(nproc)}
DEADLINE_S=${DEADLINE_S:-540}
START=$(date +%s)
BUILD_DIR=$REPO/build/gpu
WORK=$BUILD_DIR/bench-work # the 3B random models (12.7 GB each): removed after each shape
SUMMARY=$OUTDIR/summary.md

# Token counts in the order they are measured: 4K first (the eager comparison), then 64K (the issue's
# targets), so that a step cut short by its timeout has lost the least important rows.
if [ $DRY -eq 1 ]; then
  DEVICE=cpu DTYPE=fp32 TOKENS=128,64 LAYERS=1 REPEATS=1
else
  DEVICE=cuda DTYPE=bf16 TOKENS=4096,65536,16384,512 LAYERS="" REPEATS=${REPEATS:-2} # LAYERS "": the paper's 28
fi
# bench paths: what the table reports; `maps` (every kind of every head) is the app's first screen, not a target.
PATHS=forward,head,layer,window,all
RESERVE=15 # seconds kept for the report
# The steps are functions run under `timeout` in a child bash: export them and what they read.
export REPO OUTDIR PYTHON BUILD_DIR WORK DEVICE DTYPE TOKENS LAYERS REPEATS PATHS

left() { echo $((DEADLINE_S - ($(date +%s) - START))); }
results=()
# run_step NAME BUDGET_S COMMAND...: runs COMMAND under timeout, logging to OUTDIR/NAME.log; records the result.
run_step() {
  local name=$1 budget=$2 allowed t0 rc status
  shift 2
  allowed=$(($(left) - RESERVE))
  [ "$budget" -lt "$allowed" ] && allowed=$budget
  if [ "$allowed" -lt 10 ]; then
    results+=("| $name | skipped (no time left) | 0 s |")
    echo "gpu-check: $name skipped: no time left"
    return 1
  fi
  echo "gpu-check: $name (up to ${allowed} s; log $OUTDIR/$name.log)"
  t0=$(date +%s)
  # timeout signals its whole process group, so the bench's own children stop too.
  timeout --kill-after=10 "$allowed" bash -c '"$@"' "$name" "$@" >"$OUTDIR/$name.log" 2>&1
  rc=$?
  case $rc in
  0) status=ok ;;
  124 | 137) status="TIMED OUT after ${allowed} s" ;;
  *) status="FAILED (exit $rc)" ;;
  esac
  results+=("| $name | $status | $(($(date +%s) - t0)) s |")
  echo "gpu-check: $name: $status in $(($(date +%s) - t0)) s"
  tail -3 "$OUTDIR/$name.log"
  return $rc
}

env_step() {
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || echo "no nvidia-smi"
  "$PYTHON" -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "CUDA",
torch.version.cuda, "cuda available", torch.cuda.is_available(), "CXX11 ABI", torch._C._GLIBCXX_USE_CXX11_ABI,
"prefix", torch.utils.cmake_prefix_path)'
  "${CUDACXX:-nvcc}" --version | tail -1
  cmake --version | head -1
  ninja --version
  c++ --version | head -1
  echo "cores $(nproc), free disk $(df -h "$REPO" | awk 'NR == 2 {print $4}')"
}

configure_step() {
  local prefix
  prefix=$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)') || return 1
  TORCH_CMAKE_PREFIX=$prefix cmake --preset gpu
}

tests_step() {
  local filter='*CudaMatchesCpu*:*MatchesReferenceOnCuda*:*FusedMatchesTiled*:ReferenceFixtures.FixturesArePresent'
  "$BUILD_DIR/tests/attnscope_engine_tests" --gtest_filter="$filter" --gtest_output="xml:$OUTDIR/tests.xml"
}

ceilings_step() {
  "$PYTHON" - "$DEVICE" <<'EOF'
import sys, time, torch
device = torch.device(sys.argv[1])
def clock(f, repeats=5):
    f()
    if device.type == "cuda": torch.cuda.synchronize()
    best = 1e30
    for _ in range(repeats):
        t0 = time.perf_counter(); f()
        if device.type == "cuda": torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best
n = 8192 if device.type == "cuda" else 1024
dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
t = clock(lambda: a @ b)
print(f"matmul {n}^3 {dtype}: {2 * n**3 / t / 1e12:.1f} TFLOP/s")
size = (2**30 if device.type == "cuda" else 2**26)
src = torch.randn(size // 4, device=device)
dst = torch.empty_like(src)
t = clock(lambda: dst.copy_(src))
print(f"device copy {size / 2**20:.0f} MiB: {2 * size / t / 1e12:.2f} TB/s (read + write)")
EOF
}

bench_ours() { # SHAPE
  rm -rf "$WORK"
  "$BUILD_DIR/cli/attnscope-cli" bench --shape "$1" ${LAYERS:+--layers "$LAYERS"} --tokens "$TOKENS" --device "$DEVICE" \
    --dtype "$DTYPE" --repeats "$REPEATS" --paths "$PATHS" --work "$WORK" --json "$OUTDIR/attnscope-$1.json"
  local rc=$?
  rm -rf "$WORK"
  return $rc
}

bench_eager() { # SHAPE
  # Ascending: the eager reference stops at the first N that runs out of memory and marks the longer ones.
  local ascending
  ascending=$(tr ',' '\n' <<<"$TOKENS" | sort -n | paste -sd,)
  "$PYTHON" bench/eager_reference.py --shape "$1" ${LAYERS:+--layers "$LAYERS"} --tokens "$ascending" --device "$DEVICE" \
    --dtype "$DTYPE" --repeats "$REPEATS" --json "$OUTDIR/eager-$1.json"
}

report_step() {
  local ours=() eager=() f
  for f in "$OUTDIR"/attnscope-*.json; do [ -f "$f" ] && ours+=("$f"); done
  for f in "$OUTDIR"/eager-*.json; do [ -f "$f" ] && eager+=("$f"); done
  [ ${#ours[@]} -gt 0 ] || { echo "no attnscope bench JSON (see the bench-*.log files for partial rows)"; return 1; }
  # report.py reads one attnscope JSON: join the per-shape files' rows into one.
  "$PYTHON" - "$OUTDIR/attnscope-all.json" "${ours[@]}" <<'EOF'
import json, sys
files = [json.load(open(p)) for p in sys.argv[2:]]
joined = dict(files[0]); joined["rows"] = [row for f in files for row in f["rows"]]
json.dump(joined, open(sys.argv[1], "w"), indent=1)
EOF
  "$PYTHON" bench/report.py "$OUTDIR/attnscope-all.json" "${eager[@]}" | tee "$OUTDIR/report-gpu.md"
}

export -f env_step configure_step tests_step ceilings_step bench_ours bench_eager report_step

if ! command -v nvcc >/dev/null && [ -z "${CUDACXX:-}" ] && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc # PyTorch's CMake config enables the CUDA language
fi
command -v ccache >/dev/null && export CMAKE_CXX_COMPILER_LAUNCHER=ccache

echo "gpu-check: $([ $DRY -eq 1 ] && echo 'CPU DRY RUN, tiny sizes' || echo 'GPU') -> $OUTDIR, deadline ${DEADLINE_S} s"
run_step env 20 env_step
built=0
if run_step configure 90 configure_step &&
  run_step build 300 cmake --build "$BUILD_DIR" --target attnscope-cli attnscope_engine_tests -j "$JOBS"; then
  built=1
fi
if [ $built -eq 1 ]; then
  run_step tests 120 tests_step
  run_step ceilings 30 ceilings_step
  for shape in diff-3b softmax-3b cope-3b; do
    budget_ours=120 budget_eager=45
    [ "$shape" = diff-3b ] && budget_ours=240 budget_eager=60
    run_step "bench-$shape" "$budget_ours" bench_ours "$shape"
    rm -rf "$WORK" # also after a timeout
    run_step "eager-$shape" "$budget_eager" bench_eager "$shape"
  done
fi
RESERVE=0
run_step report 15 report_step

{
  echo "# gpu-check $(date -u +%Y-%m-%dT%H:%MZ) $([ $DRY -eq 1 ] && echo '(CPU dry run, tiny sizes)')"
  echo
  echo "| step | result | time |"
  echo "|---|---|---|"
  printf '%s\n' "${results[@]}"
  echo
  echo "total $(($(date +%s) - START)) s of ${DEADLINE_S} s"
  echo
  grep -h -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ test' "$OUTDIR/tests.log" 2>/dev/null
  grep -h -E '^\[  FAILED  \] .*\(' "$OUTDIR/tests.log" 2>/dev/null
  [ -f "$OUTDIR/build.log" ] && echo "build warnings: $(grep -c 'warning:' "$OUTDIR/build.log")"
  [ -f "$OUTDIR/ceilings.log" ] && cat "$OUTDIR/ceilings.log"
  echo
  [ -f "$OUTDIR/report-gpu.md" ] && cat "$OUTDIR/report-gpu.md"
  for shape in diff-3b softmax-3b cope-3b; do # rows of a bench cut short before it wrote its JSON
    if [ -f "$OUTDIR/bench-$shape.log" ] && [ ! -f "$OUTDIR/attnscope-$shape.json" ]; then
      echo
      echo "bench-$shape (cut short; rows it printed):"
      grep -E "^$shape" "$OUTDIR/bench-$shape.log"
    fi
  done
} >"$SUMMARY"
echo
cat "$SUMMARY"
