"""SayCan and the zero-shot LLM policy (no training), with the same episode logs as the other baselines.

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

from agent_runtime.baselines.episodes import EpisodeTracker, next_observation
from agent_runtime.policy import ActorCritic
from agent_runtime.prompt import PromptBuilder
from bridges.spec import Observation, VecEnv


def affordance(obs: Observation) -> torch.Tensor:
    """Affordance of each offered skill (the mask: all ones unless the simulator says otherwise)."""
    a = obs.info.get("affordance")
    if a is None:
        return torch.ones(len(obs.skills))
    if len(a) != len(obs.skills):
        raise ValueError(f"info['affordance'] has {len(a)} values for {len(obs.skills)} skills")
    return torch.tensor([float(x) for x in a])


@torch.no_grad()
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
    gen = torch.Generator().manual_seed(seed)
    tracker = EpisodeTracker(venv.num_envs, log_fn)
    obs = venv.reset(seeds=[seed + i for i in range(venv.num_envs)])
    while tracker.decisions < total_decisions:
        enc = policy.encode([prompts.build(o) for o in obs], [o.skills for o in obs])
        probs = policy(enc, with_values=False).log_probs.float().exp().cpu()
        actions = []
        for i, o in enumerate(obs):
            p = probs[i, : len(o.skills)]
            if saycan:
                actions.append(int(torch.argmax(p * affordance(o))))
            else:
                actions.append(int(torch.multinomial(p, 1, generator=gen)))
        results = venv.step(actions)
        for i, o in enumerate(results):
            tracker.record(i, o)
        obs = [next_observation(o) for o in results]
    return tracker.logs
