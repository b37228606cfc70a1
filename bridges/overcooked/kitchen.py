"""TWOSOME's salad kitchen: the grid, the items and one primitive step.

A re-creation (from /work/shared/specs/overcooked-salad.md) of the single-agent
map "A" used by TWOSOME's Tomato Salad and Tomato-Lettuce Salad tasks.
Coordinates are ``(row, col)``. Standard library only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

Cell = tuple[int, int]

RIGHT, DOWN, LEFT, UP, STAY = range(5)
PRIMITIVES = ("right", "down", "left", "up", "stay")
DIRECTIONS: tuple[Cell, ...] = ((0, 1), (1, 0), (0, -1), (-1, 0))  # indexed by RIGHT..UP

# Order of the 7-entry task one-hot (TWOSOME's TASKLIST).
RECIPES = (
    "tomato salad",
    "lettuce salad",
    "onion salad",
    "lettuce-tomato salad",
    "onion-tomato salad",
    "lettuce-onion salad",
    "lettuce-onion-tomato salad",
)
# Foods are named in this order when a served bowl's dish name is built.
DISH_ORDER = ("lettuce", "onion", "tomato")
CHOPS_NEEDED = 3


@dataclass(frozen=True)
class SaladTask:
    """One of TWOSOME's two kitchens: which foods, how many boards, which recipe."""

    name: str
    recipe: str
    foods: tuple[str, ...]
    boards: int


TASKS: dict[str, SaladTask] = {
    "tomato-salad": SaladTask("tomato-salad", "tomato salad", ("tomato",), 1),
    "tomato-lettuce-salad": SaladTask(
        "tomato-lettuce-salad", "lettuce-tomato salad", ("tomato", "lettuce", "onion"), 2
    ),
}


@dataclass(frozen=True)
class Rewards:
    """TWOSOME's ``--env-reward 0.2 1 0.1 0.001`` (the values the paper trained with)."""

    subtask: float = 0.2
    correct: float = 1.0
    wrong: float = -0.1
    step: float = -0.001


@dataclass(frozen=True)
class Layout:
    """Where everything starts. ``front`` are the cells the text calls "in front of" board 1, 2."""

    size: int
    agent: Cell
    foods: dict[str, Cell]
    bowl: Cell
    boards: tuple[Cell, ...]
    delivery: Cell
    front: tuple[Cell, ...]


def layout_a(task: SaladTask) -> Layout:
    """Map "A", 7x7, exactly as TWOSOME builds it on every reset."""
    foods = {"tomato": (0, 5), "lettuce": (1, 6), "onion": (2, 6)}
    boards = ((1, 0), (2, 0))[: task.boards]
    # The text code calls (2,1) "in front of" a board in both tasks (a V4 quirk kept on purpose).
    return Layout(7, (1, 4), {f: foods[f] for f in task.foods}, (6, 5), boards, (3, 0), ((1, 1), (2, 1)))


def random_layout(task: SaladTask, rng: random.Random, size: int = 7) -> Layout:
    """Items on random non-corner border counters, agent on a random floor cell.

    Boards get distinct interaction cells so that "in front of board k" stays unambiguous.
    """
    border = [
        c
        for c in ((r, k) for r in range(size) for k in range(size))
        if (c[0] in (0, size - 1)) != (c[1] in (0, size - 1))  # border, not a corner
    ]
    while True:
        cells = rng.sample(border, len(task.foods) + 2 + task.boards)
        boards = tuple(cells[len(task.foods) + 2 :])
        fronts = tuple(interaction_cell(b, size) for b in boards)
        if len(set(fronts)) == len(fronts):
            break
    agent = (rng.randrange(1, size - 1), rng.randrange(1, size - 1))
    foods = dict(zip(task.foods, cells[: len(task.foods)]))
    n = len(task.foods)
    return Layout(size, agent, foods, cells[n], boards, cells[n + 1], fronts)


def interaction_cell(cell: Cell, size: int) -> Cell:
    """The one floor cell next to a (non-corner) border cell."""
    r, c = cell
    if r == 0:
        return (1, c)
    if r == size - 1:
        return (size - 2, c)
    if c == 0:
        return (r, 1)
    return (r, size - 2)


@dataclass(eq=False)
class Food:
    name: str
    pos: Cell
    init: Cell
    chops: int = 0

    @property
    def chopped(self) -> bool:
        return self.chops >= CHOPS_NEEDED


@dataclass(eq=False)
class Bowl:
    pos: Cell
    init: Cell
    contents: list[Food] = field(default_factory=list)

    name = "bowl"


Item = Food | Bowl


def dish_name(bowl: Bowl) -> str:
    """The served dish: foods in lettuce, onion, tomato order, joined by '-', plus ' salad'."""
    present = {f.name for f in bowl.contents}
    return "-".join(n for n in DISH_ORDER if n in present) + " salad"


