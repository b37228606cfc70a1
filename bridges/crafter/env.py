"""Crafter as a SkillEnv: text observations, skills (or the 17 primitive actions), achievements.

One ``step`` runs one skill of ``skills.crafter`` to its end (or ``max_skill_steps``
primitive steps) and reports the primitive steps taken (``k``) and the sum of
crafter's rewards over them. Worlds are generated ahead in the background
(``prefetch``), see ``bridges.crafter.pool``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from bridges.crafter import text
from bridges.crafter.pool import CrafterGame, WorldPool, new_game
from bridges.frames import FrameRecorder
from bridges.spec import Observation, SkillError
from skills import crafter as sk

TASKS = ("default", "crafter")
GOAL = "Survive and unlock as many achievements as possible."
SEED_STRIDE = 100_003  # LocalVecEnv's seed step between episodes; the first guess for the next seed


class CrafterEnv(FrameRecorder):
    """The real ``crafter`` game behind the SkillEnv contract (see the module docstring)."""

    name = "crafter"

    def __init__(
        self,
        task: str = "default",
        seed: int | None = None,
        *,
        prefetch: bool | str = True,
        skills: bool = True,
        primitives: bool = False,
        max_steps: int = 10000,
        max_skill_steps: int = 100,
        explore_steps: int = 8,
        history: int = 0,
        prefetch_depth: int = 2,
    ):
        if task not in TASKS:
            raise ValueError(f"unknown crafter task {task!r}; known tasks: {', '.join(TASKS)}")
        if max_steps < 1 or max_skill_steps < 1 or explore_steps < 1 or history < 0:
            raise ValueError(
                "crafter options must be positive: "
                f"max_steps={max_steps}, max_skill_steps={max_skill_steps}, "
                f"explore_steps={explore_steps}, history={history} (history may be 0)"
            )
        self.task = task
        self.use_skills = skills
        self.primitives = primitives
        self.max_steps = max_steps
        self.max_skill_steps = max_skill_steps
        self.explore_steps = explore_steps
        self.history = history
        catalogue = sk.SKILL_CATALOGUE if skills else sk.PRIMITIVE_SKILLS
        self._catalogue_id = {s.text: i for i, s in enumerate(catalogue)}
        self._base_seed = int(seed) if seed is not None else random.SystemRandom().randrange(2**31)
        self._pool: WorldPool | None = None
        if prefetch:
            backend = prefetch if isinstance(prefetch, str) else "process"
            self._pool = WorldPool(length=max_steps, depth=prefetch_depth, backend=backend)
            self._pool.prefetch(self._base_seed)  # the first world, so the first reset need not wait
        self._game: CrafterGame | None = None
        self._seen = np.zeros((1, 1), bool)
        self._skills: list[sk.Skill] = []
        self._last_seed: int | None = None
        self._stride = SEED_STRIDE
        self._ended = False
        self._last_actions: list[str] = []
        self._rng = random.Random(self._base_seed)
        self.seed: int | None = None  # seed of the current episode's world

    # -- SkillEnv ------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> Observation:
        if seed is None:
            seed = self._base_seed if self._last_seed is None else self._last_seed + self._stride
        else:
            seed = int(seed)
            if self._last_seed is not None and seed != self._last_seed:
                self._stride = seed - self._last_seed  # learn how the caller steps its seeds
        self._last_seed = seed
        self.seed = seed
        self._game = self._pool.get(seed) if self._pool is not None else new_game(seed, self.max_steps)
        if self._pool is not None:
            self._pool.prefetch(seed + self._stride)
        self._rng = random.Random(seed)
        self._seen = np.zeros(self._game._world.area, bool)
        self._mark_seen()
        self._ended = False
        self._last_actions = []
        return self._observe()

    def step(self, skill: int) -> Observation:
        if self._game is None:
            raise SkillError("the crafter environment was not reset: call reset() before step()")
        if self._ended:
            raise SkillError("the crafter episode has ended: call reset() before step()")
        if isinstance(skill, bool) or not isinstance(skill, (int, np.integer)):
            raise SkillError(f"skill index must be an integer, got {skill!r}")
        if not 0 <= skill < len(self._skills):
            raise SkillError(f"skill index {skill} out of range: {len(self._skills)} skills are valid now")
        chosen = self._skills[int(skill)]
        game = self._live()
        player = game._player
        before = {k: v for k, v in player.achievements.items() if v > 0}
        ctrl = sk.Controller(chosen, game, self._seen, self._rng, self.explore_steps)
        k, reward, done, actions = 0, 0.0, False, []
        while k < self.max_skill_steps and not done:
            action = ctrl.next_action()
            if action is None:
                break
            done, r = self._primitive(action)
            k += 1
            reward += r
            actions.append(sk.ACTIONS[action])
        if k == 0:  # the skill could not even start (its target moved away): let one step of time pass
            done, reward = self._primitive(sk.ACTION_INDEX["noop"])
            k, actions = 1, ["noop"]
        self._last_actions.append(chosen.text)
        dead = player.health <= 0
        self._ended = done
        obs = self._observe(reward=reward, k=k, done=dead, truncated=done and not dead)
        obs.info["actions"] = actions
        obs.info["unlocked"] = sorted(n for n, v in player.achievements.items() if v > 0 and n not in before)
        obs.info["skill_achieved"] = ctrl.achieved
        return obs

    def observe(self) -> Observation:
        """The current observation again, valid skills recomputed (after the world was edited, e.g. in tests)."""
        if self._game is None:
            raise SkillError("the crafter environment was not reset: call reset() first")
        self._mark_seen()
        return self._observe()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._game = None

    # -- internals -----------------------------------------------------------------------------
    def _live(self) -> CrafterGame:
        if self._game is None:
            raise SkillError("the crafter environment was not reset: call reset() first")
        return self._game

    def render_rgb(self, size: int = 256):
        """The player's view and inventory as Crafter draws them (numpy uint8, size x size x 3)."""
        return self._live().render((size, size))

    def _primitive(self, action: int) -> tuple[bool, float]:
        self._capture()  # a video's frame: the state this primitive step acts on
        _, reward, done, _ = self._live().step(action)
        self._mark_seen()
        return bool(done), float(reward)

    def _mark_seen(self) -> None:
        game = self._live()
        x0, x1, y0, y1 = sk.view_bounds(game._player.pos, game._world.area)
        self._seen[x0:x1, y0:y1] = True

    def _valid(self) -> list[sk.Skill]:
        game = self._live()
        if not self.use_skills:
            return list(sk.PRIMITIVE_SKILLS)
        skills = sk.valid_skills(game._world, game._player, self._seen, sk.SKILLS)
        if self.primitives:
            skills += list(sk.EXTRA_PRIMITIVES)
        return skills

    def _observe(self, reward: float = 0.0, k: int = 0, done: bool = False, truncated: bool = False) -> Observation:
        game = self._live()
        world, player = game._world, game._player
        self._skills = self._valid()
        shown = self._last_actions[-self.history :] if self.history else []
        seen = text.visible(world, player)
        info: dict[str, Any] = {
            "inventory": {k_: int(v) for k_, v in player.inventory.items()},
            "nearby": [name for name, _, _ in seen],
            "achievements": {k_: int(v) for k_, v in player.achievements.items()},
            "last_actions": list(self._last_actions[-max(self.history, 5) :]),
            "step": int(game._step or 0),
            "seed": self.seed,
            "vector": self._vector(),
            "skill_ids": [self._catalogue_id[s.text] for s in self._skills],
            "num_skill_ids": len(self._catalogue_id),
        }
        return Observation(
            text=text.describe(world, player, last_actions=shown, daylight=world.daylight),
            skills=[s.text for s in self._skills],
            goal=GOAL,
            reward=reward,
            done=done,
            truncated=truncated,
            k=k,
            info=info,
        )

    def _vector(self) -> list[float]:
        """Symbolic observation for MLP baselines: the 9x7 semantic view (crafter's ids), inventory, facing, sleeping, daylight."""
        game = self._live()
        world, player = game._world, game._player
        px, py = int(player.pos[0]), int(player.pos[1])
        ox, oy = sk.VIEW[0] // 2, sk.VIEW[1] // 2
        grid = np.zeros(sk.VIEW, np.int64)
        x0, x1, y0, y1 = sk.view_bounds(player.pos, world.area)
        gx, gy = x0 - (px - ox), y0 - (py - oy)
        grid[gx : gx + x1 - x0, gy : gy + y1 - y0] = world._mat_map[x0:x1, y0:y1]
        obj_ids = game._sem_view._obj_ids
        objs = world._obj_map[x0:x1, y0:y1]
        for x, y in zip(*np.nonzero(objs)):
            obj = world._objects[int(objs[x, y])]
            if obj is not None:
                grid[gx + x, gy + y] = obj_ids[type(obj)]
        return (
            grid.flatten().astype(float).tolist()
            + [float(v) for v in player.inventory.values()]
            + [float(player.facing[0]), float(player.facing[1]), float(player.sleeping), float(world.daylight)]
        )


