#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The main job until the GUI lands: install, build (Release), create a small seeded diff+CoPE model and
# compute every map of every head for a prompt, then list what was written.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --preset release
cmake --build --preset release -j "$(nproc)"
CLI=build/release/cli/attnscope-cli
DEMO=out/demo
mkdir -p "$DEMO"
if [ ! -f "$DEMO/model/config.json" ]; then
  "$CLI" init "$DEMO/model" --attention diff --position rope+cope --layers 4 --d-model 256 --heads 4 --seed 1
fi
"$CLI" info "$DEMO/model" > "$DEMO/info.txt"   # (no pipe into head: pipefail would see SIGPIPE)
head -4 "$DEMO/info.txt"
"$CLI" maps "$DEMO/model" --prompt "Alice was tired. She tried reading. A rabbit came." \
  --layers all --heads all --maps all --out "$DEMO/maps" --force
echo "maps: $DEMO/maps/maps.json and $(ls "$DEMO/maps" | grep -c '\.npy$') .npy files (float32, row = query, column = key, NaN = masked)"
