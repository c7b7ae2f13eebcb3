#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The main job: install the dependencies (apt), build (Release) and open the desktop app on the bundled demo
# models (resources/models), the first one with its sample prompt already run. Without a display, the app
# renders a screenshot instead and the CLI shows what the bundled models are.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --preset release
cmake --build --preset release -j "$(nproc)"
APP=build/release/app/attnscope
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$APP" "$@"
fi
mkdir -p out/demo
for card in resources/models/*/card.md; do head -1 "$card"; grep -m1 "held-out" "$card"; done
echo "no display: the desktop app needs one (or run this under xvfb-run); saving a headless screenshot instead"
QT_QPA_PLATFORM=offscreen "$APP" "$@" --screenshot out/demo/attnscope.png
echo "screenshot: out/demo/attnscope.png"
