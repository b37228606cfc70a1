"""Skills for TWOSOME's salad kitchen: macro-actions, A* navigation, action wording.

The macro-actions are TWOSOME's ("get tomato", "get plate 1", "go to knife 1",
"deliver", "chop", ...). A :class:`MacroController` turns the chosen macro into
one primitive action per step until it ends (see /work/shared/specs/overcooked-salad.md
§5). :func:`read_vector` and :func:`action_texts` give the context-dependent
action texts the LLM scores (§7.4); they read only the vector observation, as
TWOSOME does. Standard library only.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for type hints; skills never import the simulator at run time
    from bridges.overcooked.kitchen import Kitchen

Cell = tuple[int, int]

RIGHT, DOWN, LEFT, UP, STAY = range(5)
DIRECTIONS: tuple[Cell, ...] = ((0, 1), (1, 0), (0, -1), (-1, 0))
# A* expands neighbours in this order: right, left, down, up.
_SEARCH_ORDER = (RIGHT, LEFT, DOWN, UP)
OBS_RADIUS = 2


def macro_names(foods: Sequence[str], boards: int) -> list[str]:
    """TWOSOME's macro list for map A: get each food, the plate, each knife, deliver, chop."""
    return (
        [f"get {f}" for f in foods]
        + ["get plate 1"]
        + [f"go to knife {i + 1}" for i in range(boards)]
        + ["deliver", "chop"]
    )


def manhattan(a: Cell, b: Cell) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def in_window(agent: Cell, cell: Cell, radius: int = OBS_RADIUS) -> bool:
    """Whether ``cell`` is inside the agent's (2*radius+1)^2 view."""
    return abs(cell[0] - agent[0]) <= radius and abs(cell[1] - agent[1]) <= radius


class _Node:
    """An A* search node. Equal f-values compare as "less" both ways, as in TWOSOME's planner:
    heapq then pops ties in the same order TWOSOME's, so the agent walks the same path (the
    path matters: a macro can end as soon as its target comes into view)."""

    __slots__ = ("cell", "g", "f", "first")

    def __init__(self, cell: Cell, g: int, f: int, first: int | None):
        self.cell, self.g, self.f, self.first = cell, g, f, first

    def __lt__(self, other: _Node) -> bool:
        return self.f <= other.f


def navigate(start: Cell, target: Cell, passable) -> int:
    """First primitive of an A* path from ``start`` to a cell next to ``target``; STAY if none.

    ``passable(cell)`` says whether the agent may walk on a cell. The target itself
    need not be passable: reaching it means interacting with it.
    """
    frontier = [_Node(start, 0, manhattan(start, target), None)]
    visited = {start}
    while frontier:
        node = heapq.heappop(frontier)
        r, c = node.cell
        for action in _SEARCH_ORDER:
            dr, dc = DIRECTIONS[action]
            nxt = (r + dr, c + dc)
            if nxt in visited:
                continue
            first = node.first if node.first is not None else action
            if passable(nxt):
                visited.add(nxt)
                heapq.heappush(frontier, _Node(nxt, node.g + 1, node.g + 1 + manhattan(nxt, target), first))
            if nxt == target:
                return first
    return STAY