class Kitchen:
    """The world state and its primitive dynamics (one agent)."""

    def __init__(self, task: SaladTask, layout: Layout, rewards: Rewards = Rewards()):
        self.task = task
        self.layout = layout
        self.rewards = rewards
        self.size = layout.size
        self.foods = [Food(n, c, c) for n, c in layout.foods.items()]
        self.food = {f.name: f for f in self.foods}
        self.bowl = Bowl(layout.bowl, layout.bowl)
        self.agent: Cell = layout.agent
        self.holding: Item | None = None
        self.boards: dict[Cell, Item | None] = {b: None for b in layout.boards}
        self.delivery: Cell = layout.delivery
        self.delivered: Bowl | None = None
        # Items lying on plain counters, by cell.
        self.counters: dict[Cell, Item] = {f.pos: f for f in self.foods}
        self.counters[self.bowl.pos] = self.bowl
        self.served = False

    # ---- geometry -------------------------------------------------------------------------
    def is_floor(self, cell: Cell) -> bool:
        r, c = cell
        return 0 < r < self.size - 1 and 0 < c < self.size - 1

    def items(self) -> list[Item]:
        return [*self.foods, self.bowl]

    # ---- moving items around -------------------------------------------------------------
    def _move(self, item: Item, cell: Cell) -> None:
        item.pos = cell
        if isinstance(item, Bowl):
            for f in item.contents:
                f.pos = cell

    def _pick_up(self, item: Item) -> None:
        self.holding = item
        self._move(item, self.agent)

    def _refresh(self, item: Item) -> None:
        """Send an item back to its initial counter; food becomes fresh, a bowl empty."""
        if isinstance(item, Food):
            item.chops = 0
        else:
            item.contents = []
        self._move(item, item.init)
        self.counters[item.init] = item

    # ---- one primitive step -----------------------------------------------------------------
    def step(self, action: int) -> tuple[float, str]:
        """Apply a primitive action; returns (reward incl. the step penalty, event name)."""
        reward = self.rewards.step
        if action == STAY:
            return reward, ""
        if not 0 <= action < 4:
            raise ValueError(f"primitive action must be in 0..4, got {action!r}")
        dr, dc = DIRECTIONS[action]
        target = (self.agent[0] + dr, self.agent[1] + dc)
        if self.is_floor(target):
            self.agent = target
            if self.holding is not None:
                self._move(self.holding, target)
            return reward, ""
        extra, event = self._interact(target) if self.holding is None else self._interact_full(target)
        return reward + extra, event

    def _interact(self, cell: Cell) -> tuple[float, str]:
        """Empty hands: pick up, or chop fresh food on a board."""
        if cell in self.counters:
            self._pick_up(self.counters.pop(cell))
            return 0.0, "pick"
        if cell in self.boards:
            item = self.boards[cell]
            if isinstance(item, Bowl) or (isinstance(item, Food) and item.chopped):
                self.boards[cell] = None
                self._pick_up(item)
                return 0.0, "pick"
            if isinstance(item, Food):
                item.chops += 1
                if item.chopped and item.name in self.task.recipe:
                    return self.rewards.subtask, "chopped"
                return 0.0, "chop"
        return 0.0, ""

    def _interact_full(self, cell: Cell) -> tuple[float, str]:
        """Hands full: put down, fill the bowl, or serve."""
        held = self.holding
        assert held is not None
        if cell in self.boards:
            on = self.boards[cell]
            if on is None:
                self.boards[cell] = held
                self.holding = None
                self._move(held, cell)
                return 0.0, "place"
            if isinstance(on, Food) and isinstance(held, Bowl) and on.chopped:
                self.boards[cell] = None
                held.contents.append(on)
                self._move(held, self.agent)
                return 0.0, "fill"
            if isinstance(on, Bowl) and isinstance(held, Food) and held.chopped:
                self.boards[cell] = None
                on.contents.append(held)
                self._pick_up(on)
                return 0.0, "fill"
            return 0.0, ""
        if cell == self.delivery:
            return self._serve(held)
        if cell in self.counters:
            on = self.counters[cell]
            if isinstance(on, Bowl) and isinstance(held, Food) and held.chopped:
                on.contents.append(held)
                self.holding = None
                self._move(on, cell)
                return 0.0, "fill"
            if isinstance(on, Food) and isinstance(held, Bowl) and on.chopped:
                del self.counters[cell]
                held.contents.append(on)
                self._move(held, self.agent)
                return 0.0, "fill"
            return 0.0, ""
        # A plain counter: put the held item down (map A's macros never do this).
        self.counters[cell] = held
        self.holding = None
        self._move(held, cell)
        return 0.0, "place"

    def _serve(self, held: Item) -> tuple[float, str]:
        self.holding = None
        if isinstance(held, Bowl) and held.contents and dish_name(held) == self.task.recipe:
            self._move(held, self.delivery)
            self.delivered = held
            self.served = True
            return self.rewards.correct, "served"
        if isinstance(held, Bowl):
            foods = held.contents
            self._refresh(held)
            for f in foods:
                self._refresh(f)
        else:
            self._refresh(held)
        return self.rewards.wrong, "wrong dish"

    # ---- queries used by the macro controllers and the renderer ----------------------------
    def fresh_on_board(self, cell: Cell) -> bool:
        """A board at ``cell`` holds a food that is not chopped yet."""
        on = self.boards.get(cell)
        return isinstance(on, Food) and not on.chopped

    def holding_kind(self) -> str | None:
        """None, "bowl", "fresh" (unchopped food) or "chopped"."""
        held = self.holding
        if held is None:
            return None
        if isinstance(held, Bowl):
            return "bowl"
        return "chopped" if held.chopped else "fresh"
