#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Creates (once) the Python virtual environment that holds the ORACLES attnscope is checked against:
# Hugging Face transformers and tokenizers (they generate the committed fixtures under tests/data/hf/),
# and PyTorch 2.x from PyPI, whose wheel also carries a CUDA LibTorch for the `gpu` preset
# (scripts/check-torch2.sh). None of this is a runtime need of attnscope, and CI does not need it:
# the fixtures it generates are committed.
#
# Usage: scripts/oracle-venv.sh            # prints the venv's path on its last line
#        ATTNSCOPE_VENV=/some/dir scripts/oracle-venv.sh
# The default location is .venv/ in the repository root (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${ATTNSCOPE_VENV:-$PWD/.venv}"
# Pinned so that regenerated fixtures are reproducible; bump together and regenerate.
PACKAGES=(torch==2.15.0 transformers==5.24.0 tokenizers==0.23.3 safetensors numpy accelerate==1.15.0)

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import torch, transformers, tokenizers, accelerate" 2>/dev/null; then
  echo "$VENV"
  exit 0
fi

PY=""
for cand in /usr/bin/python3 python3; do
  if command -v "$cand" >/dev/null && "$cand" -c "import venv, ensurepip" 2>/dev/null; then PY="$cand"; break; fi
done
if [ -z "$PY" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv
  PY=/usr/bin/python3
fi

"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "${PACKAGES[@]}"
"$VENV/bin/python" -c "import torch, transformers, tokenizers; print('oracle-venv: torch', torch.__version__, \
'transformers', transformers.__version__, 'tokenizers', tokenizers.__version__)" >&2
echo "$VENV"
