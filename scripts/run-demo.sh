#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The main job: install, build (Release), create a small seeded diff+CoPE demo model (trained bundled models
# come with issue 4), compute every map of every head with the CLI, then open the desktop app on it.
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
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec build/release/app/attnscope "$DEMO/model" --prompt "Alice was tired. She tried reading. A rabbit came."
else
  echo "no display: the desktop app needs one (or run it under xvfb-run); saving a headless screenshot instead"
  QT_QPA_PLATFORM=offscreen build/release/app/attnscope "$DEMO/model" --screenshot "$DEMO/attnscope.png" \
    --prompt "Alice was tired. She tried reading. A rabbit came."
  echo "screenshot: $DEMO/attnscope.png"
fi