class MacroController:
    """Runs one macro-action as primitive steps, with TWOSOME's ending rules (single agent).

    Per step: ``action = next_primitive(kitchen, belief)``; apply it; then
    ``after_step(kitchen, belief)``. The macro is over when ``done`` is true.
    ``belief`` maps each movable item ("tomato", ..., "bowl") to the cell the agent
    believes it is in.
    """

    def __init__(self, names: Sequence[str]):
        self.names = list(names)
        self.macro = ""
        self.done = True
        self._chops = 0

    def reset(self) -> None:
        self.macro = ""
        self.done = True
        self._chops = 0

    def start(self, index: int) -> None:
        self.macro = self.names[index]
        self.done = False

    # ---- what the macro aims at -------------------------------------------------------------
    def _item(self) -> str | None:
        if self.macro == "get plate 1":
            return "bowl"
        if self.macro.startswith("get "):
            return self.macro[4:]
        return None

    def _target(self, kitchen: Kitchen, belief: Mapping[str, Cell]) -> Cell:
        if self.macro.startswith("go to knife "):
            return kitchen.layout.boards[int(self.macro[12:]) - 1]
        if self.macro == "deliver":
            return kitchen.delivery
        return belief[self._item()]  # type: ignore[index]

    def _true_pos(self, kitchen: Kitchen) -> Cell:
        name = self._item()
        return kitchen.bowl.pos if name == "bowl" else kitchen.food[name].pos  # type: ignore[index]

    # ---- one step -----------------------------------------------------------------------------
    def next_primitive(self, kitchen: Kitchen, belief: Mapping[str, Cell]) -> int:
        """The primitive action for this step; may mark the macro done."""
        agent = kitchen.agent
        if self.macro == "chop":
            for action in (RIGHT, DOWN, LEFT, UP):
                dr, dc = DIRECTIONS[action]
                if kitchen.fresh_on_board((agent[0] + dr, agent[1] + dc)):
                    self._chops += 1
                    if self._chops >= 3:
                        self.done = True
                        self._chops = 0
                    return action
            self.done = True
            return STAY

        target = self._target(kitchen, belief)
        is_food = self._item() not in (None, "bowl")
        if is_food and in_window(agent, target) and kitchen.bowl.pos == target:
            self.done = True  # the food is (believed) in the bowl
            return STAY
        if target == agent:  # the item is in hand
            self.done = True
            return STAY

        blocked = _believed(belief, agent)
        action = navigate(agent, target, lambda c: kitchen.is_floor(c) and c not in blocked)
        if action == STAY:
            self.done = True
        if manhattan(agent, target) == 1:
            self.done = True
            held = kitchen.holding_kind()
            if self.macro == "get plate 1" and held in ("fresh", "chopped"):
                if held == "chopped":
                    self.done = False  # the food goes into the bowl; next step picks the bowl up
                else:
                    action = STAY
            if self.macro.startswith("go to knife ") and held is None:
                action = STAY
            if is_food and kitchen.fresh_on_board(target):
                action = STAY  # never chop by walking into fresh food on a board
            if self._item() is not None and target != self._true_pos(kitchen):
                action = STAY
        return action

    def after_step(self, kitchen: Kitchen, belief: Mapping[str, Cell]) -> None:
        """Ending checks made after the primitive was applied."""
        if self.done or self.macro == "chop":
            return
        agent = kitchen.agent
        target = self._target(kitchen, belief)
        item = self._item()
        if self.macro.startswith("go to knife ") and kitchen.holding is None:
            if manhattan(agent, target) == 1:
                self.done = True
        elif item not in (None, "bowl"):
            if manhattan(agent, target) == 1 and target in kitchen.boards:
                food = kitchen.food[item]
                if food.pos == target and not food.chopped:
                    self.done = True
        elif self.macro == "deliver" and kitchen.holding is None:
            if manhattan(agent, target) == 1:
                self.done = True
        if item is not None and target != self._true_pos(kitchen):
            self.done = True


def _believed(belief: Mapping[str, Cell], agent: Cell) -> set[Cell]:
    """Cells blocked by believed items (the agent's own cell stays walkable)."""
    return {c for c in belief.values() if c != agent}


# ---- reading the vector observation (§7.1) and wording the actions (§7.4) ----------------------


@dataclass(frozen=True)
class Scene:
    """What the vector observation shows: visible positions (None = not visible) and chops."""

    foods: tuple[str, ...]
    food_pos: tuple[Cell | None, ...]
    chopped: tuple[bool, ...]
    bowl: Cell | None
    agent: Cell
    boards: tuple[Cell, ...]
    front: tuple[Cell, ...]

    def positions(self) -> list[Cell | None]:
        """Foods then bowl, in index order (the bowl is last)."""
        return [*self.food_pos, self.bowl]

    def names(self) -> list[str]:
        return [*self.foods, "bowl"]

    def at(self, cell: Cell) -> list[int]:
        """Indices of the items (foods..., bowl) the vector puts at ``cell``."""
        return [i for i, p in enumerate(self.positions()) if p == cell]


