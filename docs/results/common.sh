# Settings shared by the learning runs under docs/results/ (SmolLM2-135M, LoRA r=8, CPU, bf16 autocast).
# TWOSOME's/GLAM's learning rates (5e-7..1e-6) are for 7B models and full fine-tuning; a 135M model with a
# LoRA adapter and a budget of ~1k decisions needs a larger step.
# `python -m agent_runtime.cli` is `agent-runtime` run from this checkout.
# Two result scripts run side by side on 2 cores, one torch thread each.
AR="python -m agent_runtime.cli"
LR=(--set ppo.lr_actor=2e-4 --set ppo.lr_critic=1e-3 --set ppo.update_epochs=1 --set ppo.minibatch_size=32
    --set ppo.micro_batch_size=16 --set ppo.target_kl=0.05 --set checkpoint.every=0 --set checkpoint.keep=1
    --set run.output_dir=runs/results --set run.progress=false --set model.threads=1)
# LLM-PPO runs of one config side by side, one torch thread each, a checkpoint every 4 updates:
#   llm_seeds CONFIG DECISIONS LOGS SEED...
# Run s goes to LOGS/llm-s<s>; its episodes are copied to LOGS/llm-ppo-s<s>.jsonl for overcooked/plot.py.
llm_seeds() {
  local cfg=$1 n=$2 logs=$3 s pid; shift 3
  local pids=()
  for s in "$@"; do
    python -m agent_runtime.cli run --config "$cfg" --name "llm-s$s" --seed "$s" --set env.seed="$s" \
      --total-decisions "$n" --set run.output_dir="$logs" --set run.progress=false --set model.threads=1 \
      --set checkpoint.every=4 > "$logs/llm-s$s.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  for s in "$@"; do cp "$logs/llm-s$s/episodes.jsonl" "$logs/llm-ppo-s$s.jsonl"; done
}
