#!/usr/bin/env bash
# Crafter (issue 13, RLAdapter's claim): LLM-PPO with and without RLAdapter guidance at the same budget, with
# the task configs' learning recipe ("T6m", configs/overcooked-tomato-salad.yaml), then random, zero-shot, PPO
# and PPO+guidance evaluated on the same sampled episodes (same seeds), 300 primitive steps each.
# Usage (from the repo root): bash docs/results/crafter/guidance.sh [DECISIONS] [EPISODES]
# The two trainings run side by side, then the evaluations; one torch thread each, nice 5.
# A step whose output exists is skipped (rerun to finish a cut run). Wall times go to runs/crafter/times.txt.
set -euo pipefail
N=${1:-512}; EPISODES=${2:-24}
OUT=docs/results/crafter; RUNS=runs/crafter; mkdir -p $RUNS
AR="nice -n 5 python -m agent_runtime.cli"
export OMP_NUM_THREADS=1
COMMON=(--set env.options.max_steps=300 --set model.threads=1 --set run.progress=false)
# The recipe (T6m): LoRA on every linear layer of the top 6 layers, 4 envs x 32 skills an update, 4 epochs of
# minibatches of 16, a fixed actor rate 5e-4 on raw advantages, each epoch stopped past approx-KL 0.02, the first
# update training the critic only.
LORA=(--set lora.top_layers=6 --set "lora.target_modules=[q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj]")
RECIPE=("${LORA[@]}" --set run.num_steps=32 --set ppo.update_epochs=4 --set ppo.minibatch_size=16 --set ppo.micro_batch_size=16
        --set ppo.lr_actor=5e-4 --set ppo.lr_critic=1e-3 --set ppo.anneal_lr=false --set ppo.kl_stop=epoch
        --set ppo.target_kl=0.02 --set ppo.value_warmup_updates=1 --set ppo.norm_adv=false
        --set run.output_dir=$RUNS --set checkpoint.every=0 --set checkpoint.keep=1)
# RLAdapter's loop inside the budget: a query every 32 decisions of an environment, an adapter SFT round every
# 2 updates.
GUIDE=(--set guidance.every=32 --set guidance.sft_every=2)
E=(--episodes "$EPISODES" --sample "${COMMON[@]}")  # a checkpoint's evaluation also needs its LoRA layout (LORA)

timed() {  # timed NAME COMMAND...: run it, log to $RUNS/NAME.log, append its wall time to $RUNS/times.txt
  local name=$1; shift; local t0=$SECONDS
  "$@" > $RUNS/$name.log 2>&1
  echo "$name $((SECONDS - t0)) s" | tee -a $RUNS/times.txt
}
done_ckpt() { compgen -G "$RUNS/$1/checkpoints/step-*" > /dev/null; }

pids=()
done_ckpt ppo-$N || { timed train-ppo-$N $AR run --config crafter --name ppo-$N --total-decisions "$N" \
  "${COMMON[@]}" "${RECIPE[@]}" & pids+=($!); }
done_ckpt guided-$N || { timed train-guided-$N $AR run --config crafter-guided --name guided-$N --total-decisions "$N" \
  "${COMMON[@]}" "${RECIPE[@]}" "${GUIDE[@]}" & pids+=($!); }
for pid in "${pids[@]}"; do wait "$pid"; done

# The evaluations side by side (random is cheap).
pids=()
[ -s $OUT/eval-baselines.json ] || { timed eval-baselines $AR eval --config crafter "${E[@]}" --policy random \
  --policy zero-shot --json $OUT/eval-baselines.json & pids+=($!); }
[ -s $OUT/eval-ppo-$N.json ] || { timed eval-ppo-$N $AR eval --config crafter "${E[@]}" "${LORA[@]}" \
  --policy checkpoint --checkpoint $RUNS/ppo-$N --json $OUT/eval-ppo-$N.json & pids+=($!); }
# DEBUG: the log holds each guide reply (agent_runtime.guidance), one line each (COLUMNS: no wrapping).
[ -s $OUT/eval-guided-$N.json ] || { COLUMNS=4000 timed eval-guided-$N $AR --log-level DEBUG eval --config crafter-guided \
  "${E[@]}" "${LORA[@]}" "${GUIDE[@]}" --policy checkpoint --checkpoint $RUNS/guided-$N \
  --json $OUT/eval-guided-$N.json & pids+=($!); }
for pid in "${pids[@]}"; do wait "$pid"; done
PYTHONPATH=. python docs/results/crafter/table.py $OUT/eval-baselines.json $OUT/eval-ppo-$N.json $OUT/eval-guided-$N.json \
  --updates $RUNS/guided-$N/updates.jsonl --runs $RUNS/ppo-$N $RUNS/guided-$N --guide-log $RUNS/eval-guided-$N.log \
  | tee $OUT/table-$N.md
