#!/usr/bin/env bash
# BabyAI-Text GoToLocal (issue 13): LLM-PPO with the configs' recipe against GLAM's symbolic baseline (PPO-MLP on
# minigrid's symbolic observation: the 7x7x3 egocentric view and the direction, the same six actions) and random.
# Usage (from the repo root): bash docs/results/babyai/gotolocal.sh [LLM_DECISIONS] [LLM_SEEDS...]
# The baselines run first (a minute or two each); the LLM runs go side by side, one torch thread each.
set -euo pipefail
source docs/results/common.sh
N=${1:-1536}; shift || true; SEEDS=("${@:-1}")
OUT=docs/results/babyai; LOGS=runs/babyai; mkdir -p $LOGS
CFG=babyai-gotolocal
for s in 1 2 3; do
  [ -s $LOGS/random-s$s.jsonl ] || python -m agent_runtime.baselines random --config $CFG --decisions 30000 --seed $s --out $LOGS/random-s$s.jsonl
  [ -s $LOGS/ppo-mlp-s$s.jsonl ] || python -m agent_runtime.baselines ppo-mlp --config $CFG --decisions 30000 --seed $s --out $LOGS/ppo-mlp-s$s.jsonl
done
# The zero-shot model (sampling, no training), a shorter budget: every decision is an LLM forward.
[ -s $LOGS/zero-shot-s1.jsonl ] || python -m agent_runtime.baselines zero-shot --config $CFG --decisions 768 --seed 1 \
  --set model.threads=1 --out $LOGS/zero-shot-s1.jsonl
llm_seeds $CFG "$N" $LOGS "${SEEDS[@]}"
python docs/results/overcooked/plot.py $LOGS $OUT "BabyAI GoToLocal"
# The last checkpoint on the 12 fixed evaluation seeds of run.sh's eval-sampled.json (random, zero-shot there).
for s in "${SEEDS[@]}"; do
  python -m agent_runtime.cli eval --config $CFG --episodes 12 --sample --policy checkpoint --checkpoint $LOGS/llm-s$s \
    --set model.threads=2 --json $OUT/eval-recipe-s$s.json
done
