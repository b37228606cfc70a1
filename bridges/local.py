"""N skill environments in this process, as a VecEnv (no sockets)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bridges.frames import FrameSource
from bridges.spec import Observation, SkillEnv


class LocalVecEnv:
    """Steps each environment in turn and resets an ended one automatically."""

    def __init__(self, factories: Sequence[Callable[[], SkillEnv]], seeds: Sequence[int] | None = None):
        self.envs = [f() for f in factories]
        self.num_envs = len(self.envs)
        self._seeds = list(seeds) if seeds is not None else [None] * self.num_envs
        self._episodes = [0] * self.num_envs

    def _next_seed(self, i: int) -> int | None:
        base = self._seeds[i]
        if base is None:
            return None
        # A distinct, reproducible seed per (env, episode).
        return base + 100_003 * self._episodes[i]

    def reset(self, seeds: list[int] | None = None) -> list[Observation]:
        if seeds is not None:
            self._seeds = list(seeds)
        self._episodes = [0] * self.num_envs
        return [env.reset(self._next_seed(i)) for i, env in enumerate(self.envs)]

    def step(self, actions: list[int]) -> list[Observation]:
        if len(actions) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} actions, got {len(actions)}")
        out = []
        for i, (env, a) in enumerate(zip(self.envs, actions)):
            obs = env.step(int(a))
            if obs.ended:
                self._episodes[i] += 1
                obs.reset_obs = env.reset(self._next_seed(i))
            out.append(obs)
        return out

    def frames(self, i: int, record: bool = True, now: bool = False) -> list[dict[str, Any]]:
        """As ``RemoteVecEnv.frames``: what environment ``i`` kept since the last call; record on or off."""
        env = self.envs[i]
        if not isinstance(env, FrameSource):
            raise ValueError(f"environment {i} ({getattr(env, 'name', type(env).__name__)}) does not draw frames")
        out = env.take_frames()
        env.record_frames(record)
        return [*out, env.frame_now()] if now else out

    def close(self) -> None:
        for env in self.envs:
            env.close()
