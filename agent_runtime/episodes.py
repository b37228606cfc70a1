"""Running sums of the episode in progress in each environment (the trainer's and the baselines')."""

from __future__ import annotations


class EpisodeStats:
    """Return, decisions and primitive steps of the episode in progress in each of ``n`` environments."""

    def __init__(self, n: int):
        self.ret = [0.0] * n
        self.length = [0] * n
        self.primitive = [0] * n

    def add(self, i: int, reward: float, k: int) -> None:
        """Account one decision of environment ``i``: its reward and the primitive steps it took."""
        self.ret[i] += reward
        self.length[i] += 1
        self.primitive[i] += k

    def pop(self, i: int) -> tuple[float, int, int]:
        """(return, decisions, primitive steps) of environment ``i``'s episode; starts a new one."""
        out = (self.ret[i], self.length[i], self.primitive[i])
        self.ret[i], self.length[i], self.primitive[i] = 0.0, 0, 0
        return out
