"""The real Overcooked (``overcooked-ai`` 1.1.0, HumanCompatibleAI) as a SkillEnv.

Two chefs share a kitchen (``cramped_room``, ``asymmetric_advantages``, ... any
layout the package ships). The policy plays chef ``agent_index``; the other chef
is either a scripted greedy helper (``partner="scripted"``) or the policy itself
(``partner="self"``).

Timing (an event-driven semi-MDP): each chef runs one skill at a time, both
chefs' primitive actions go to the simulator together, and the simulation runs
until a chef the policy controls has finished its skill. That chef is asked for
its next skill; the observation says how many primitive steps passed (``k``) and
the team's delivery reward over them, discounted inside the macro
(``sum_j gamma**j r_j``). With ``partner="self"`` the decision points of the two
chefs interleave in one stream: ``info["chef"]`` and the text say whose turn it
is; when both finish together, chef 0 is asked first and chef 1 right after
with ``k = 0``. A scripted chef gets its next skill at once, without a decision.

Needs numpy<2 and scipy (the package's own pins), so it runs in its own
virtualenv: ``bash bridges/overcooked_ai/setup_venv.sh``.
"""

from __future__ import annotations

import operator
import random
from typing import Any

from overcooked_ai_py.mdp.actions import Direction
from overcooked_ai_py.mdp.overcooked_mdp import OvercookedGridworld, OvercookedState, Recipe
from overcooked_ai_py.planning.planners import MotionPlanner

from bridges.spec import Observation, SkillError
from skills import overcooked_ai as S

PARTNERS = ("scripted", "self")
DEFAULT_LAYOUT = "cramped_room"
VECTOR_SIZE = 97  # the package's featurize_state for 2 chefs and 2 pots (96) + time left


class _PlannerHolder:
    """``featurize_state`` wants an action manager only for its ``motion_planner``."""

    def __init__(self, planner: MotionPlanner):
        self.motion_planner = planner


_PLANNERS: dict[str, MotionPlanner] = {}


def _planner(layout: str, mdp: OvercookedGridworld) -> MotionPlanner:
    """One motion planner per layout and process: building it is the slow part of making an env
    (0.06 s for cramped_room, ~10 s for the 14x9 corridor) and it is read-only afterwards."""
    if layout not in _PLANNERS:
        _PLANNERS[layout] = MotionPlanner(mdp, counter_goals=mdp.get_counter_locations())
    return _PLANNERS[layout]


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"option {name} must be a boolean, got {value!r}")


