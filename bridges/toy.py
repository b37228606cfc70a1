"""A toy text task for tests and demos: pick the thing the prompt names.

Each episode shows ``num_candidates`` coloured doors and says which one hides
the key; choosing that door gives +1 and ends the episode (``steps`` rounds per
episode, each a fresh question). Standard library only.
"""

from __future__ import annotations

import random

from bridges.spec import Observation, SkillError

COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "white", "black", "pink", "brown"]


class PickNamedEnv:
    """The right candidate is named in the prompt among ``num_candidates``."""

    name = "toy"

    def __init__(
        self,
        task: str = "pick-named",
        num_candidates: int = 4,
        steps: int = 1,
        seed: int | None = None,
        noun: str = "door",
        verb: str = "open",
    ):
        if not 2 <= num_candidates <= len(COLOURS):
            raise ValueError(f"num_candidates must be in [2, {len(COLOURS)}], got {num_candidates}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.task = task
        self.num_candidates = num_candidates
        self.steps = steps
        self.noun = noun
        self.verb = verb
        self._rng = random.Random(seed)
        self._t = 0
        self._skills: list[str] = []
        self._target = 0
        self._successes = 0

    def _question(self, reward: float = 0.0, k: int = 0) -> Observation:
        colours = self._rng.sample(COLOURS, self.num_candidates)
        self._target = self._rng.randrange(self.num_candidates)
        self._skills = [f"{self.verb} the {c} {self.noun}" for c in colours]
        n, target = self.num_candidates, colours[self._target]
        text = f"You are in a hall with {n} {self.noun}s. The key is behind the {target} {self.noun}. You should"
        return Observation(text=text, skills=list(self._skills), goal="find the key", reward=reward, k=k)

    def reset(self, seed: int | None = None) -> Observation:
        if seed is not None:
            self._rng.seed(seed)
        self._t = 0
        self._successes = 0
        return self._question()

    def step(self, skill: int) -> Observation:
        if not isinstance(skill, int) or not 0 <= skill < len(self._skills):
            raise SkillError(f"skill index {skill!r} out of range: {len(self._skills)} skills are valid")
        hit = skill == self._target
        self._successes += int(hit)
        self._t += 1
        reward = 1.0 if hit else 0.0
        obs = self._question(reward=reward, k=1)
        if self._t >= self.steps:
            obs.done = True
            obs.info["success"] = self._successes == self.steps
        obs.info["target"] = self._target
        return obs

    def close(self) -> None:
        pass


def make_env(task: str = "pick-named", seed: int | None = None, **options) -> PickNamedEnv:
    return PickNamedEnv(task=task, seed=seed, **options)
