"""The algorithm seam: what the trainer needs of a learning algorithm, and the registry by name.

An algorithm decides what it collects (``collect``: fixed-length rollouts, or groups of whole
episodes) and turns that into parameter updates (``learn``). Its settings are the config section of
its name; its optimiser state is saved in checkpoints under the neutral key ``algorithm``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from agent_runtime.buffer import Rollout
from agent_runtime.config import Config
from agent_runtime.policy import ActorCritic


class Algorithm(Protocol):
    name: str
    critic: bool  # whether it uses the value head (acting then computes values)
    settings: Any  # its config section
    on_progress: Any  # called with (steps done, steps planned) during an update

    def collect(self, collector: Any, num_steps: int, update: int) -> Rollout: ...

    def learn(self, rollout: Rollout, rng: np.random.Generator) -> dict[str, float]: ...

    def set_lr_fraction(self, frac: float) -> None: ...

    @property
    def lr(self) -> float: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def _ppo(policy: ActorCritic, cfg: Config) -> Algorithm:
    from agent_runtime.algos.ppo import PPO

    return PPO(policy, cfg.ppo)


def _grpo(policy: ActorCritic, cfg: Config) -> Algorithm:
    from agent_runtime.algos.grpo import GroupRelative

    return GroupRelative(policy, cfg.grpo)


ALGORITHMS = {"ppo": _ppo, "grpo": _grpo}


def make_algorithm(cfg: Config, policy: ActorCritic) -> Algorithm:
    """The algorithm ``run.algorithm`` names, with its own config section."""
    return ALGORITHMS[cfg.run.algorithm](policy, cfg)


def settings_of(cfg: Config) -> Any:
    """The config section of the run's algorithm."""
    return getattr(cfg, cfg.run.algorithm)
