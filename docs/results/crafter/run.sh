#!/usr/bin/env bash
# Crafter (skills, 300-step episodes): random, zero-shot LLM, LLM-PPO, LLM-PPO with RLAdapter guidance.
# Crafter score (geometric mean of the 22 achievements' success rates, in %) and reward on 6 seeds.
# Usage: bash docs/results/crafter/run.sh [DECISIONS]
set -euo pipefail
source docs/results/common.sh
N=${1:-256}; OUT=docs/results/crafter
E=(--set env.options.max_steps=300 --episodes 6)
$AR eval --config crafter "${E[@]}" --sample --policy random --policy zero-shot --json $OUT/eval-before.json
$AR run --config crafter --name crafter-ppo --total-decisions $N "${LR[@]}" --set run.num_steps=16 --set env.options.max_steps=300
$AR eval --config crafter "${E[@]}" --sample --policy checkpoint --checkpoint runs/results/crafter-ppo --json $OUT/eval-ppo.json
# Guidance with the config's SFT schedule (every 10 updates: no SFT round within 4 updates), then with an
# adapter SFT round every 2 updates (RLAdapter's full loop).
$AR run --config crafter-guided --name crafter-guided --total-decisions $N "${LR[@]}" --set run.num_steps=16 \
  --set env.options.max_steps=300 --set guidance.every=32
$AR eval --config crafter-guided "${E[@]}" --sample --set guidance.every=32 --policy checkpoint \
  --checkpoint runs/results/crafter-guided --json $OUT/eval-guided.json
$AR run --config crafter-guided --name crafter-guided-sft --total-decisions $N "${LR[@]}" --set run.num_steps=16 \
  --set env.options.max_steps=300 --set guidance.every=32 --set guidance.sft_every=2
$AR eval --config crafter-guided "${E[@]}" --sample --set guidance.every=32 --policy checkpoint \
  --checkpoint runs/results/crafter-guided-sft --json $OUT/eval-guided-sft.json
