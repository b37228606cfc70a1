"""Generalised advantage estimation over macro-actions: the one GAE of the project.

A transition that took ``k`` primitive steps is discounted by ``gamma ** k``. At an episode boundary
the advantage is not carried over; what the transition bootstraps from depends on how it ended:

* terminated (``done``): nothing (the episode is over);
* truncated by a time limit: the value of its last observation (the task would have gone on),
  unless the time limit is declared part of the task (``time_limit_terminal``, TWOSOME's setting);
* neither (the rollout stopped mid-episode): the value of the next observation.
"""

from __future__ import annotations

import torch


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    ks: torch.Tensor,
    terminal: torch.Tensor,
    boundary: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns) for transitions along dim 0 (time); any further dims are independent.

    ``next_values[t]``: the value of what follows transition t (the next observation, or the last
    observation of a truncated episode); ``terminal[t]``: 1 where nothing is bootstrapped;
    ``boundary[t]``: 1 where an episode ends at t (the advantage does not flow back across it).
    """
    discount = gamma ** ks.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    carry = torch.zeros_like(rewards[0]) if len(rewards) else rewards.new_zeros(())
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + discount[t] * next_values[t] * (1.0 - terminal[t]) - values[t]
        carry = delta + discount[t] * gae_lambda * (1.0 - boundary[t]) * carry
        advantages[t] = carry
    return advantages, advantages + values
