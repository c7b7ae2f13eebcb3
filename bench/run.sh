#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One run, one machine: attnscope's paths and the PyTorch eager reference on the same shapes, then the table.
#   bench/run.sh cpu     the bundled models at 512..16K tokens, fp32, plus peak RSS per N for overviews
#   bench/run.sh gpu     the 3B-like diff / softmax / CoPE shapes at 512..64K tokens, bf16 (gpu.md)
# CLI (default build/release/cli/attnscope-cli) and PYTHON (default python3) can be overridden.
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=${CLI:-build/release/cli/attnscope-cli}
# The eager reference needs a Python with torch: Debian's python3-torch is for /usr/bin/python3, which a
# pyenv or venv python3 earlier on PATH does not see.
if [ -z "${PYTHON:-}" ]; then
  for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import torch' 2>/dev/null; then PYTHON=$candidate; break; fi
  done
  [ -n "${PYTHON:-}" ] || { echo "bench/run.sh: no python3 with torch (apt install python3-torch, or set PYTHON)" >&2; exit 2; }
fi
OUT=${OUT:-out/bench}
mkdir -p "$OUT"
case "${1:-cpu}" in
cpu)
  TOKENS=${TOKENS:-512,2048,4096}
  "$CLI" bench resources/models/* --tokens "$TOKENS" --device cpu --repeats 5 --json "$OUT/attnscope-cpu.json"
  eager=()
  for m in resources/models/*/; do
    name=$(basename "$m")
    "$PYTHON" bench/eager_reference.py --config "$m/config.json" --name "$name" --tokens "$TOKENS" --device cpu \
      --repeats 5 --json "$OUT/eager-$name.json"
    eager+=("$OUT/eager-$name.json")
  done
  "$PYTHON" bench/report.py "$OUT/attnscope-cpu.json" "${eager[@]}" | tee "$OUT/report-cpu.md"
  # Peak host memory of overview requests per N, each N in its own process (a process's peak never goes down).
  echo; echo "| N | peak RSS, overviews of every head of every layer (counting-diff-ropecope) |"; echo "|---|---|"
  for n in 2048 4096 8192 16384; do
    "$CLI" bench resources/models/counting-diff-ropecope --tokens "$n" --device cpu --repeats 1 --no-naive --paths all \
      --json "$OUT/rss-$n.json" >/dev/null 2>&1
    "$PYTHON" -c "import json,sys; r=json.load(open(sys.argv[1]))['rows'][0]['overview_all']; \
print('| $n | %.0f MiB |' % (r['peak_bytes'] / 2**20))" "$OUT/rss-$n.json"
  done
  ;;
gpu)
  TOKENS=${TOKENS:-512,4096,16384,65536}
  "$CLI" bench --shape diff-3b,softmax-3b,cope-3b --tokens "$TOKENS" --device cuda --dtype bf16 --repeats 3 \
    --json "$OUT/attnscope-gpu.json"
  eager=()
  for s in diff-3b softmax-3b cope-3b; do
    "$PYTHON" bench/eager_reference.py --shape "$s" --tokens "$TOKENS" --device cuda --dtype bf16 --repeats 3 \
      --json "$OUT/eager-$s.json"
    eager+=("$OUT/eager-$s.json")
  done
  "$PYTHON" bench/report.py "$OUT/attnscope-gpu.json" "${eager[@]}" | tee "$OUT/report-gpu.md"
  ;;
*) echo "usage: bench/run.sh cpu|gpu" >&2; exit 2 ;;
esac
