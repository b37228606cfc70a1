"""Per-environment episode bookkeeping shared by the baselines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent_runtime.episodes import EpisodeStats
from bridges.spec import Observation


class EpisodeTracker:
    """Sums rewards, decisions and primitive steps per environment; emits a log dict per ended episode.

    A log is ``{"decisions_so_far", "return", "success", "decisions", "steps", "env"}``: ``return`` is
    the plain sum of the transitions' rewards (each already discounted inside its macro by the
    simulator), ``decisions_so_far`` counts decisions of all environments up to this episode's end.
    Dropped episodes (a crashed simulator) are not logged.
    """

    def __init__(self, num_envs: int, log_fn: Callable[[dict[str, Any]], None] | None = None):
        self.logs: list[dict[str, Any]] = []
        self.log_fn = log_fn
        self.decisions = 0
        self._stats = EpisodeStats(num_envs)

    def record(self, i: int, obs: Observation) -> None:
        """Account one decision of environment ``i`` whose result is ``obs``."""
        self.decisions += 1
        self._stats.add(i, obs.reward, obs.k)
        if obs.dropped or obs.ended:
            ret, length, steps = self._stats.pop(i)
            if not obs.dropped:
                log = {
                    "decisions_so_far": self.decisions,
                    "return": ret,
                    "success": bool(obs.info.get("success", False)),
                    "decisions": length,
                    "steps": steps,
                    "env": i,
                }
                self.logs.append(log)
                if self.log_fn is not None:
                    self.log_fn(log)


def next_observation(obs: Observation) -> Observation:
    """The observation to act on next: the new episode's first one when ``obs`` ended one."""
    if obs.ended or obs.dropped:
        if obs.reset_obs is None:
            raise ValueError("an ended episode's observation carries no reset_obs: the VecEnv must auto-reset")
        return obs.reset_obs
    return obs
