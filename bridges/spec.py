"""The simulator-side contract: what one environment instance looks like.

Standard library only, so that every simulator server (possibly in its own
virtualenv without torch) and the runtime share these definitions.

A *skill environment* is anything with ``reset(seed) -> Observation``,
``step(skill_index) -> Observation`` and ``close()``.  One ``step`` executes one
skill (a macro-action) to its end; the returned observation says how many
primitive steps it took (``k``) and the reward collected over them (already
discounted inside the macro where the task says so), so the learner can
discount the transition by ``gamma ** k``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass
class Observation:
    """What a simulator reports after a reset or a step.

    text:   the observation rendered as text, ready to go into the prompt
            (each simulator writes it in its paper's style).
    skills: the texts of the skills valid *now*; the next action is an index into it.
    goal:   the task / mission in words ("go to the red ball"); may be empty.
    reward: reward collected by the last skill (0.0 after a reset).
    done:   the episode ended (success or failure).
    truncated: the episode was cut by a step limit.
    k:      primitive steps the last skill took (0 after a reset).
    info:   simulator extras, msgpack-able values only (str, int, float, bool,
            None, list, dict). Conventions: ``success`` (bool) at episode end,
            ``vector`` (list of numbers: symbolic observation for MLP baselines),
            ``achievements`` (Crafter), ``error`` (text, when a skill was refused).

    Two fields are set by vector environments only, never by a simulator:
    reset_obs: when this observation ends an episode, the first observation of
            the next one (the environment was reset automatically).
    dropped: the episode was lost (the simulator crashed and was restarted);
            the runtime must drop the partial episode from its rollout.
    """

    text: str
    skills: list[str]
    goal: str = ""
    reward: float = 0.0
    done: bool = False
    truncated: bool = False
    k: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    reset_obs: Observation | None = None
    dropped: bool = False

    @property
    def ended(self) -> bool:
        return self.done or self.truncated

    def to_wire(self) -> dict[str, Any]:
        """A msgpack-able map (``reset_obs`` nested as a map, or absent)."""
        d: dict[str, Any] = {
            "text": self.text,
            "skills": list(self.skills),
            "goal": self.goal,
            "reward": float(self.reward),
            "done": bool(self.done),
            "truncated": bool(self.truncated),
            "k": int(self.k),
            "info": self.info,
        }
        if self.reset_obs is not None:
            d["reset_obs"] = self.reset_obs.to_wire()
        if self.dropped:
            d["dropped"] = True
        return d

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Observation:
        reset = d.get("reset_obs")
        return cls(
            text=d["text"],
            skills=list(d["skills"]),
            goal=d.get("goal", ""),
            reward=float(d.get("reward", 0.0)),
            done=bool(d.get("done", False)),
            truncated=bool(d.get("truncated", False)),
            k=int(d.get("k", 0)),
            info=dict(d.get("info") or {}),
            reset_obs=cls.from_wire(reset) if reset is not None else None,
            dropped=bool(d.get("dropped", False)),
        )


class SkillError(ValueError):
    """A skill index or argument the simulator refuses; the episode goes on."""


@runtime_checkable
class SkillEnv(Protocol):
    """One simulator instance driven by skills (runs in the simulator process)."""

    name: str  # simulator name, e.g. "babyai"
    task: str  # task name, e.g. "GoToLocal"

    def reset(self, seed: int | None = None) -> Observation: ...

    def step(self, skill: int) -> Observation:
        """Run valid skill number ``skill`` (index into the last ``skills``) to its end.

        Raises SkillError for an index out of range, leaving the state unchanged.
        """
        ...

    def close(self) -> None: ...


@runtime_checkable
class VecEnv(Protocol):
    """N skill environments as the runtime sees them (in-process or over a bridge).

    ``step`` takes one skill index per environment and returns one Observation per
    environment; an ended episode's observation carries ``reset_obs`` (the
    environment was reset automatically) and possibly ``dropped``.
    """

    num_envs: int

    def reset(self, seeds: list[int] | None = None) -> list[Observation]: ...

    def step(self, actions: list[int]) -> list[Observation]: ...

    def close(self) -> None: ...
