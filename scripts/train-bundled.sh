#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Trains the bundled demo models into resources/models/<name>/ and writes each model's card.md (the exact
# command, seed, steps, wall time, device, held-out accuracy). CPU-sized: a few minutes per model on 2 cores.
# Usage: scripts/train-bundled.sh [NAME ...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=${CLI:-build/release/cli/attnscope-cli}
OUT=resources/models
mkdir -p "$OUT" out/train

COUNTING=(--task counting --vars 3 --max-steps 24 --max-seq-len 128)
NEEDLES=(--task needles --context-words 48 --needles 3 --queried 1)
declare -A MODELS=(
  [counting-softmax-rope]="${COUNTING[*]} --attention softmax --position rope --layers 2 --d-model 64 --heads 4"
  [counting-softmax-cope]="${COUNTING[*]} --attention softmax --position cope --layers 2 --d-model 64 --heads 4"
  [counting-diff-ropecope]="${COUNTING[*]} --attention diff --position rope+cope --layers 2 --d-model 64 --heads 2"
  [needles-softmax-rope]="${NEEDLES[*]} --attention softmax --position rope --layers 2 --d-model 64 --heads 4 --max-seq-len 160"
  [needles-diff-rope]="${NEEDLES[*]} --attention diff --position rope --layers 2 --d-model 64 --heads 2 --max-seq-len 160"
)
COMMON="--steps ${STEPS:-3000} --batch 32 --lr 3e-3 --warmup 100 --eval-every 500 --eval-samples 256 --seed 1 --device cpu"
# A model counts as learned (and is bundled) at this held-out accuracy or better.
MIN_ACCURACY=${MIN_ACCURACY:-0.8}

names=("$@")
[ ${#names[@]} -eq 0 ] && names=(counting-softmax-rope counting-softmax-cope counting-diff-ropecope needles-softmax-rope needles-diff-rope)
for name in "${names[@]}"; do
  args=${MODELS[$name]}
  work=out/train/$name
  rm -rf "$work"
  start=$(date +%s)
  # shellcheck disable=SC2086
  "$CLI" train $args $COMMON --out "$work" | tail -3
  seconds=$(( $(date +%s) - start ))
  task=$(echo "$args" | sed -E 's/.*--task ([a-z-]+).*/\1/')
  taskargs=$(echo "$args" | grep -oE -- '--(vars|max-steps|context-words|needles|queried) [0-9]+' | tr '\n' ' ')
  # shellcheck disable=SC2086
  evaltext=$("$CLI" eval "$work" --task "$task" $taskargs --samples 1000 --seed 424242)
  accuracy=$(echo "$evaltext" | grep -oE 'accuracy[^0-9]*[0-9.]+' | head -1 | grep -oE '[0-9.]+$')
  echo "$name: $evaltext"
  if awk "BEGIN{exit !($accuracy >= $MIN_ACCURACY)}"; then
    rm -rf "${OUT:?}/$name" && mkdir -p "$OUT/$name"
    cp "$work"/config.json "$work"/model.safetensors "$work"/vocab.txt "$work"/train.json "$OUT/$name/"
    "$CLI" task "$task" $taskargs --count 1 --seed 7 --text > "$OUT/$name/sample_prompt.txt"
    # eval.json: what tests/test_bundled_models.cpp re-checks (task, options, seed, accuracy).
    options=$(echo "$taskargs" | sed -E 's/--([a-z-]+) ([0-9]+)/"\1": \2,/g; s/-/_/g; s/, *$//')
    printf '{"task": "%s", "options": {%s}, "seed": 424242, "samples": 1000, "accuracy": %s}\n' \
      "$task" "$options" "$accuracy" > "$OUT/$name/eval.json"
    cat > "$OUT/$name/card.md" <<CARD
# $name

Trained by attnscope's own trainer on the synthetic \`$task\` task (docs/tasks.md).

- command: \`attnscope-cli train $args $COMMON --out DIR\`
- seed: 1; steps: ${STEPS:-3000}; wall time: ${seconds} s; device: cpu (2 cores), LibTorch $("$CLI" --version | sed 's/.*LibTorch //')
- parameters: $("$CLI" info "$OUT/$name" --json | grep -m1 '"parameters"' | grep -oE '[0-9]+')
- held-out evaluation (1000 samples, generator seed 424242): $evaltext
- training log: train.json (losses, periodic held-out accuracy)
CARD
  else
    echo "$name did not learn (accuracy $accuracy < $MIN_ACCURACY): not bundled"
  fi
done
