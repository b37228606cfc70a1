#!/usr/bin/env bash
# Tomato Salad LLM-PPO with a larger policy step than common.sh (lr_actor 1e-3, 2 epochs), 2 seeds side by
# side, 1536 decisions: does the curve move when the policy is allowed to? Writes runs/results/oc-big-s*.
# Usage (from the repo root): bash docs/results/overcooked/larger_step.sh
set -euo pipefail
source docs/results/common.sh
for s in 1 2; do
  $AR run --config overcooked-tomato-salad --name oc-big-s$s --seed $s --set env.seed=$s --total-decisions 1536 "${LR[@]}" \
    --set run.num_steps=16 --set ppo.lr_actor=1e-3 --set ppo.update_epochs=2 &
done
for pid in $(jobs -p); do wait "$pid"; done  # a plain `wait` would hide a failed run from set -e
mkdir -p runs/results/overcooked-big docs/results/overcooked/larger_step
for s in 1 2; do cp runs/results/oc-big-s$s/episodes.jsonl runs/results/overcooked-big/llm-ppo-s$s.jsonl; done
python docs/results/overcooked/plot.py runs/results/overcooked-big docs/results/overcooked/larger_step
