#!/usr/bin/env bash
# TextWorld tw-simple (configs/textworld-simple.yaml, game seed 0, 30 commands an episode):
# random, zero-shot (the default model, no adapter) and LLM-PPO (default model, LoRA), one torch thread.
# Usage: bash docs/results/textworld/run.sh   (needs: pip install 'agent-runtime[textworld]')
set -euo pipefail
OUT=docs/results/textworld
CFG=configs/textworld-simple.yaml
python -m agent_runtime.baselines random --config $CFG --decisions 512 --seed 0 --out $OUT/random.jsonl
python -m agent_runtime.baselines zero-shot --config $CFG --decisions 256 --seed 0 --out $OUT/zero-shot.jsonl \
  --set model.threads=1 --set run.progress=false
python -m agent_runtime.cli run --config $CFG --name textworld-simple-ppo --set model.threads=1 \
  --set run.progress=false --set run.output_dir=runs/results
cp runs/results/textworld-simple-ppo/{episodes.jsonl,updates.jsonl,config.yaml} $OUT/ppo/
python $OUT/summary.py