_BOOL = {"true": True, "yes": True, "1": True, "on": True, "false": False, "no": False, "0": False, "off": False}
_OPTIONS = {
    "prefetch": "bool|backend",
    "skills": "bool",
    "primitives": "bool",
    "max_steps": "int",
    "max_skill_steps": "int",
    "explore_steps": "int",
    "history": "int",
    "prefetch_depth": "int",
}


def _coerce(key: str, value: Any) -> Any:
    """Options may arrive as strings from the command line (``--option max_steps=500``)."""
    kind = _OPTIONS[key]
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"crafter option {key} must be an integer, got {value!r}") from None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOL:
        return _BOOL[value.lower()]
    if kind == "bool|backend" and value in ("process", "thread"):
        return value
    raise ValueError(f"crafter option {key} must be true or false, got {value!r}")


def make_env(task: str = "default", seed: int | None = None, **options) -> CrafterEnv:
    """Build a Crafter SkillEnv. Options: prefetch (true|false|process|thread), skills, primitives,
    max_steps, max_skill_steps, explore_steps, history, prefetch_depth."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ValueError(f"unknown crafter option(s): {', '.join(unknown)}; known: {', '.join(sorted(_OPTIONS))}")
    return CrafterEnv(task=task, seed=seed, **{k: _coerce(k, v) for k, v in options.items()})
