#!/usr/bin/env bash
# Tomato-Lettuce Salad (issue 13): LLM-PPO with the configs' recipe (T6m) against PPO-MLP and random, 3 seeds.
# Usage (from the repo root): bash docs/results/overcooked/lettuce/run.sh [DECISIONS]
# The LLM runs go three side by side, one torch thread each; the baselines run first (seconds to minutes).
set -euo pipefail
source docs/results/common.sh
N=${1:-1536}; OUT=docs/results/overcooked/lettuce; LOGS=runs/lettuce; mkdir -p $LOGS
CFG=overcooked-tomato-lettuce-salad
for s in 1 2 3; do
  [ -s $LOGS/random-s$s.jsonl ] || python -m agent_runtime.baselines random --config $CFG --decisions 30000 --seed $s --out $LOGS/random-s$s.jsonl
  [ -s $LOGS/ppo-mlp-s$s.jsonl ] || python -m agent_runtime.baselines ppo-mlp --config $CFG --decisions 30000 --seed $s --out $LOGS/ppo-mlp-s$s.jsonl
done
llm_seeds $CFG "$N" $LOGS 1 2 3
python docs/results/overcooked/plot.py $LOGS $OUT "Tomato-Lettuce Salad"
