"""Rollout buffer of decisions, and GAE over macro-actions (discount gamma**k)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from agent_runtime.scoring import EncodedPrompt


@dataclass
class Decision:
    """One decision of one environment."""

    encoded: EncodedPrompt
    action: int
    logp: float  # log-prob of the action under the behaviour policy
    value: float
    reward: float = 0.0
    k: int = 1  # primitive steps the skill took
    ended: bool = False  # the episode ended after this decision (done or truncated)
    overridden: bool = False  # a person chose the action: not in the PPO ratio


@dataclass
class Batch:
    """Flattened decisions ready for PPO."""

    encoded: list[EncodedPrompt]
    actions: torch.Tensor
    logps: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    overridden: torch.Tensor

    def __len__(self) -> int:
        return len(self.encoded)


@dataclass
class RolloutBuffer:
    """Per-environment lists of decisions for one rollout."""

    num_envs: int
    steps: list[list[Decision]] = field(default_factory=list)
    _episode_start: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.steps = [[] for _ in range(self.num_envs)]
        self._episode_start = [0] * self.num_envs

    def add(self, env: int, d: Decision) -> None:
        self.steps[env].append(d)

    def complete(self, env: int, reward: float, k: int, ended: bool) -> None:
        """Fill in the outcome of env's last decision."""
        d = self.steps[env][-1]
        d.reward, d.k, d.ended = reward, k, ended
        if ended:
            self._episode_start[env] = len(self.steps[env])

    def drop_partial_episode(self, env: int) -> int:
        """Forget env's decisions since its episode began (its simulator was lost); returns how many."""
        start = self._episode_start[env]
        n = len(self.steps[env]) - start
        del self.steps[env][start:]
        return n

    def __len__(self) -> int:
        return sum(len(s) for s in self.steps)

    def compute(self, last_values: list[float], gamma: float, gae_lambda: float) -> Batch:
        """GAE: delta_t = r_t + gamma**k_t * V_{t+1} * (1 - ended_t) - V_t.

        A time-limit truncation is treated as an episode end (no bootstrap), as CleanRL does.
        """
        encoded, acts, logps, vals, advs, rets, over = [], [], [], [], [], [], []
        for env, seq in enumerate(self.steps):
            adv = 0.0
            next_value = last_values[env]
            env_adv = [0.0] * len(seq)
            for t in range(len(seq) - 1, -1, -1):
                d = seq[t]
                discount = gamma ** d.k
                nonterminal = 0.0 if d.ended else 1.0
                delta = d.reward + discount * next_value * nonterminal - d.value
                adv = delta + discount * gae_lambda * nonterminal * adv
                env_adv[t] = adv
                next_value = d.value
            for d, a in zip(seq, env_adv):
                encoded.append(d.encoded)
                acts.append(d.action)
                logps.append(d.logp)
                vals.append(d.value)
                advs.append(a)
                rets.append(a + d.value)
                over.append(d.overridden)
        return Batch(
            encoded=encoded,
            actions=torch.tensor(acts, dtype=torch.long),
            logps=torch.tensor(logps, dtype=torch.float32),
            values=torch.tensor(vals, dtype=torch.float32),
            advantages=torch.tensor(advs, dtype=torch.float32),
            returns=torch.tensor(rets, dtype=torch.float32),
            overridden=torch.tensor(over, dtype=torch.bool),
        )
