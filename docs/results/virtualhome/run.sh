#!/usr/bin/env bash
# Food Preparation: success before/after training with the default model, and the normalisation ablation
# (sum / token / word) over the same budget. Usage (from the repo root): bash docs/results/virtualhome/run.sh [DECISIONS]
# The committed eval-*.json and curves come from DECISIONS=768 (a sampled eval of 8 episodes per policy:
# the environment is deterministic, so a greedy eval would be one episode).
set -euo pipefail
source docs/results/common.sh
N=${1:-768}; OUT=docs/results/virtualhome
for norm in word token sum; do
  $AR run --config virtualhome-food-preparation --name vh-$norm --total-decisions $N "${LR[@]}" \
    --set run.num_steps=16 --set scoring.normalization=$norm
  $AR eval --config virtualhome-food-preparation --set scoring.normalization=$norm --sample --episodes 8 \
    --policy random --policy zero-shot --policy checkpoint --checkpoint runs/results/vh-$norm --json $OUT/eval-$norm.json
done
