"""What a rollout records: complete transitions per environment, and the flat batch an update reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from agent_runtime.algos.gae import gae
from agent_runtime.scoring import EncodedPrompt


@dataclass
class Transition:
    """One decision of one environment and its outcome, recorded once, complete."""

    encoded: EncodedPrompt | None  # the prompt and the valid skills, tokenised (None for non-LLM policies)
    action: int
    logp: float  # log-prob of the action under the behaviour policy
    value: float | None  # the critic's estimate when acting (None without a critic)
    reward: float = 0.0
    k: int = 1  # primitive steps the skill took
    done: bool = False  # the episode terminated after this decision
    truncated: bool = False  # the episode was cut by a step limit after this decision
    overridden: bool = False  # a person chose the action: not in the PPO ratio
    final: EncodedPrompt | None = None  # a truncated episode's last observation (its bootstrap value)

    @property
    def ended(self) -> bool:
        return self.done or self.truncated


@dataclass
class Episode:
    """A finished episode: its start seed (when known), its transitions and its log record."""

    seed: int | None
    transitions: list[Transition]
    record: dict[str, Any]


@dataclass
class Batch:
    """Flattened decisions ready for an update."""

    encoded: list[EncodedPrompt]
    actions: torch.Tensor
    logps: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    overridden: torch.Tensor

    def __len__(self) -> int:
        return len(self.encoded)

    @classmethod
    def of(cls, transitions: list[Transition], advantages: list[float], returns: list[float]) -> Batch:
        return cls(
            encoded=[t.encoded for t in transitions],  # type: ignore[misc]
            actions=torch.tensor([t.action for t in transitions], dtype=torch.long),
            logps=torch.tensor([t.logp for t in transitions], dtype=torch.float32),
            values=torch.tensor([t.value or 0.0 for t in transitions], dtype=torch.float32),
            advantages=torch.tensor(advantages, dtype=torch.float32),
            returns=torch.tensor(returns, dtype=torch.float32),
            overridden=torch.tensor([t.overridden for t in transitions], dtype=torch.bool),
        )


@dataclass
class Rollout:
    """Per-environment transitions in time order, and where each environment stands now."""

    num_envs: int
    steps: list[list[Transition]] = field(default_factory=list)
    last: list[EncodedPrompt] | list[None] = field(default_factory=list)  # the observations acted on next
    episodes: list[Episode] = field(default_factory=list)  # episodes that ended in this rollout
    _episode_start: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.steps = [[] for _ in range(self.num_envs)]
        self.last = [None] * self.num_envs
        self._episode_start = [0] * self.num_envs

    def add(self, env: int, t: Transition) -> None:
        self.steps[env].append(t)
        if t.ended:
            self._episode_start[env] = len(self.steps[env])

    def drop_partial_episode(self, env: int) -> int:
        """Forget env's decisions since its episode began (its simulator was lost); returns how many."""
        start = self._episode_start[env]
        n = len(self.steps[env]) - start
        del self.steps[env][start:]
        return n

    def __len__(self) -> int:
        return sum(len(s) for s in self.steps)

    def transitions(self) -> list[Transition]:
        return [t for seq in self.steps for t in seq]

    def batch(
        self,
        value_of: Callable[[list[EncodedPrompt]], list[float]],
        gamma: float,
        gae_lambda: float,
        time_limit_terminal: bool,
    ) -> Batch:
        """GAE over every environment's sequence (see ``algos.gae``); ``value_of`` gives the critic's
        values of the observations bootstrapped from (each env's next one, truncated episodes' last)."""
        wanted: list[EncodedPrompt] = []
        for env, seq in enumerate(self.steps):
            if seq and not seq[-1].ended and self.last[env] is not None:
                wanted.append(self.last[env])  # type: ignore[arg-type]
            if not time_limit_terminal:
                wanted += [t.final for t in seq if t.truncated and not t.done and t.final is not None]
        known = dict(zip(map(id, wanted), value_of(wanted) if wanted else []))
        flat: list[Transition] = []
        advs: list[float] = []
        rets: list[float] = []
        for env, seq in enumerate(self.steps):
            if not seq:
                continue
            last = known.get(id(self.last[env]), 0.0)
            nxt = [t.value or 0.0 for t in seq[1:]] + [last]
            for i, t in enumerate(seq):
                if t.truncated and not t.done:
                    nxt[i] = known.get(id(t.final), 0.0)
            a, r = gae(
                torch.tensor([t.reward for t in seq], dtype=torch.float64),
                torch.tensor([t.value or 0.0 for t in seq], dtype=torch.float64),
                torch.tensor(nxt, dtype=torch.float64),
                torch.tensor([t.k for t in seq], dtype=torch.float64),
                torch.tensor([t.done or (t.truncated and time_limit_terminal) for t in seq], dtype=torch.float64),
                torch.tensor([t.ended for t in seq], dtype=torch.float64),
                gamma, gae_lambda,
            )  # fmt: skip
            flat += seq
            advs += a.tolist()
            rets += r.tolist()
        return Batch.of(flat, advs, rets)
