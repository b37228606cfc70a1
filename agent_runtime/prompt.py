"""Prompt builder: the config's template filled from an observation."""

from __future__ import annotations

from bridges.spec import Observation


class PromptBuilder:
    """``template`` fields: {text} (the simulator's text), {goal}, {subgoal} (RLAdapter guidance)."""

    def __init__(self, template: str = "{text}"):
        self.template = template

    def build(self, obs: Observation, subgoal: str = "") -> str:
        return self.template.format(text=obs.text, goal=obs.goal, subgoal=subgoal)
