"""Crafter skill library: skill texts, when each is valid, and the controllers that run them.

A skill is a macro-action ("collect wood", "make stone pickaxe", ...). Its
controller plans on the *known map* (cells that have been in the agent's view
this episode; their current contents are read from the world) with a
breadth-first search over (position, facing) states around the agent, walks to
the nearest target, turns to face it and acts, re-planning every primitive step
(creatures move). A skill ends when its effect shows (the achievement counter
it aims at goes up), when it cannot go on (target gone or out of reach), or at
the caller's cap of primitive steps.

Requirements (tools, materials, nearby table/furnace) come from crafter's own
``data.yaml`` (``crafter.constants``); a skill is offered only when the
inventory allows it and its target is visible and reachable.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from crafter import constants, objects

ACTIONS: list[str] = list(constants.actions)
ACTION_INDEX: dict[str, int] = {a: i for i, a in enumerate(ACTIONS)}
# Directions in the order of crafter's move actions 1..4: left (west), right (east), up (north), down (south).
DIRS: tuple[tuple[int, int], ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))
MOVE = {d: ACTION_INDEX[a] for d, a in zip(DIRS, ("move_left", "move_right", "move_up", "move_down"))}
VIEW = (9, 7)  # crafter's local view grid (the 9x9 image less two inventory rows)
RADIUS = 8  # planning box: cells within this many steps (per axis) of the agent
WALKABLE = tuple(constants.walkable)
_PRIMITIVE_NAMES = {
    "noop": "noop",
    "move_left": "move west",
    "move_right": "move east",
    "move_up": "move north",
    "move_down": "move south",
    "do": "do",
}
CREATURES = {"cow": objects.Cow, "zombie": objects.Zombie, "skeleton": objects.Skeleton}


def primitive_text(action: str) -> str:
    """Text of a crafter primitive action (``move_left`` -> ``move west``, ``make_wood_pickaxe`` -> ``make wood pickaxe``)."""
    return _PRIMITIVE_NAMES.get(action, action.replace("_", " "))


def view_bounds(pos, area) -> tuple[int, int, int, int]:
    """(x0, x1, y0, y1), end-exclusive: the visible window around ``pos``, clipped to the world."""
    ox, oy = VIEW[0] // 2, VIEW[1] // 2
    x, y = int(pos[0]), int(pos[1])
    return max(0, x - ox), min(area[0], x + ox + 1), max(0, y - oy), min(area[1], y + oy + 1)


@dataclass(frozen=True)
class Skill:
    """One macro-action. ``kind`` picks the controller, ``arg`` its target, ``achievement`` its effect."""

    text: str
    kind: str  # collect | place | make | attack | eat_plant | sleep | explore | primitive
    arg: str = ""
    achievement: str | None = None


def _collect(material: str, item: str) -> Skill:
    return Skill(f"collect {item}", "collect", material, f"collect_{item}")


SKILLS: tuple[Skill, ...] = (
    _collect("tree", "wood"),
    Skill("place table", "place", "table", "place_table"),
    Skill("make wood pickaxe", "make", "wood_pickaxe", "make_wood_pickaxe"),
    Skill("make wood sword", "make", "wood_sword", "make_wood_sword"),
    _collect("stone", "stone"),
    Skill("place stone", "place", "stone", "place_stone"),
    Skill("make stone pickaxe", "make", "stone_pickaxe", "make_stone_pickaxe"),
    Skill("make stone sword", "make", "stone_sword", "make_stone_sword"),
    _collect("coal", "coal"),
    Skill("place furnace", "place", "furnace", "place_furnace"),
    _collect("iron", "iron"),
    Skill("make iron pickaxe", "make", "iron_pickaxe", "make_iron_pickaxe"),
    Skill("make iron sword", "make", "iron_sword", "make_iron_sword"),
    _collect("diamond", "diamond"),
    _collect("water", "drink"),
    Skill("eat cow", "attack", "cow", "eat_cow"),
    _collect("grass", "sapling"),
    Skill("place plant", "place", "plant", "place_plant"),
    Skill("eat plant", "eat_plant", "plant", "eat_plant"),
    Skill("defeat zombie", "attack", "zombie", "defeat_zombie"),
    Skill("defeat skeleton", "attack", "skeleton", "defeat_skeleton"),
    Skill("sleep", "sleep", "", "wake_up"),
    Skill("explore", "explore"),
)
SKILL_BY_TEXT: dict[str, Skill] = {s.text: s for s in SKILLS}
PRIMITIVE_SKILLS: tuple[Skill, ...] = tuple(Skill(primitive_text(a), "primitive", a) for a in ACTIONS)
# With skills on, the primitives whose text is not already a skill (movement, do, noop) can be added.
EXTRA_PRIMITIVES: tuple[Skill, ...] = tuple(s for s in PRIMITIVE_SKILLS if s.text not in SKILL_BY_TEXT)
# Fixed catalogue ids (for baselines with one output per possible skill): skills then the extra
# primitives in skill mode; crafter's own action ids in primitive mode.
SKILL_CATALOGUE: tuple[Skill, ...] = SKILLS + EXTRA_PRIMITIVES


def has_items(inventory: dict[str, int], needs: dict[str, int]) -> bool:
    return all(inventory.get(k, 0) >= v for k, v in needs.items())


def inventory_allows(skill: Skill, inventory: dict[str, int]) -> bool:
    """Whether the inventory meets crafter's requirement for the skill (tools to collect, items to use)."""
    if skill.kind == "collect":
        return has_items(inventory, constants.collect[skill.arg]["require"])
    if skill.kind == "place":
        return has_items(inventory, constants.place[skill.arg]["uses"])
    if skill.kind == "make":
        return has_items(inventory, constants.make[skill.arg]["uses"])
    if skill.kind == "sleep":
        return inventory["energy"] < constants.items["energy"]["max"]
    return True


