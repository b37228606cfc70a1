"""Non-LLM baselines over any VecEnv: PPO with an MLP on ``info["vector"]`` (TWOSOME's PPO baseline)
and a uniformly random policy. Both return one log dict per finished episode."""

from agent_runtime.baselines.ppo_mlp import compute_gae, train_ppo_mlp
from agent_runtime.baselines.random_policy import run_random

__all__ = ["compute_gae", "run_random", "train_ppo_mlp"]
