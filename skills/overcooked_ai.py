"""Skills for the real Overcooked simulator (the ``overcooked-ai`` package, 1.1.0).

A fixed catalogue of macro-actions ("pick up an onion", "put the onion in the
pot", ...), which of them are valid in a state, and a controller that runs one
skill for one chef as primitive actions, steering with the package's own
``MotionPlanner`` (shortest plans between (position, orientation) pairs).

This module never imports ``overcooked_ai_py``: it works on the objects the
bridge hands it (an ``OvercookedGridworld``, its ``OvercookedState`` and a
``MotionPlanner``), so it can be imported, and its pure parts tested, without
the simulator installed. The action constants below are the package's values
(``Action.STAY == (0, 0)``, ``Action.INTERACT == "interact"``, directions as
(dx, dy) with y growing downwards).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

STAY = (0, 0)
INTERACT = "interact"
NORTH, SOUTH, EAST, WEST = (0, -1), (0, 1), (1, 0), (-1, 0)
MOVES = [NORTH, SOUTH, EAST, WEST]
DIRECTION_WORDS = {NORTH: "up", SOUTH: "down", EAST: "right", WEST: "left"}

# The catalogue. A skill's id is its index here and never changes, so a policy
# with a fixed action head (the PPO-MLP baseline) can mask by id.
PICK_ONION = 0
PICK_TOMATO = 1
PICK_DISH = 2
PICK_COUNTER_SOUP = 3
PUT_ONION_IN_POT = 4
PUT_TOMATO_IN_POT = 5
START_COOKING = 6
PICK_UP_SOUP = 7
SERVE_SOUP = 8
PUT_DOWN = 9
WAIT = 10

SKILL_TEXTS: list[str] = [
    "pick up an onion",
    "pick up a tomato",
    "pick up a dish",
    "pick up the soup from the counter",
    "put the onion in the pot",
    "put the tomato in the pot",
    "start cooking the soup",
    "fill the dish with soup",
    "serve the soup",
    "put the {held} on the counter",
    "wait",
]
NUM_SKILLS = len(SKILL_TEXTS)

_INGREDIENTS = ("onion", "tomato")


def _article(name: str) -> str:
    return ("an " if name[0] in "aeiou" else "a ") + name


class Kitchen:
    """Queries about one layout: where things are, what a chef can reach, which skills are valid.

    ``mdp`` is an ``OvercookedGridworld``; ``planner`` a ``MotionPlanner`` built
    with every counter as a motion goal (so counters can be used to drop and
    pick up objects).
    """

    def __init__(self, mdp: Any, planner: Any):
        self.mdp = mdp
        self.planner = planner

    # ---- features ---------------------------------------------------------------------------
    def counter_objects(self, state: Any, name: str) -> list[tuple[int, int]]:
        """Counters holding an object called ``name`` ("onion", "dish", "soup", ...)."""
        return sorted(self.mdp.get_counter_objects_dict(state)[name])

    def pots(self, state: Any) -> list[tuple[tuple[int, int], Any]]:
        """Every pot position with the soup in it (or None when the pot is empty)."""
        return [(pos, state.get_object(pos) if state.has_object(pos) else None) for pos in self.mdp.get_pot_locations()]

    def fillable_pots(self, state: Any) -> list[tuple[int, int]]:
        return [pos for pos, soup in self.pots(state) if soup is None or (soup.is_idle and not soup.is_full)]

    def cookable_pots(self, state: Any) -> list[tuple[int, int]]:
        return [pos for pos, soup in self.pots(state) if soup is not None and soup.is_idle and soup.ingredients]

    def soup_pots(self, state: Any) -> list[tuple[int, int]]:
        """Pots whose soup is cooking or ready (a chef with a dish can wait there for it)."""
        return [pos for pos, soup in self.pots(state) if soup is not None and not soup.is_idle]

    def targets(self, skill: int, state: Any, chef: int) -> list[tuple[int, int]]:
        """The cells that ``skill`` would interact with now, for chef ``chef`` (empty: not applicable)."""
        held = state.players[chef].held_object
        name = held.name if held is not None else None
        mdp = self.mdp
        if skill == PICK_ONION and name is None:
            return mdp.get_onion_dispenser_locations() + self.counter_objects(state, "onion")
        if skill == PICK_TOMATO and name is None:
            return mdp.get_tomato_dispenser_locations() + self.counter_objects(state, "tomato")
        if skill == PICK_DISH and name is None:
            return mdp.get_dish_dispenser_locations() + self.counter_objects(state, "dish")
        if skill == PICK_COUNTER_SOUP and name is None:
            return self.counter_objects(state, "soup")
        if skill == PUT_ONION_IN_POT and name == "onion":
            return self.fillable_pots(state)
        if skill == PUT_TOMATO_IN_POT and name == "tomato":
            return self.fillable_pots(state)
        if skill == START_COOKING and name is None:
            return self.cookable_pots(state)
        if skill == PICK_UP_SOUP and name == "dish":
            return self.soup_pots(state)
        if skill == SERVE_SOUP and name == "soup":
            return mdp.get_serving_locations()
        if skill == PUT_DOWN and name is not None:
            return sorted(mdp.get_empty_counter_locations(state))
        return []

    # ---- motion -----------------------------------------------------------------------------
    def best_goal(self, start: Any, targets: Sequence[tuple[int, int]]) -> tuple[Any, int] | None:
        """The nearest (position, orientation) facing one of ``targets`` reachable from ``start``,
        and the plan's cost (moves + the final interact); None when none is reachable."""
        best = None
        for target in targets:
            for goal in self.planner.motion_goals_for_pos[target]:
                if not self.planner.is_valid_motion_start_goal_pair(start, goal):
                    continue
                cost = self.planner.get_plan(start, goal)[2]
                if best is None or cost < best[1]:
                    best = (goal, cost)
        return best

    def distance(self, chef_state: Any, targets: Sequence[tuple[int, int]]) -> int | None:
        """Primitive steps for a chef to reach and face the nearest target (None: unreachable)."""
        best = self.best_goal(chef_state.pos_and_or, targets)
        return None if best is None else best[1] - 1

    def detour(self, start: Any, targets: Sequence[tuple[int, int]], avoid: set[tuple[int, int]]) -> list[Any] | None:
        """Shortest actions (moves, then the interact) from ``start`` to face one of ``targets``
        without entering the cells in ``avoid``; None when there is no such way."""
        goals = {g for t in targets for g in self.planner.motion_goals_for_pos[t]}
        frontier = [start]
        seen: dict[Any, tuple[Any, Any] | None] = {start: None}
        while frontier:
            nxt = []
            for node in frontier:
                if node in goals:
                    path: list[Any] = [INTERACT]
                    while (back := seen[node]) is not None:
                        node, action = back
                        path.append(action)
                    return path[::-1]
                for action in MOVES:
                    pos, orient = self.mdp._move_if_direction(node[0], node[1], action)
                    if pos in avoid:
                        continue
                    succ = (pos, orient)
                    if succ not in seen:
                        seen[succ] = (node, action)
                        nxt.append(succ)
            frontier = nxt
        return None

    # ---- validity and wording ---------------------------------------------------------------
    def is_valid(self, skill: int, state: Any, chef: int) -> bool:
        if skill == WAIT:
            return True
        if not 0 <= skill < NUM_SKILLS:
            return False
        targets = self.targets(skill, state, chef)
        return bool(targets) and self.best_goal(state.players[chef].pos_and_or, targets) is not None

    def valid_skills(self, state: Any, chef: int) -> list[int]:
        """Catalogue ids of the skills chef ``chef`` can start now, in catalogue order ("wait" always)."""
        return [s for s in range(NUM_SKILLS) if self.is_valid(s, state, chef)]

    def skill_text(self, skill: int, state: Any, chef: int) -> str:
        held = state.players[chef].held_object
        return SKILL_TEXTS[skill].format(held=held.name if held is not None else "item")


