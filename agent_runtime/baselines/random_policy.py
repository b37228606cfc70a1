"""The uniformly random policy over the valid skills (a floor for learning curves)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from agent_runtime.baselines.episodes import EpisodeTracker, next_observation
from bridges.spec import VecEnv


def run_random(
    venv: VecEnv,
    total_decisions: int,
    seed: int = 0,
    log_fn: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Act uniformly at random among each observation's skills for ``total_decisions`` decisions.

    Environments are reset with seeds ``seed + i``. Returns one log per finished episode
    (see ``EpisodeTracker``).
    """
    if total_decisions < 1:
        raise ValueError(f"total_decisions must be >= 1, got {total_decisions}")
    rng = random.Random(seed)
    tracker = EpisodeTracker(venv.num_envs, log_fn)
    obs = venv.reset(seeds=[seed + i for i in range(venv.num_envs)])
    while tracker.decisions < total_decisions:
        for i, o in enumerate(obs):
            if not o.skills:
                raise ValueError(f"environment {i} offers no skills: {o.text[:80]!r}")
        results = venv.step([rng.randrange(len(o.skills)) for o in obs])
        for i, o in enumerate(results):
            tracker.record(i, o)
        obs = [next_observation(o) for o in results]
    return tracker.logs
