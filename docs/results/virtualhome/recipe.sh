#!/usr/bin/env bash
# Food Preparation with the configs' learning recipe (issue 13, "T6m"): the sum / token / word ablation at the
# budget of run.sh (768 decisions: 6 updates of 4 envs x 32), and token with a 30% uniform exploration mixture
# (ppo.explore_eps; the model's prior on the solution is below uniform, prior.py). Then a sampled evaluation of
# 8 episodes per policy on the same seeds. Runs go two side by side, one torch thread each.
# Usage (from the repo root): bash docs/results/virtualhome/recipe.sh [DECISIONS]
set -euo pipefail
N=${1:-768}; OUT=docs/results/virtualhome; LOGS=runs/vh-recipe; mkdir -p $LOGS
CFG=virtualhome-food-preparation
COMMON=(--total-decisions "$N" --set run.output_dir=$LOGS --set run.progress=false --set model.threads=1
        --set checkpoint.every=0)
train() {  # NAME NORM [--set ...]
  local name=$1 norm=$2; shift 2
  python -m agent_runtime.cli run --config $CFG --name "$name" "${COMMON[@]}" --set scoring.normalization="$norm" "$@" \
    > $LOGS/"$name".log 2>&1
}
evaluate() {  # NAME NORM
  python -m agent_runtime.cli eval --config $CFG --set scoring.normalization="$2" --sample --episodes 8 \
    --policy random --policy zero-shot --policy checkpoint --checkpoint $LOGS/"$1" --json $OUT/recipe-"$1".json
}
train word word & train token token & wait
train sum sum & train token-explore token --set ppo.explore_eps=0.3 & wait
for r in "word word" "token token" "sum sum" "token-explore token"; do evaluate $r; done
