"""SayCan and the zero-shot LLM policy (no training), through the same rollout loop as the others.

SayCan (Ahn et al., 2022) acts greedily on p_LLM(skill | prompt) x affordance(skill).
Here the affordance is the valid-skill mask: 1 for the skills the simulator
offers now (only those are scored), or ``info["affordance"]`` (one number per
offered skill) when a simulator provides it. The zero-shot policy samples from
the same LLM distribution without the affordance term.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from agent_runtime.baselines.random_policy import run_baseline
from agent_runtime.policy import ActorCritic
from agent_runtime.prompt import PromptBuilder
from agent_runtime.rollout import LLMActor, affordance
from bridges.spec import VecEnv

__all__ = ["affordance", "run_llm_policy"]


def run_llm_policy(
    venv: VecEnv,
    policy: ActorCritic,
    prompts: PromptBuilder,
    total_decisions: int,
    seed: int = 0,
    saycan: bool = True,
    log_fn: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """SayCan (greedy on LLM x affordance) or, with ``saycan=False``, the sampled zero-shot LLM policy."""
    actor = LLMActor(policy, with_values=False, generator=torch.Generator().manual_seed(seed), saycan=saycan)
    return run_baseline(venv, actor, prompts, total_decisions, seed, log_fn)
