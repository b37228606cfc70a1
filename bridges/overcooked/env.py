"""TWOSOME's Overcooked salad tasks as a SkillEnv: one step = one macro-action.

Tasks: ``tomato-salad`` (TWOSOME's Overcooked-LLMA-v4) and ``tomato-lettuce-salad``
(Overcooked-LLMA-v3). See docs/overcooked.md and /work/shared/specs/overcooked-salad.md.
"""

from __future__ import annotations

import operator
import random
from typing import Any

from bridges.frames import FrameRecorder
from bridges.overcooked.kitchen import RECIPES, TASKS, Kitchen, Layout, Rewards, layout_a, random_layout
from bridges.overcooked.text import observation_text
from bridges.spec import Observation, SkillError
from skills.overcooked import Cell, MacroController, action_texts, in_window, macro_names, read_vector

GAMMA_IN_MACRO = 0.99  # TWOSOME discounts the primitive rewards inside a macro by 0.99 per step


class SaladEnv(FrameRecorder):
    """Single-agent salad kitchen (map A, 7x7), partially observed through a 5x5 window.

    Options: ``randomize`` (items and agent placed at random under the reset seed; map A
    otherwise), ``max_steps`` (primitive-step limit, 200), ``rewards`` (TWOSOME's
    ``--env-reward`` list: subtask, correct, wrong, step penalty; default 0.2 1 0.1 0.001),
    ``timeout_terminal`` (True, as TWOSOME: the time limit sets ``done`` as well as
    ``truncated``; False: only ``truncated``, so a runtime may bootstrap).
    """

    name = "overcooked"

    def __init__(
        self,
        task: str = "tomato-salad",
        seed: int | None = None,
        randomize: bool = False,
        max_steps: int = 200,
        rewards: list[float] | tuple[float, ...] | None = None,
        timeout_terminal: bool = True,
    ):
        if task not in TASKS:
            raise ValueError(f"unknown overcooked task {task!r}; known tasks: {', '.join(TASKS)}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        self.task = task
        self.spec = TASKS[task]
        self.randomize = bool(randomize)
        self.max_steps = max_steps
        self.timeout_terminal = bool(timeout_terminal)
        if rewards is None:
            self.rewards = Rewards()
        else:
            if len(rewards) != 4:
                raise ValueError(f"rewards must be 4 numbers (subtask, correct, wrong, step penalty), got {rewards!r}")
            sub, ok, wrong, pen = (float(x) for x in rewards)
            self.rewards = Rewards(sub, ok, -abs(wrong), -abs(pen))
        self.macros = macro_names(self.spec.foods, self.spec.boards)
        self.onehot = [int(r == self.spec.recipe) for r in RECIPES]
        self.goal_foods = [f for f in self.spec.foods if f in self.spec.recipe]
        self.goal = f"serve a bowl only containing chopped {' and '.join(self.goal_foods)}"
        self._rng = random.Random(seed)
        self._controller = MacroController(self.macros)
        self.kitchen: Kitchen | None = None
        self._ended = True

    # ---- SkillEnv -------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> Observation:
        if seed is not None:
            self._rng.seed(seed)
        layout = random_layout(self.spec, self._rng) if self.randomize else layout_a(self.spec)
        self.kitchen = Kitchen(self.spec, layout, self.rewards)
        self.belief: dict[str, Cell] = {i.name: i.pos for i in self.kitchen.items()}
        self._controller.reset()
        self.steps = 0
        self.episode_return = 0.0
        self._discount = 1.0
        self._ended = False
        return self._observe(0.0, 0, done=False, truncated=False)

    def step(self, skill: int) -> Observation:
        if self.kitchen is None or self._ended:
            raise SkillError("the episode has ended (or never started): call reset() first")
        try:
            index = -1 if isinstance(skill, bool) else operator.index(skill)  # ints, numpy ints
        except TypeError:
            index = -1
        if not 0 <= index < len(self.macros):
            raise SkillError(
                f"skill index {skill!r} out of range: {len(self.macros)} skills are valid (0..{len(self.macros) - 1})"
            )
        skill = index
        kitchen, ctl = self.kitchen, self._controller
        ctl.start(skill)
        reward, k, discount = 0.0, 0, 1.0
        done = False
        # The macro runs to its end even past the step limit, as in TWOSOME.
        while True:
            action = ctl.next_primitive(kitchen, self.belief)
            self._capture()  # a video's frame: the state this primitive step acts on
            r, _ = kitchen.step(action)
            k += 1
            self.steps += 1
            self.episode_return += self._discount * r
            self._discount *= GAMMA_IN_MACRO
            reward += discount * r
            discount *= GAMMA_IN_MACRO
            self._update_belief()
            done = kitchen.served or self.steps >= self.max_steps
            ctl.after_step(kitchen, self.belief)
            if ctl.done:
                break
        timeout = self.steps >= self.max_steps and not kitchen.served
        self._ended = done
        return self._observe(
            reward,
            k,
            done=kitchen.served or (timeout and self.timeout_terminal),
            truncated=timeout,
        )

    def close(self) -> None:
        self.kitchen = None

    # ---- observations -----------------------------------------------------------------------------
    def _kitchen(self) -> Kitchen:
        if self.kitchen is None:
            raise RuntimeError("call reset() first")
        return self.kitchen

    def _update_belief(self) -> None:
        """TWOSOME's belief: visible items at their true cells; a remembered cell now in view
        but empty falls back to the item's initial cell."""
        kitchen = self._kitchen()
        agent = kitchen.agent
        for item in kitchen.items():
            if in_window(agent, item.pos):
                self.belief[item.name] = item.pos
            elif in_window(agent, self.belief[item.name]):
                self.belief[item.name] = item.init

    def vector(self) -> list[int]:
        """The vector observation (spec §7.1): raw integers, zeros for what is out of view."""
        kitchen = self._kitchen()
        agent = kitchen.agent
        out: list[int] = []
        for food in kitchen.foods:
            out += [*food.pos, food.chops] if in_window(agent, food.pos) else [0, 0, 0]
        for cell in (kitchen.bowl.pos, *kitchen.layout.boards, kitchen.delivery):
            out += list(cell) if in_window(agent, cell) else [0, 0]
        out += [*agent, *self.onehot]
        return out

    def _observe(self, reward: float, k: int, done: bool, truncated: bool) -> Observation:
        kitchen = self._kitchen()
        layout: Layout = kitchen.layout
        vector = self.vector()
        scene = read_vector(vector, self.spec.foods, layout.boards, layout.front)
        origins = [*layout.foods.values(), layout.bowl]
        info: dict[str, Any] = {"vector": vector, "steps": self.steps}
        if k:
            info["macro"] = self._controller.macro
        if self._ended:
            info["success"] = kitchen.served
            info["episode"] = {"r": self.episode_return, "l": self.steps}
        return Observation(
            text=observation_text(scene, origins, self.goal_foods),
            skills=action_texts(scene),
            goal=self.goal,
            reward=reward,
            done=done,
            truncated=truncated,
            k=k,
            info=info,
        )

    # ---- rendering --------------------------------------------------------------------------------
    def render_text(self) -> str:
        """The kitchen as text (a character per cell and what is held / on the boards)."""
        from bridges.overcooked.render import render_text

        return render_text(self._live())

    def render_rgb(self, cell: int = 24, show_window: bool = True):
        """The kitchen as an RGB image (numpy uint8 array, H x W x 3)."""
        from bridges.overcooked.render import render_rgb

        return render_rgb(self._live(), cell=cell, show_window=show_window)

    def _live(self) -> Kitchen:
        if self.kitchen is None:
            raise RuntimeError("nothing to render: call reset() first")
        return self.kitchen


def make_env(task: str = "tomato-salad", seed: int | None = None, **options: Any) -> SaladEnv:
    """Build a salad env. Options: randomize, max_steps, rewards, timeout_terminal."""
    known = {"randomize", "max_steps", "rewards", "timeout_terminal"}
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"unknown overcooked option(s) {sorted(unknown)}; known: {sorted(known)}")
    return SaladEnv(task=task, seed=seed, **options)
