#!/usr/bin/env bash
# BabyAI-Text GoToLocal: random, zero-shot and trained (default model) on the same 12 seeds.
# Usage: bash docs/results/babyai/run.sh [DECISIONS]
set -euo pipefail
source docs/results/common.sh
N=${1:-1024}; OUT=docs/results/babyai
$AR eval --config babyai-gotolocal --episodes 12 --policy random --policy zero-shot --json $OUT/eval-before.json
$AR run --config babyai-gotolocal --name babyai-gotolocal --total-decisions $N "${LR[@]}" --set run.num_steps=16
$AR eval --config babyai-gotolocal --episodes 12 --policy checkpoint --checkpoint runs/results/babyai-gotolocal --json $OUT/eval-after.json
# The same seeds with sampled actions (greedy decoding of a near-uniform policy repeats one action).
$AR eval --config babyai-gotolocal --episodes 12 --sample --policy random --policy zero-shot --policy checkpoint \
  --checkpoint runs/results/babyai-gotolocal --json $OUT/eval-sampled.json
