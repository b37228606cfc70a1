#!/usr/bin/env bash
# Generalisation and general ability (issue 18): the commands that made the tables in README.md here.
# Run from the repo root. CPU, shared machine: everything at nice 19 on one torch thread; small budgets.
set -euo pipefail
export OMP_NUM_THREADS=1
AR="nice -n 19 python -m agent_runtime.cli"
OUT=docs/results/generalisation
S=(--set run.output_dir=runs/generalisation --set run.progress=false --set model.threads=1 --set checkpoint.every=0 --set checkpoint.keep=1)

# 1. Food Preparation (TWOSOME): 192 decisions of LLM-PPO with the default model and the config's own recipe
#    (the first update trains the critic only, so 2 actor updates), then the family: the trained task and its
#    six unseen variants. The kitchen is deterministic: a greedy policy gives the same episode every time,
#    so one greedy episode per cell is the exact greedy figure; random gets 20 episodes of its own.
$AR run --config virtualhome-food-preparation --name vh-food-preparation --total-decisions 192 "${S[@]}"
$AR eval --suite generalisation --checkpoint runs/generalisation/vh-food-preparation --episodes 1 \
  --policy zero-shot --policy checkpoint --json $OUT/vh-greedy.json | tee $OUT/vh-greedy.txt
$AR eval --suite generalisation --checkpoint runs/generalisation/vh-food-preparation --episodes 20 \
  --policy random --json $OUT/vh-random.json | tee $OUT/vh-random.txt
$AR eval --suite general-ability --checkpoint runs/generalisation/vh-food-preparation \
  --json $OUT/vh-general-ability.json | tee $OUT/vh-general-ability.txt

# 2. The toy task (pick the door the prompt names, 4 doors) with the default model: 128 decisions of PPO
#    (2 updates of 8 envs x 8 steps, lr 1e-3, 2 epochs), then its family (door -> box, open -> unlock, both)
#    on 32 seeds, greedy, and the general-ability suite on the same checkpoint.
$AR run --config toy --name toy-default --total-decisions 128 "${S[@]}" --set model.name=smollm2-135m-instruct \
  --set ppo.lr_actor=1e-3 --set ppo.update_epochs=2 --set ppo.micro_batch_size=16 --set env.in_process=true
$AR eval --suite generalisation --checkpoint runs/generalisation/toy-default --episodes 32 \
  --json $OUT/toy-default.json | tee $OUT/toy-default.txt
# The same seeds with sampled actions (the zero-shot model's greedy choice is already right on the trained task).
$AR eval --suite generalisation --checkpoint runs/generalisation/toy-default --episodes 32 --sample \
  --json $OUT/toy-default-sampled.json | tee $OUT/toy-default-sampled.txt
$AR eval --suite general-ability --checkpoint runs/generalisation/toy-default \
  --json $OUT/toy-default-general-ability.json | tee $OUT/toy-default-general-ability.txt

# 3. Session 4: a checkpoint that learned: Tomato Salad seed 1 of issue 13's recipe
#    (bash docs/results/overcooked/recipe/sweep.sh T6m 1536 1 2 4 makes runs/recipe/T6m-s{1,2,4}).
$AR eval --suite generalisation --checkpoint runs/recipe/T6m-s1 --episodes 8 --sample \
  --json $OUT/salad-T6m-s1-sampled.json | tee $OUT/salad-T6m-s1-sampled.txt
for s in 1 2 4; do
  $AR eval --suite general-ability --checkpoint runs/recipe/T6m-s$s \
    --json $OUT/salad-T6m-s$s-general-ability.json | tee $OUT/salad-T6m-s$s-general-ability.txt
done

# 4. GoToLocal (session 4; the evaluation did not finish in the session, and the checkpoint never succeeded in
#    training: 12 episodes, all at the 64-step limit). The training run:
#   $AR run --config babyai-gotolocal --name babyai-gotolocal --seed 1 --total-decisions 768 --set run.num_steps=32 \
#     --set ppo.lr_actor=1e-3 --set ppo.target_kl=0.02 --set ppo.kl_stop=epoch --set lora.top_layers=6 \
#     --set "lora.target_modules=[q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj]" \
#     --set run.output_dir=runs/generalisation --set run.progress=false --set model.threads=1 --set checkpoint.every=2
#   $AR eval --suite generalisation --checkpoint runs/generalisation/babyai-gotolocal --episodes 8 --sample --json $OUT/babyai-sampled.json
#   $AR eval --suite general-ability --checkpoint runs/generalisation/babyai-gotolocal --json $OUT/babyai-general-ability.json
