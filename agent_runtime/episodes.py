"""Running sums of the episode in progress in each environment, and the record of a finished one."""

from __future__ import annotations

from typing import Any

from bridges.spec import Observation


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


def episode_record(
    env: int, seed: int | None, totals: tuple[float, int, int], last: Observation, decisions: int
) -> dict[str, Any]:
    """The log record of a finished episode (the same fields for training, evaluation and baselines):
    env, seed, return, length (decisions), primitive_steps, success, truncated, decisions (all
    environments' decisions so far) and, where the simulator reports them, achievements."""
    ret, length, prim = totals
    rec: dict[str, Any] = {
        "env": env, "seed": seed, "return": ret, "length": length, "primitive_steps": prim,
        "success": last.info.get("success"), "truncated": last.truncated, "decisions": decisions,
    }  # fmt: skip
    if "achievements" in last.info:
        rec["achievements"] = last.info["achievements"]
    return rec
