#!/usr/bin/env bash
# Tomato Salad learning curves: LLM-PPO (default model), PPO-MLP, SayCan, random; 3 seeds each.
# Usage: bash docs/results/overcooked/run.sh [LLM_DECISIONS] [MLP_DECISIONS]   (from the repo root)
set -euo pipefail
source docs/results/common.sh
LLM=${1:-1024}; MLP=${2:-30000}
OUT=docs/results/overcooked; LOGS=runs/results/overcooked; mkdir -p $LOGS
for s in 1 2 3; do
  [ -s $LOGS/random-s$s.jsonl ] || python -m agent_runtime.baselines random --config overcooked-tomato-salad --decisions $MLP --seed $s --out $LOGS/random-s$s.jsonl
  [ -s $LOGS/ppo-mlp-s$s.jsonl ] || python -m agent_runtime.baselines ppo-mlp --config overcooked-tomato-salad --decisions $MLP --seed $s --out $LOGS/ppo-mlp-s$s.jsonl
done
for s in 1 2 3; do
  $AR run --config overcooked-tomato-salad --name oc-llm-s$s --seed $s --set env.seed=$s --total-decisions $LLM "${LR[@]}" --set run.num_steps=16
  cp runs/results/oc-llm-s$s/episodes.jsonl $LOGS/llm-ppo-s$s.jsonl
  python -m agent_runtime.baselines saycan --config overcooked-tomato-salad --decisions $LLM --seed $s --out $LOGS/saycan-s$s.jsonl
done
python docs/results/overcooked/plot.py $LOGS $OUT
