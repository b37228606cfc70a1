"""A critic-free, group-relative algorithm (GRPO / RLOO family) for episodic tasks.

Every update plays ``groups`` start seeds ``group_size`` times each (whole episodes). An episode's
advantage is its return compared with its group's: ``(R - mean_group) / (std_group + eps)`` (or
``R - mean`` with ``scale: false``), given to each of its decisions; the clipped surrogate of PPO
then updates the actor alone. No value function: no critic forward when acting or learning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agent_runtime import distributed as dp
from agent_runtime.algos.ppo import ClippedPolicyUpdate
from agent_runtime.buffer import Batch, Episode, Rollout
from agent_runtime.config import GRPOSection
from agent_runtime.policy import ActorCritic


def group_advantages(returns: list[float], groups: list[Any], scale: bool = True) -> list[float]:
    """Each return minus its group's mean (divided by the group's std when ``scale``); 0 for lone episodes."""
    out = [0.0] * len(returns)
    for g in set(groups):
        members = [i for i, x in enumerate(groups) if x == g]
        if len(members) < 2:
            continue
        r = np.array([returns[i] for i in members], dtype=np.float64)
        adv = r - r.mean()
        if scale:
            adv = adv / (r.std() + 1e-6)
        for i, a in zip(members, adv):
            out[i] = float(a)
    return out


def per_decision(advantages: list[float], lengths: list[int], weight: str = "decision") -> list[float]:
    """Each episode's advantage repeated over its decisions. ``weight="episode"`` scales an episode's by
    ``mean length / its length``, so that every episode carries the same total weight in the loss's mean."""
    if weight not in ("decision", "episode"):
        raise ValueError(f"grpo.episode_weight: {weight!r} is not one of ('decision', 'episode')")
    mean_len = float(np.mean(lengths)) if lengths else 0.0
    out: list[float] = []
    for a, n in zip(advantages, lengths):
        out += [a * (mean_len / n if weight == "episode" else 1.0)] * n
    return out


class GroupRelative(ClippedPolicyUpdate):
    """Critic-free policy optimisation with group-relative episode advantages."""

    name = "grpo"

    def __init__(self, policy: ActorCritic, settings: GRPOSection):
        super().__init__(policy, settings, settings.lr_actor, critic=False)
        self.settings = settings

    def collect(self, collector: Any, num_steps: int, update: int) -> Rollout:
        s = self.settings
        base = collector.base_seed + 7919 * update
        seeds = [base + g for g in range(s.groups) for _ in range(s.group_size)]
        rollout = Rollout(collector.n)
        rollout.episodes = collector.episodes_from(seeds)
        return rollout

    def learn(self, rollout: Rollout, rng: np.random.Generator) -> dict[str, float]:
        eps: list[Episode] = [e for e in rollout.episodes if e.transitions]
        if not dp.all_max(len(eps)):  # data-parallel: a rank without episodes still takes part
            return {}
        adv = group_advantages([e.record["return"] for e in eps], [e.seed for e in eps], self.settings.scale)
        flat = [t for e in eps for t in e.transitions]
        per_step = per_decision(adv, [len(e.transitions) for e in eps], self.settings.episode_weight)
        batch = Batch.of(flat, per_step, [0.0] * len(flat))
        self.policy.train()
        try:
            out = self.update(batch, rng)
        finally:
            self.policy.eval()
        if eps:
            out["group_return_std"] = float(
                np.mean([np.std([e.record["return"] for e in eps if e.seed == g]) for g in {e.seed for e in eps}])
            )
        return out
