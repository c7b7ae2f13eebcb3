#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Renders the README's screenshots headless (Qt offscreen platform) into docs/img/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${APP:-}" ]]; then # APP=path/to/attnscope skips the release build (e.g. a dev build)
  scripts/install-deps.sh
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)"
fi
APP=${APP:-build/release/app/attnscope}
mkdir -p docs/img
# The bundled models, as a first-time user sees them, and the Compare tab on the needles pair.
QT_QPA_PLATFORM=offscreen "$APP" --screenshot docs/img/main-bundled.png
QT_QPA_PLATFORM=offscreen "$APP" resources/models/needles-softmax-rope resources/models/needles-diff-rope --compare \
  --prompt "$(cat resources/models/needles-diff-rope/sample_prompt.txt)" --screenshot docs/img/compare-needles.png
# The Maps and Compare tabs on a 1280x800 laptop screen and a 1920x1080 desktop: real X screens of that size
# (Xvfb), so the window and its docks are laid out as a user's would be. A fresh settings folder per shot: no saved
# window state of a previous shot leaks in.
APP=${APP:-build/release/app/attnscope}
for size in 1280x800 1920x1080; do
  w=${size%x*}; h=${size#*x}
  XDG_CONFIG_HOME=$(mktemp -d) xvfb-run -a -s "-screen 0 ${w}x${h}x24" "$APP" resources/models/counting-diff-ropecope \
    --screenshot "docs/img/maps-${size}.png"
  XDG_CONFIG_HOME=$(mktemp -d) xvfb-run -a -s "-screen 0 ${w}x${h}x24" "$APP" resources/models/needles-softmax-rope \
    resources/models/needles-diff-rope --compare --prompt "$(cat resources/models/needles-diff-rope/sample_prompt.txt)" \
    --screenshot "docs/img/compare-${size}.png"
done
ls -l docs/img
