#!/usr/bin/env bash
# Tomato Salad learning curves: LLM-PPO (default model), PPO-MLP, SayCan, random; 3 seeds each.
# Usage (from the repo root): bash docs/results/overcooked/run.sh
# This is the sequence that produced curves.png / summary.json: the LLM runs were trained to 256
# decisions, resumed from their checkpoints to 768, then to 1536 and 3072 (--resume auto keeps the step count;
# seed 3's run had been stopped after its 256-decision checkpoint, and the resume dropped its later logs).
set -euo pipefail
source docs/results/common.sh
OUT=docs/results/overcooked; LOGS=runs/results/overcooked; mkdir -p $LOGS
for s in 1 2 3; do
  [ -s $LOGS/random-s$s.jsonl ] || python -m agent_runtime.baselines random --config overcooked-tomato-salad --decisions 30000 --seed $s --out $LOGS/random-s$s.jsonl
  [ -s $LOGS/ppo-mlp-s$s.jsonl ] || python -m agent_runtime.baselines ppo-mlp --config overcooked-tomato-salad --decisions 30000 --seed $s --out $LOGS/ppo-mlp-s$s.jsonl
done
for s in 1 2 3; do
  for n in 256 768 1536 3072; do
    $AR run --config overcooked-tomato-salad --name oc-llm-s$s --seed $s --set env.seed=$s --total-decisions $n "${LR[@]}" \
      --set run.num_steps=16 --resume auto
  done
  cp runs/results/oc-llm-s$s/episodes.jsonl $LOGS/llm-ppo-s$s.jsonl
done
for s in 1 2 3; do
  python -m agent_runtime.baselines saycan --config overcooked-tomato-salad --decisions 1024 --seed $s --out $LOGS/saycan-s$s.jsonl
done
python docs/results/overcooked/plot.py $LOGS $OUT
