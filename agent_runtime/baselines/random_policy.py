"""The uniformly random policy over the valid skills (a floor for learning curves)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent_runtime.rollout import Collector, RandomActor
from agent_runtime.sinks import EpisodeCallback, Sink
from bridges.spec import VecEnv


def run_random(
    venv: VecEnv,
    total_decisions: int,
    seed: int = 0,
    log_fn: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Act uniformly at random among each observation's skills for ``total_decisions`` decisions.

    Environments are reset with seeds ``seed + i``. Returns one record per finished episode
    (``episodes.episode_record``; also passed to ``log_fn`` as they happen).
    """
    return run_baseline(venv, RandomActor(seed), None, total_decisions, seed, log_fn)


def run_baseline(
    venv: VecEnv,
    actor: Any,
    prompts: Any,
    total_decisions: int,
    seed: int,
    log_fn: Callable[[dict[str, Any]], None] | None,
) -> list[dict[str, Any]]:
    """Any non-learning policy through the one rollout loop, for a budget of decisions."""
    if total_decisions < 1:
        raise ValueError(f"total_decisions must be >= 1, got {total_decisions}")
    collector = Collector(venv, actor, prompts, EpisodeCallback(log_fn) if log_fn else Sink())
    collector.reset([seed + i for i in range(venv.num_envs)])
    return collector.run(total_decisions)
