#!/usr/bin/env bash
# Tomato Salad learning-recipe sweep (issue 13): one named configuration, several seeds, two runs side by side,
# one torch thread each. Checkpoints every 2 updates (128 decisions) so that eval.py can evaluate the policy
# along the run on fixed seeds.
# Usage (from the repo root): bash docs/results/overcooked/recipe/sweep.sh NAME DECISIONS SEED... 
#   NAME is one of the configurations below; runs go to runs/recipe/NAME-s<seed>.
set -euo pipefail
name=$1; decisions=$2; shift 2
base=(--set ppo.lr_critic=1e-3 --set ppo.minibatch_size=32 --set ppo.micro_batch_size=16 --set run.num_steps=16)
# the fast path: LoRA on every linear layer of the top 6 layers only (lora.top_layers)
FAST=(--set lora.top_layers=6 --set "lora.target_modules=[q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj]")
case $name in
  # the "larger step": fixed lr 1e-3, 2 epochs, KL stop 0.05 per minibatch, linear anneal
  big) cfg=(--set ppo.lr_actor=1e-3 --set ppo.update_epochs=2 --set ppo.target_kl=0.05) ;;
  # A: adaptive actor lr toward KL 3e-3 per update (x/÷1.5), 2 epochs with a per-epoch KL stop at 0.02,
  #    1 critic-only warm-up update, no anneal
  A) cfg=(--set ppo.lr_actor=1e-3 --set ppo.update_epochs=2 --set ppo.target_kl=0.02 --set ppo.kl_stop=epoch
          --set ppo.kl_target=0.003 --set ppo.lr_actor_max=5e-3 --set ppo.value_warmup_updates=1 --set ppo.anneal_lr=false) ;;
  # A3: A with the actor starting at 3e-4 (the first policy step of A overshot the KL target 10x)
  A3) cfg=(--set ppo.lr_actor=3e-4 --set ppo.update_epochs=2 --set ppo.target_kl=0.02 --set ppo.kl_stop=epoch
           --set ppo.kl_target=0.003 --set ppo.lr_actor_max=5e-3 --set ppo.value_warmup_updates=1 --set ppo.anneal_lr=false) ;;
  # T6: A3 with LoRA on every linear layer of the top 6 layers only (lora.top_layers; 3.7x the loop speed)
  T6) cfg=(--set ppo.lr_actor=3e-4 --set ppo.update_epochs=2 --set ppo.target_kl=0.02 --set ppo.kl_stop=epoch
           --set ppo.kl_target=0.003 --set ppo.lr_actor_max=5e-3 --set ppo.value_warmup_updates=1 --set ppo.anneal_lr=false
           "${FAST[@]}") ;;
  # T6f: T6 with a fixed actor rate and raw advantages (no kl_target, norm_adv false): the step follows the signal
  T6f) cfg=(--set ppo.lr_actor=1e-3 --set ppo.update_epochs=2 --set ppo.target_kl=0.02 --set ppo.kl_stop=epoch
            --set ppo.kl_target=null --set ppo.norm_adv=false --set ppo.value_warmup_updates=1 --set ppo.anneal_lr=false
            "${FAST[@]}") ;;
  # T6b: T6f with 256 decisions per update and minibatches of 128 (fewer, less noisy steps)
  T6b) cfg=(--set ppo.lr_actor=1e-3 --set ppo.update_epochs=2 --set ppo.target_kl=0.02 --set ppo.kl_stop=epoch
            --set ppo.kl_target=null --set ppo.norm_adv=false --set ppo.value_warmup_updates=1 --set ppo.anneal_lr=false
            "${FAST[@]}"
            --set run.num_steps=64 --set ppo.minibatch_size=128) ;;
  # T6m: the fast path with many small steps, as TWOSOME takes them (32 minibatches of 4 per 128 decisions there):
  #      128 decisions an update, minibatches of 16, 4 epochs (32 optimiser steps an update), fixed rate 5e-4,
  #      raw advantages, per-epoch KL stop 0.02. T6b took 4 steps per 256 decisions: 24 in a whole run.
  T6m) cfg=(--set ppo.lr_actor=5e-4 --set ppo.update_epochs=4 --set ppo.target_kl=0.02 --set ppo.kl_stop=epoch
            --set ppo.kl_target=null --set ppo.norm_adv=false --set ppo.value_warmup_updates=1 --set ppo.anneal_lr=false
            "${FAST[@]}"
            --set run.num_steps=32 --set ppo.minibatch_size=16) ;;
  # G6m: the critic-free group-relative algorithm (run.algorithm grpo) with T6m's step: each update plays 8
  #      episodes from the same start (the kitchen is fixed: one group of 8), advantage = (return - group mean)
  #      / group std, 4 epochs of minibatches of 16 at a fixed 5e-4, per-epoch KL stop 0.02
  G6m) cfg=(--set run.algorithm=grpo --set grpo.groups=1 --set grpo.group_size=8 --set grpo.lr_actor=5e-4
            --set grpo.update_epochs=4 --set grpo.minibatch_size=16 --set grpo.micro_batch_size=16
            --set grpo.target_kl=0.02 --set grpo.kl_stop=epoch --set grpo.anneal_lr=false
            "${FAST[@]}") ;;
  # G6e: G6m with each episode weighted equally (grpo.episode_weight episode: a long failing episode no longer
  #      outweighs a short success) and groups of 4 (about twice the updates in the same budget)
  G6e) cfg=(--set run.algorithm=grpo --set grpo.groups=1 --set grpo.group_size=4 --set grpo.lr_actor=5e-4
            --set grpo.update_epochs=4 --set grpo.minibatch_size=16 --set grpo.micro_batch_size=16
            --set grpo.target_kl=0.02 --set grpo.kl_stop=epoch --set grpo.anneal_lr=false
            --set grpo.episode_weight=episode "${FAST[@]}") ;;
  # A + exploration: 5% uniform mixture over the valid skills
  Ae) cfg=(--set ppo.lr_actor=1e-3 --set ppo.update_epochs=2 --set ppo.target_kl=0.02 --set ppo.kl_stop=epoch
           --set ppo.kl_target=0.003 --set ppo.lr_actor_max=5e-3 --set ppo.value_warmup_updates=1 --set ppo.anneal_lr=false
           --set ppo.explore_eps=0.05) ;;
  # the task config's own defaults (the recipe once it is the default)
  default) cfg=() ;;
  *) echo "unknown configuration $name" >&2; exit 2 ;;
esac
mkdir -p runs/recipe
pids=()
for s in "$@"; do
  python -m agent_runtime.cli run --config overcooked-tomato-salad --name "$name-s$s" --seed "$s" --set env.seed="$s" \
    --total-decisions "$decisions" "${base[@]}" "${cfg[@]}" --set checkpoint.every=2 --set checkpoint.keep=20 \
    --set run.output_dir=runs/recipe --set run.progress=false --set model.threads=1 > "runs/recipe/$name-s$s.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