class SkillRunner:
    """Runs one skill for one chef, one primitive action per call to ``next_action``.

    The skill walks (re-planning every step, since the other chef moves) to the
    nearest target, turns to face it and interacts; it ends right after that
    interact. "fill the dish with soup" waits facing the pot until the soup is
    ready. When a move did not land where it should, the other chef is in the
    way: the chef walks round it (a shortest way that avoids its cell) or, half
    the time or when there is no way round, takes a random step. A skill whose
    targets vanish (the other chef took the last onion from the counter) or that
    runs ``max_steps`` steps ends without its effect; every skill takes at least
    one primitive step.
    """

    def __init__(
        self,
        kitchen: Kitchen,
        chef: int,
        skill: int,
        rng: random.Random,
        max_steps: int = 40,
        wait_steps: int = 3,
    ):
        if not 0 <= skill < NUM_SKILLS:
            raise ValueError(f"skill id {skill!r} not in the catalogue (0..{NUM_SKILLS - 1})")
        self.kitchen = kitchen
        self.chef = chef
        self.skill = skill
        self.rng = rng
        self.max_steps = max_steps
        self.wait_steps = wait_steps
        self.steps = 0
        self.done = False
        self._expect: Any = None  # where the last action should have put the chef: (pos, orientation)
        self._detour: list[Any] = []  # the rest of a way round the other chef, being followed

    def next_action(self, state: Any) -> Any:
        """The primitive action to take now (``done`` becomes True when this is the skill's last)."""
        self.steps += 1
        if self.steps >= self.max_steps:
            self.done = True
        if self.skill == WAIT:
            self.done = self.done or self.steps >= self.wait_steps
            return STAY
        me = state.players[self.chef]
        targets = self.kitchen.targets(self.skill, state, self.chef)
        best = self.kitchen.best_goal(me.pos_and_or, targets) if targets else None
        if best is None:
            self.done = True
            return STAY
        if self._expect is not None and self._expect != me.pos_and_or:
            # Blocked by the other chef (the package's planner ignores other chefs). Half the
            # time a random step: two chefs that both walk round the same way, or that both
            # head for the same cell, would block each other again and again.
            others = {p.position for i, p in enumerate(state.players) if i != self.chef}
            way = self.kitchen.detour(me.pos_and_or, targets, others) if self.rng.random() < 0.5 else None
            self._detour = way or [self.rng.choice(MOVES + [STAY])]
        action = self._detour.pop(0) if self._detour else self.kitchen.planner.get_plan(me.pos_and_or, best[0])[0][0]
        if action == INTERACT and goal_target(me.pos_and_or) not in targets:
            # A way round planned for targets that have changed since: plan afresh.
            self._detour = []
            action = self.kitchen.planner.get_plan(me.pos_and_or, best[0])[0][0]
        if action == INTERACT:
            self._expect = me.pos_and_or
            pot = goal_target(me.pos_and_or)
            if self.skill == PICK_UP_SOUP and not state.get_object(pot).is_ready:
                return STAY  # facing the pot: wait for the soup
            self.done = True
            return INTERACT
        self._expect = self.kitchen.mdp._move_if_direction(me.position, me.orientation, action)
        return action


