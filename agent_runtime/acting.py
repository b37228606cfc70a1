"""One decision round: prompts -> scores -> actions (sampled, greedy, or a person's override)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from agent_runtime.policy import ActorCritic
from agent_runtime.ppo import mixture_log_probs
from agent_runtime.scoring import EncodedPrompt


@dataclass
class Decisions:
    """The outcome of one round over N environments."""

    encoded: list[EncodedPrompt]
    actions: list[int]
    logps: list[float]
    values: list[float] | None  # None when decided without the critic (evaluation)
    probs: list[list[float]]
    overridden: list[bool]


@torch.no_grad()
def decide(
    policy: ActorCritic,
    prompts: list[str],
    skills: list[list[str]],
    greedy: bool,
    overrides: list[int | None] | None = None,
    generator: torch.Generator | None = None,
    with_values: bool = True,
    explore_eps: float = 0.0,
) -> Decisions:
    """Score every valid skill of every environment in one batch and pick an action each.

    ``with_values=False`` skips the critic (evaluation needs only the actions).
    ``explore_eps > 0``: sample from ``(1 - eps) * pi + eps * uniform`` over the valid skills and record
    that mixture's log-prob (PPO re-scores the same mixture: ``ppo.mixture_log_probs``); ``probs`` stay pi's."""
    encoded = policy.encode(prompts, skills)
    out = policy(encoded, with_values=with_values)
    log_probs = out.log_probs.float().cpu()
    behaviour = mixture_log_probs(log_probs, explore_eps)
    values = out.values.float().cpu().tolist() if out.values is not None else None
    actions, logps, probs, over = [], [], [], []
    for i, sk in enumerate(skills):
        lp = log_probs[i, : len(sk)]
        p = lp.exp()
        forced = overrides[i] if overrides is not None else None
        if forced is not None:
            a = forced
        elif greedy:
            a = int(torch.argmax(lp))
        else:
            a = int(torch.multinomial(behaviour[i, : len(sk)].exp(), 1, generator=generator))
        actions.append(a)
        logps.append(float(behaviour[i, a]))
        probs.append(p.tolist())
        over.append(forced is not None)
    return Decisions(encoded, actions, logps, values, probs, over)