class OvercookedAIEnv:
    """A two-chef Overcooked kitchen driven by skills; see the module docstring for the timing."""

    name = "overcooked_ai"

    def __init__(
        self,
        task: str = DEFAULT_LAYOUT,
        seed: int | None = None,
        partner: str = "scripted",
        agent_index: int = 0,
        horizon: int = 400,
        gamma: float = 0.99,
        reward_scale: float = 1.0,
        shaped_reward: float = 0.0,
        max_soups: int = 0,
        max_skill_steps: int = 40,
        wait_steps: int = 3,
        partner_epsilon: float = 0.0,
        random_start: bool = False,
    ):
        if partner not in PARTNERS:
            raise ValueError(f"option partner must be one of {', '.join(PARTNERS)}, got {partner!r}")
        try:
            self.mdp = OvercookedGridworld.from_layout_name(task)
        except FileNotFoundError:
            raise ValueError(f"unknown overcooked-ai layout {task!r} (the package's data/layouts/*.layout)") from None
        if self.mdp.num_players != 2:
            raise ValueError(f"layout {task!r} has {self.mdp.num_players} chefs; this bridge needs a 2-chef layout")
        agent_index = int(agent_index)
        if agent_index not in (0, 1):
            raise ValueError(f"option agent_index must be 0 or 1, got {agent_index!r}")
        for key, val, low in (
            ("horizon", horizon, 1),
            ("max_skill_steps", max_skill_steps, 1),
            ("wait_steps", wait_steps, 1),
            ("max_soups", max_soups, 0),
        ):
            if int(val) < low:
                raise ValueError(f"option {key} must be an integer >= {low}, got {val!r}")
        if not 0.0 < float(gamma) <= 1.0:
            raise ValueError(f"option gamma must be in (0, 1], got {gamma!r}")
        if not 0.0 <= float(partner_epsilon) <= 1.0:
            raise ValueError(f"option partner_epsilon must be in [0, 1], got {partner_epsilon!r}")
        self.task = task
        self.partner = partner
        self.agent_index = agent_index
        self.horizon = int(horizon)
        self.gamma = float(gamma)
        self.reward_scale = float(reward_scale)
        self.shaped_reward = float(shaped_reward)
        self.max_soups = int(max_soups)
        self.max_skill_steps = int(max_skill_steps)
        self.wait_steps = int(wait_steps)
        self.partner_epsilon = float(partner_epsilon)
        self.random_start = _as_bool("random_start", random_start)
        self.planner = _planner(task, self.mdp)
        self.kitchen = S.Kitchen(self.mdp, self.planner)
        self._features = _PlannerHolder(self.planner)
        self._rng = random.Random(seed)
        self._policy_chefs = [0, 1] if partner == "self" else [agent_index]
        self.state: Any = None  # an OvercookedState once reset
        self._runners: list[S.SkillRunner | None] = [None, None]
        self._turn = agent_index
        self._valid: list[int] = []
        self._soups = 0
        self._wasted = 0
        self._score = 0.0
        self._over = True

    # ---- SkillEnv -----------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> Observation:
        if seed is not None:
            self._rng.seed(seed)
        start = self.mdp.get_standard_start_state()
        if self.random_start:
            positions = self._rng.choice(self.mdp.get_valid_joint_player_positions())
            start = OvercookedState.from_player_positions(
                positions, bonus_orders=self.mdp.start_bonus_orders, all_orders=self.mdp.start_all_orders
            )
        self.state = start.deepcopy()
        self._runners = [None, None]
        self._soups = 0
        self._wasted = 0
        self._score = 0.0
        self._over = False
        return self._advance()

    def step(self, skill: int) -> Observation:
        if self.state is None or self._over:
            raise SkillError("the episode is over (or never started): call reset() first")
        try:
            index = -1 if isinstance(skill, bool) else operator.index(skill)  # numpy ints too, not 1.0 or "1"
        except TypeError:
            index = -1
        if not 0 <= index < len(self._valid):
            raise SkillError(
                f"skill index {skill!r} out of range: {len(self._valid)} skills are valid "
                f"({', '.join(self._texts(self._turn))})"
            )
        self._start(self._turn, self._valid[index])
        return self._advance()

    def close(self) -> None:
        self.state = None

    # ---- simulation -----------------------------------------------------------------------------
    def _start(self, chef: int, skill_id: int) -> None:
        self._runners[chef] = S.SkillRunner(
            self.kitchen, chef, skill_id, self._rng, max_steps=self.max_skill_steps, wait_steps=self.wait_steps
        )

    def _advance(self) -> Observation:
        """Run primitive steps until a policy chef needs a skill (or the episode ends)."""
        assert self.state is not None
        reward, k = 0.0, 0
        while True:
            waiting = [c for c in self._policy_chefs if self._runners[c] is None]
            if waiting and not self._over:
                return self._observe(waiting[0], reward, k)
            if self._over:
                return self._observe(self._turn, reward, k)
            for chef in (0, 1):
                if self._runners[chef] is None:  # a scripted chef: next skill at once
                    self._start(
                        chef, S.scripted_choice(self.kitchen, self.state, chef, self._rng, self.partner_epsilon)
                    )
            joint = tuple(self._runner(c).next_action(self.state) for c in (0, 1))
            self.state, infos = self.mdp.get_state_transition(self.state, joint)
            sparse = float(sum(infos["sparse_reward_by_agent"]))
            shaped = float(sum(infos["shaped_reward_by_agent"]))
            # A soup that is not on the order list (1 onion, say) is delivered for 0 points: not counted.
            scored = sum(1 for x in infos["sparse_reward_by_agent"] if x > 0)
            self._soups += scored
            self._wasted += sum(bool(x) for x in infos["event_infos"]["soup_delivery"]) - scored
            r = self.reward_scale * (sparse + self.shaped_reward * shaped)
            reward += self.gamma**k * r
            self._score += sparse
            k += 1
            for chef in (0, 1):
                runner = self._runners[chef]
                if runner is not None and runner.done:
                    self._runners[chef] = None
            if self.state.timestep >= self.horizon or (self.max_soups and self._soups >= self.max_soups):
                self._over = True

    def _runner(self, chef: int) -> S.SkillRunner:
        runner = self._runners[chef]
        assert runner is not None, f"chef {chef} has no skill running"
        return runner

    def _texts(self, chef: int) -> list[str]:
        return [self.kitchen.skill_text(s, self.state, chef) for s in self._valid]

    def _observe(self, chef: int, reward: float, k: int) -> Observation:
        self._turn = chef
        self._valid = self.kitchen.valid_skills(self.state, chef)
        info: dict[str, Any] = {
            "chef": chef,
            "timestep": int(self.state.timestep),
            "soups": int(self._soups),
            "wasted_soups": int(self._wasted),
            "score": float(self._score),
            "skill_ids": list(self._valid),
            "num_skill_ids": S.NUM_SKILLS,
            "vector": self.vector(chef),
        }
        if self._over:
            info["success"] = self._soups >= max(1, self.max_soups)
        return Observation(
            text=self.describe(chef),
            skills=self._texts(chef),
            goal=self._goal(),
            reward=float(reward),
            done=self._over,
            k=int(k),
            info=info,
        )

    # ---- observations -----------------------------------------------------------------------------
    def vector(self, chef: int) -> list[float]:
        """The package's ``featurize_state`` for ``chef`` (chef-centric, 96 numbers) + the share of time left."""
        feats = self.mdp.featurize_state(self.state, self._features)[chef]
        out = [float(x) for x in feats]
        out.append(1.0 - self.state.timestep / self.horizon)
        return out

    def _recipe(self) -> tuple[list[str], int, float]:
        ingredients = list(self.mdp.start_all_orders[0]["ingredients"])
        recipe = Recipe(ingredients)
        return ingredients, int(recipe.time), float(recipe.value)

    def _goal(self) -> str:
        ingredients, _, _ = self._recipe()
        return f"cook soups of {_count_words(ingredients)} and serve as many as you can"

    def describe(self, chef: int) -> str:
        """The kitchen in words, from ``chef``'s point of view, ending with "You should"."""
        st, k = self.state, self.kitchen
        ingredients, cook_time, value = self._recipe()
        other = 1 - chef
        lines = [
            f"You are one of two chefs in an Overcooked kitchen ({self.task}). A soup needs "
            f"{_count_words(ingredients)} in a pot; then someone starts cooking it, it cooks for {cook_time} steps, "
            f"and a chef brings it in a dish to the serving spot ({value:g} points). "
            "Positions are (column, row), row 0 at the top.",
            f"Time step {st.timestep} of {self.horizon}; {self._soups} soup{'s' if self._soups != 1 else ''} "
            "served so far" + (f" (and {self._wasted} that scored nothing)." if self._wasted else "."),
            f"You are at {_pos(st.players[chef].position)} facing {_facing(st.players[chef].orientation)}, "
            f"{_holding(st.players[chef].held_object)}.",
        ]
        who = "The other chef (your teammate)" if self.partner == "self" else "The other chef (a scripted helper)"
        doing = ""
        runner = self._runners[other]
        if runner is not None and not self._over:
            doing = f", and is going to {k.skill_text(runner.skill, st, other)}"
        lines.append(
            f"{who} is at {_pos(st.players[other].position)}, {_holding(st.players[other].held_object)}{doing}."
        )
        for pos, soup in k.pots(st):
            lines.append(f"The pot at {_pos(pos)} {_pot_words(soup)}.")
        counter = sorted((pos, obj) for pos, obj in st.objects.items() if pos not in self.mdp.get_pot_locations())
        if counter:
            lines.append("On the counters: " + ", ".join(f"{_object_words(o)} at {_pos(p)}" for p, o in counter) + ".")
        else:
            lines.append("The counters are empty.")
        near = []
        me = st.players[chef]
        for label, targets in (
            ("an onion", self.mdp.get_onion_dispenser_locations() + k.counter_objects(st, "onion")),
            ("a tomato", self.mdp.get_tomato_dispenser_locations() + k.counter_objects(st, "tomato")),
            ("a dish", self.mdp.get_dish_dispenser_locations() + k.counter_objects(st, "dish")),
            ("a pot", self.mdp.get_pot_locations()),
            ("the serving spot", self.mdp.get_serving_locations()),
        ):
            if not targets:
                continue
            d = k.distance(me, targets)
            near.append(f"{label} {'out of reach' if d is None else f'{d} step' + ('s' if d != 1 else '')}")
        lines.append("Distances from you: " + ", ".join(near) + ".")
        lines.append("You should")
        return " ".join(lines)