def goal_target(goal: Any) -> tuple[int, int]:
    """The cell a (position, orientation) motion goal faces."""
    (x, y), (dx, dy) = goal
    return (x + dx, y + dy)


def scripted_choice(kitchen: Kitchen, state: Any, chef: int, rng: random.Random, epsilon: float = 0.0) -> int:
    """A greedy helper's next skill: keep the pot filled, start it, fetch a dish, serve.

    With probability ``epsilon`` it picks a random valid skill instead.
    """
    valid = kitchen.valid_skills(state, chef)
    if epsilon > 0 and rng.random() < epsilon:
        return rng.choice(valid)
    held = state.players[chef].held_object
    name = held.name if held is not None else None
    others_hold = {p.held_object.name for i, p in enumerate(state.players) if i != chef and p.held_object is not None}
    order = kitchen.mdp.start_all_orders[0]["ingredients"] if kitchen.mdp.start_all_orders else ["onion"] * 3
    if name == "soup":
        prefs = [SERVE_SOUP, PUT_DOWN]
    elif name == "dish":
        prefs = [PICK_UP_SOUP, PUT_DOWN]
    elif name in _INGREDIENTS:
        prefs = [PUT_ONION_IN_POT if name == "onion" else PUT_TOMATO_IN_POT, PUT_DOWN]
    else:
        full_idle = [pos for pos, soup in kitchen.pots(state) if soup is not None and soup.is_idle and soup.is_full]
        prefs = []
        if full_idle:
            prefs.append(START_COOKING)
        if kitchen.soup_pots(state) and not ({"dish", "soup"} & others_hold):
            prefs.append(PICK_DISH)
        if kitchen.counter_objects(state, "soup"):
            prefs.append(PICK_COUNTER_SOUP)
        if kitchen.fillable_pots(state):
            wanted = "tomato" if "tomato" in order and "onion" not in order else "onion"
            prefs.append(PICK_TOMATO if wanted == "tomato" else PICK_ONION)
    for skill in prefs:
        if skill in valid:
            return skill
    return WAIT
