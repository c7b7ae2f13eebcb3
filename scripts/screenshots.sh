#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Renders the README's screenshots headless (Qt offscreen platform) into docs/img/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
APP=build/release/app/attnscope
mkdir -p docs/img
# The bundled models, as a first-time user sees them, and the Compare tab on the needles pair.
QT_QPA_PLATFORM=offscreen "$APP" --screenshot docs/img/main-bundled.png
QT_QPA_PLATFORM=offscreen "$APP" resources/models/needles-softmax-rope resources/models/needles-diff-rope --compare \
  --prompt "$(cat resources/models/needles-diff-rope/sample_prompt.txt)" --screenshot docs/img/compare-needles.png
ls -l docs/img