def read_vector(vector: Sequence[int], foods: Sequence[str], boards: Sequence[Cell], front: Sequence[Cell]) -> Scene:
    """Parse TWOSOME's vector: foods (r,c,chops), bowl, boards, delivery, agent (r,c), one-hot.

    ``boards`` are the board cells the text code uses (fixed (1,0), (2,0) in map A) and
    ``front[k]`` the cell where the agent counts as "in front of" board k (map A: (1,1), (2,1);
    TWOSOME's text also says so at (2,1) in Tomato Salad, which has one board).
    A (0,0) pair means "not visible" (no item can be at a corner).
    """
    n = len(foods)
    pos: list[Cell | None] = []
    chopped = []
    for i in range(n):
        r, c, k = vector[3 * i : 3 * i + 3]
        pos.append(None if (r, c) == (0, 0) else (int(r), int(c)))
        chopped.append(k == 3)
    br, bc = vector[3 * n : 3 * n + 2]
    a = 3 * n + 2 + 2 * (len(boards) + 1)
    agent = (int(vector[a]), int(vector[a + 1]))
    return Scene(
        tuple(foods),
        tuple(pos),
        tuple(chopped),
        None if (br, bc) == (0, 0) else (int(br), int(bc)),
        agent,
        tuple(boards),
        tuple(front),
    )


def action_texts(scene: Scene) -> list[str]:
    """TWOSOME's action texts for this observation (index i = macro i); all always offered."""
    if len(scene.foods) == 1:
        return _texts_one(scene)
    return _texts_three(scene)


def _hand(scene: Scene) -> list[int]:
    return scene.at(scene.agent)


def _texts_one(s: Scene) -> list[str]:
    acts = ["pick up the tomato", "take the bowl", "walk to the cutting board", "serve nothing", "chop nothing"]
    food = s.foods[0]
    on_board = s.at(s.boards[0])
    if len(on_board) == 1 and on_board[0] == 0 and s.agent == s.front[0]:
        acts[4] = f"chop the {food}"
    hand = _hand(s)
    if hand:
        acts[3] = "serve the dish"
    if len(hand) > 1 or hand == [1]:  # holding the bowl, with or without contents
        acts[0] = f"put the {food} in the bowl"
        acts[2] = "put the bowl on the cutting board"
    elif len(hand) == 1 and not s.chopped[0]:
        acts[2] = f"put the {food} on the cutting board"
    return acts


def _texts_three(s: Scene) -> list[str]:
    n = len(s.foods)
    acts = [f"pick up the {f}" for f in s.foods] + ["take the empty bowl"]
    acts += [f"walk to the {_NTH[i]} cutting board" for i in range(len(s.boards))]
    acts += ["serve nothing", "chop nothing"]
    b0 = n + 1  # index of the first "walk to ... cutting board"
    serve = b0 + len(s.boards)
    spots = [s.agent, *s.boards]
    if any(len(s.at(c)) > 1 for c in spots):
        acts[n] = "take the bowl"
    for k, board in enumerate(s.boards):
        on = s.at(board)
        if len(on) == 1 and on[0] < n and s.agent == s.front[k]:
            acts[-1] = f"chop the {s.foods[on[0]]}"
    hand = _hand(s)
    if hand:
        acts[serve] = "serve the dish"
    if len(hand) > 1 or hand == [n]:
        acts[:n] = [f"put the {f} in the bowl" for f in s.foods]
        for k in range(len(s.boards)):
            acts[b0 + k] = f"put the bowl on the {_NTH[k]} cutting board"
    elif len(hand) == 1 and not s.chopped[hand[0]]:
        for k in range(len(s.boards)):
            acts[b0 + k] = f"put the {s.foods[hand[0]]} on the {_NTH[k]} cutting board"
    return acts


_NTH = ("first", "second", "third")