def _count_words(ingredients: list[str]) -> str:
    words = []
    for name in sorted(set(ingredients)):
        n = ingredients.count(name)
        words.append(f"{n} {name}{'s' if n != 1 else ''}")
    return " and ".join(words)


def _pos(pos: tuple[int, int]) -> str:
    return f"({pos[0]}, {pos[1]})"


def _facing(orientation: tuple[int, int]) -> str:
    return S.DIRECTION_WORDS[(orientation[0], orientation[1])]


def _object_words(obj: Any) -> str:
    if obj.name == "soup":
        return f"a soup of {_count_words(obj.ingredients)}" if obj.ingredients else "an empty soup"
    return S._article(obj.name)


def _holding(obj: Any) -> str:
    return "carrying nothing" if obj is None else f"carrying {_object_words(obj)}"


def _pot_words(soup: Any) -> str:
    if soup is None or not soup.ingredients:
        return "is empty"
    contents = _count_words(soup.ingredients)
    if soup.is_ready:
        return f"holds a ready soup of {contents}"
    if soup.is_cooking:
        left = soup.cook_time_remaining
        return f"is cooking {contents}, {left} step{'s' if left != 1 else ''} left"
    return f"holds {contents}, not cooking yet"


def make_env(task: str = DEFAULT_LAYOUT, seed: int | None = None, **options: Any) -> OvercookedAIEnv:
    """An Overcooked kitchen; ``task`` is the layout name (e.g. cramped_room); options as in OvercookedAIEnv."""
    known = set(OvercookedAIEnv.__init__.__code__.co_varnames[3 : OvercookedAIEnv.__init__.__code__.co_argcount])
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown overcooked_ai option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return OvercookedAIEnv(task=task, seed=seed, **options)


assert Direction.NORTH == S.NORTH and Direction.EAST == S.EAST  # the skills module mirrors these constants
