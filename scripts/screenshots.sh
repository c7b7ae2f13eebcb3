#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Renders the README's screenshots headless (Qt offscreen platform) into docs/img/.
# Uses seeded random demo models until the trained bundled models land (issue 4).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
CLI=build/release/cli/attnscope-cli
APP=build/release/app/attnscope
WORK=out/screenshots
mkdir -p "$WORK" docs/img
[ -f "$WORK/diff-ropecope/config.json" ] || "$CLI" init "$WORK/diff-ropecope" --attention diff --position rope+cope --layers 4 --d-model 256 --heads 4 --seed 1
[ -f "$WORK/softmax-cope/config.json" ] || "$CLI" init "$WORK/softmax-cope" --attention softmax --position cope --layers 4 --d-model 256 --heads 8 --seed 1
PROMPT="Alice was tired. She tried reading. A rabbit came."
QT_QPA_PLATFORM=offscreen "$APP" "$WORK/diff-ropecope" --prompt "$PROMPT" --screenshot docs/img/main-diff-ropecope.png
QT_QPA_PLATFORM=offscreen "$APP" "$WORK/softmax-cope" --prompt "$PROMPT" --screenshot docs/img/main-softmax-cope.png
ls -l docs/img