class LocalMap:
    """The known map in a box of +-``radius`` cells around the player, ready for search.

    Cell codes: 0 = may not step toward it (unseen, lava, outside the box),
    1 = free (a move goes there), 2 = blocked (a move toward it only turns the player).
    """

    def __init__(self, world, player, seen: np.ndarray, radius: int = RADIUS):
        px, py = int(player.pos[0]), int(player.pos[1])
        w, h = world.area
        self.x0, self.y0 = max(0, px - radius), max(0, py - radius)
        x1, y1 = min(w, px + radius + 1), min(h, py + radius + 1)
        self.world, self.player = world, player
        self._seen_full = seen
        mat = world._mat_map[self.x0 : x1, self.y0 : y1]
        self.mat = mat
        self.objs = world._obj_map[self.x0 : x1, self.y0 : y1]
        self.seen = seen[self.x0 : x1, self.y0 : y1]
        ids = world._mat_ids
        walk = np.isin(mat, [ids[m] for m in WALKABLE if m in ids])
        lava = mat == ids.get("lava", -1)
        free = self.seen & walk & (self.objs == 0)
        code = np.where(~self.seen | lava, 0, np.where(free, 1, 2))
        sx, sy = px - self.x0, py - self.y0
        code[sx, sy] = 1  # the player's own cell
        self.code = code.tolist()
        self.w, self.h = code.shape
        self.start = (sx, sy, DIRS.index(tuple(int(v) for v in player.facing)))

    # -- cells in box coordinates --------------------------------------------------------------
    def cells(self, mask: np.ndarray) -> set[tuple[int, int]]:
        xs, ys = np.nonzero(mask)
        return set(zip(xs.tolist(), ys.tolist()))

    def in_view(self, cells: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
        x0, x1, y0, y1 = view_bounds(self.player.pos, self.world.area)
        return {(x, y) for x, y in cells if x0 <= x + self.x0 < x1 and y0 <= y + self.y0 < y1}

    def material_cells(self, names: Iterable[str]) -> set[tuple[int, int]]:
        """Seen cells of these materials with no object on them."""
        ids = [self.world._mat_ids[n] for n in names if n in self.world._mat_ids]
        return self.cells(np.isin(self.mat, ids) & self.seen & (self.objs == 0))

    def object_cells(self, pred: Callable[[object], bool]) -> set[tuple[int, int]]:
        out = set()
        for x, y in zip(*np.nonzero(self.objs)):
            obj = self.world._objects[int(self.objs[x, y])]
            if obj is not None and obj is not self.player and pred(obj):
                out.add((int(x), int(y)))
        return out

    def frontier(self) -> set[tuple[int, int]]:
        """Free known cells next to a cell never seen (the edge of the known map)."""
        seen = self.seen
        pad = np.ones((seen.shape[0] + 2, seen.shape[1] + 2), bool)
        pad[1:-1, 1:-1] = seen
        # Cells beyond the box edge count as unseen only if they are inside the world and unseen there.
        full = self._seen_full
        w, h = self.world.area
        for i in range(pad.shape[0]):
            for j in (0, pad.shape[1] - 1):
                pad[i, j] = self._seen_at(full, self.x0 + i - 1, self.y0 + j - 1, w, h)
        for j in range(pad.shape[1]):
            for i in (0, pad.shape[0] - 1):
                pad[i, j] = self._seen_at(full, self.x0 + i - 1, self.y0 + j - 1, w, h)
        unseen_nb = ~pad[:-2, 1:-1] | ~pad[2:, 1:-1] | ~pad[1:-1, :-2] | ~pad[1:-1, 2:]
        free = np.array(self.code) == 1
        return self.cells(free & unseen_nb)

    @staticmethod
    def _seen_at(full: np.ndarray, x: int, y: int, w: int, h: int) -> bool:
        return not (0 <= x < w and 0 <= y < h) or bool(full[x, y])

    # -- search --------------------------------------------------------------------------------
    def _moves(self, state):
        x, y, _ = state
        code = self.code
        for fi, (dx, dy) in enumerate(DIRS):
            nx, ny = x + dx, y + dy
            if 0 <= nx < self.w and 0 <= ny < self.h:
                c = code[nx][ny]
                if c == 1:
                    yield fi, (nx, ny, fi)
                elif c == 2:
                    yield fi, (x, y, fi)

    def path(self, goal: Callable[[int, int, int], bool]) -> list[int] | None:
        """Move actions from the player's state to the nearest state satisfying ``goal``; None if none."""
        start = self.start
        if goal(*start):
            return []
        parent: dict[tuple[int, int, int], tuple[tuple[int, int, int], int] | None] = {start: None}
        queue = deque([start])
        while queue:
            state = queue.popleft()
            for fi, nxt in self._moves(state):
                if nxt in parent:
                    continue
                parent[nxt] = (state, fi)
                if goal(*nxt):
                    actions = []
                    node = nxt
                    while (back := parent[node]) is not None:
                        node, f = back
                        actions.append(MOVE[DIRS[f]])
                    return actions[::-1]
                queue.append(nxt)
        return None

    def reachable(self) -> set[tuple[int, int, int]]:
        """Every (x, y, facing) state the player can reach in the box."""
        seen = {self.start}
        queue = deque([self.start])
        while queue:
            for _, nxt in self._moves(queue.popleft()):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return seen


class Goal:
    """Where the player must be: facing one of ``cells`` (``face``) or standing on one (``at``)."""

    def __init__(self, cells: set[tuple[int, int]], face: bool):
        self.cells = cells
        self.face = face

    def __call__(self, x: int, y: int, f: int) -> bool:
        if self.face:
            dx, dy = DIRS[f]
            return (x + dx, y + dy) in self.cells
        return (x, y) in self.cells

    def reached_by(self, states: set[tuple[int, int, int]], positions: set[tuple[int, int]]) -> bool:
        """Whether any of the reachable ``states`` (``positions``: their cells) satisfies the goal."""
        if self.face:
            return any((cx - dx, cy - dy, f) in states for cx, cy in self.cells for f, (dx, dy) in enumerate(DIRS))
        return not self.cells.isdisjoint(positions)


def facing_goal(cells: set[tuple[int, int]]) -> Goal:
    return Goal(cells, face=True)


def position_goal(cells: set[tuple[int, int]]) -> Goal:
    return Goal(cells, face=False)


def _near_cells(lmap: LocalMap, stations: list[str], view_only: bool) -> set[tuple[int, int]]:
    """Positions from which every station in ``stations`` is within crafter's 'nearby' square (3x3)."""
    result: set[tuple[int, int]] | None = None
    for name in stations:
        mid = lmap.world._mat_ids.get(name)
        cells = lmap.cells((lmap.mat == mid) & lmap.seen) if mid is not None else set()
        if view_only:
            cells = lmap.in_view(cells)
        around = {(x + i, y + j) for x, y in cells for i in (-1, 0, 1) for j in (-1, 0, 1)}
        result = around if result is None else result & around
    return result or set()


def goal_for(skill: Skill, lmap: LocalMap, view_only: bool) -> Goal | None:
    """Where the player must stand (and face) to perform ``skill``; None if it has no spatial target."""
    if skill.kind == "collect":
        cells = lmap.material_cells([skill.arg])
    elif skill.kind == "place":
        cells = lmap.material_cells(constants.place[skill.arg]["where"])
    elif skill.kind == "attack":
        cls = CREATURES[skill.arg]
        cells = lmap.in_view(lmap.object_cells(lambda o: isinstance(o, cls)))
        return facing_goal(cells)
    elif skill.kind == "eat_plant":
        cells = lmap.object_cells(lambda o: isinstance(o, objects.Plant) and o.ripe)
    elif skill.kind == "make":
        return position_goal(_near_cells(lmap, list(constants.make[skill.arg]["nearby"]), view_only))
    else:
        return None
    return facing_goal(lmap.in_view(cells) if view_only else cells)


def valid_skills(world, player, seen: np.ndarray, skills: Iterable[Skill] = SKILLS) -> list[Skill]:
    """The skills that can be started now: inventory allows it and a target is visible and reachable."""
    if player.sleeping:
        return [s for s in skills if s.kind == "sleep"] or [s for s in skills if s.arg == "noop"]
    lmap = LocalMap(world, player, seen)
    states: set[tuple[int, int, int]] | None = None
    positions: set[tuple[int, int]] = set()
    out = []
    for skill in skills:
        if not inventory_allows(skill, player.inventory):
            continue
        goal = goal_for(skill, lmap, view_only=True)
        if goal is not None:
            if states is None:
                states = lmap.reachable()
                positions = {(x, y) for x, y, _ in states}
            if not goal.reached_by(states, positions):
                continue
        out.append(skill)
    return out


class Controller:
    """Runs one skill: ``next_action()`` gives the next primitive action index, or None when the skill is over."""

    def __init__(self, skill: Skill, game, seen: np.ndarray, rng: random.Random, explore_steps: int = 8):
        self.skill = skill
        self.game = game
        self.seen = seen
        self.rng = rng
        self.explore_steps = explore_steps
        self.steps = 0
        player = game._player
        self._start_count = player.achievements[skill.achievement] if skill.achievement else 0
        self._heading = rng.choice(DIRS)

    @property
    def achieved(self) -> bool:
        a = self.skill.achievement
        return a is not None and self.game._player.achievements[a] > self._start_count

    def next_action(self) -> int | None:
        action = self._decide()
        if action is not None:
            self.steps += 1
        return action

    def _decide(self) -> int | None:
        skill, player, world = self.skill, self.game._player, self.game._world
        if skill.kind == "primitive":
            return ACTION_INDEX[skill.arg] if self.steps == 0 else None
        if self.achieved or player.health <= 0:
            return None
        if skill.kind == "sleep":
            if self.steps == 0:
                return ACTION_INDEX["sleep"]
            return ACTION_INDEX["noop"] if player.sleeping else None
        if skill.kind == "explore":
            return self._explore(world, player)
        if not inventory_allows(skill, player.inventory):
            return None
        if skill.kind == "make" and self._stations_nearby(world, player):
            return ACTION_INDEX[f"make_{skill.arg}"]
        lmap = LocalMap(world, player, self.seen)
        goal = goal_for(skill, lmap, view_only=False)
        if goal is None:
            return None
        if skill.kind != "make" and goal(*lmap.start):
            return ACTION_INDEX[f"place_{skill.arg}"] if skill.kind == "place" else ACTION_INDEX["do"]
        path = lmap.path(goal)
        return path[0] if path else None

    def _stations_nearby(self, world, player) -> bool:
        nearby, _ = world.nearby(player.pos, 1)
        return all(s in nearby for s in constants.make[self.skill.arg]["nearby"])

    def _explore(self, world, player) -> int | None:
        if self.steps >= self.explore_steps:
            return None
        lmap = LocalMap(world, player, self.seen)
        frontier = lmap.frontier()
        sx, sy, _ = lmap.start
        frontier.discard((sx, sy))
        hx, hy = self._heading
        ahead = {(x, y) for x, y in frontier if (x - sx) * hx + (y - sy) * hy > 0}
        # The nearest edge of the known map in this skill's (random) heading, else the nearest anywhere.
        for cells in (ahead, frontier):
            path = lmap.path(position_goal(cells)) if cells else None
            if path:
                return path[0]
        # Nothing unknown within reach: keep walking one way, turning when blocked.
        for d in [self._heading] + self.rng.sample(DIRS, len(DIRS)):
            nx, ny = sx + d[0], sy + d[1]
            if 0 <= nx < lmap.w and 0 <= ny < lmap.h and lmap.code[nx][ny] == 1:
                self._heading = d
                return MOVE[d]
        return None
