#!/usr/bin/env bash
# Tomato-Lettuce Salad (issue 13): LLM-PPO with the configs' recipe (T6m) against PPO-MLP and random, 3 seeds.
# Usage (from the repo root): bash docs/results/overcooked/lettuce/run.sh [DECISIONS]
# The LLM runs go three side by side, one torch thread each; the baselines run first (seconds to minutes).
set -euo pipefail
N=${1:-1536}; OUT=docs/results/overcooked/lettuce; LOGS=runs/lettuce; mkdir -p $LOGS
CFG=overcooked-tomato-lettuce-salad
for s in 1 2 3; do
  [ -s $LOGS/random-s$s.jsonl ] || python -m agent_runtime.baselines random --config $CFG --decisions 30000 --seed $s --out $LOGS/random-s$s.jsonl
  [ -s $LOGS/ppo-mlp-s$s.jsonl ] || python -m agent_runtime.baselines ppo-mlp --config $CFG --decisions 30000 --seed $s --out $LOGS/ppo-mlp-s$s.jsonl
done
pids=()
for s in 1 2 3; do
  python -m agent_runtime.cli run --config $CFG --name llm-s$s --seed $s --set env.seed=$s --total-decisions "$N" \
    --set run.output_dir=$LOGS --set run.progress=false --set model.threads=1 --set checkpoint.every=4 \
    > $LOGS/llm-s$s.log 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
for s in 1 2 3; do cp $LOGS/llm-s$s/episodes.jsonl $LOGS/llm-ppo-s$s.jsonl; done
python docs/results/overcooked/plot.py $LOGS $OUT "Tomato-Lettuce Salad"
