"""Pictures of the salad kitchen: a character grid, and an RGB array (numpy, no pygame)."""

from __future__ import annotations

from bridges.overcooked.kitchen import Bowl, Food, Item, Kitchen
from skills.overcooked import in_window

_FOOD_CHAR = {"tomato": "t", "lettuce": "l", "onion": "o"}


def _describe(item: Item | None) -> str:
    if item is None:
        return "nothing"
    if isinstance(item, Bowl):
        if not item.contents:
            return "empty bowl"
        return "bowl of " + " and ".join(f"chopped {f.name}" for f in item.contents)
    return ("chopped " if item.chopped else f"fresh ({item.chops}/3 chops) ") + item.name


def _char(item: Item) -> str:
    if isinstance(item, Bowl):
        return "B" if not item.contents else "b"
    c = _FOOD_CHAR[item.name]
    return c if item.chopped else c.upper()  # upper case: fresh, lower case: chopped


def render_text(k: Kitchen) -> str:
    """One character per cell: '#' counter, '.' floor, 'K' empty board, 'D' delivery, 'A' agent,
    'T'/'L'/'O' fresh food, 't'/'l'/'o' chopped food, 'B' empty bowl, 'b' bowl with food.
    Items on a board or the delivery counter hide it; the lines below say what lies there."""
    rows = []
    for r in range(k.size):
        line = []
        for c in range(k.size):
            cell = (r, c)
            if cell == k.agent:
                ch = "A"
            elif cell in k.counters:
                ch = _char(k.counters[cell])
            elif cell in k.boards:
                on_board = k.boards[cell]
                ch = _char(on_board) if on_board is not None else "K"
            elif cell == k.delivery:
                ch = _char(k.delivered) if k.delivered is not None else "D"
            else:
                ch = "." if k.is_floor(cell) else "#"
            line.append(ch)
        rows.append(" ".join(line))
    rows.append(f"agent at {k.agent} holding {_describe(k.holding)}")
    for i, (cell, item) in enumerate(k.boards.items()):
        rows.append(f"board {i + 1} {cell}: {_describe(item)}")
    return "\n".join(rows)


_COLOURS = {
    "floor": (236, 228, 210),
    "counter": (150, 111, 72),
    "board": (214, 190, 140),
    "delivery": (70, 70, 80),
    "agent": (40, 90, 200),
    "tomato": (220, 40, 40),
    "lettuce": (60, 170, 60),
    "onion": (170, 90, 170),
    "bowl": (250, 250, 250),
}


def render_rgb(k: Kitchen, cell: int = 24, show_window: bool = True):
    """The kitchen as an ``(size*cell, size*cell, 3)`` uint8 array. Fresh food is a solid
    square, chopped food a checkered one; a held item is drawn inside the agent; cells outside
    the agent's 5x5 view are darkened when ``show_window``."""
    import numpy as np

    if cell < 4:
        raise ValueError(f"cell must be at least 4 pixels, got {cell}")
    n = k.size
    img = np.zeros((n * cell, n * cell, 3), dtype=np.uint8)

    def fill(r: int, c: int, colour, inset: int = 0, checker: bool = False) -> None:
        y0, x0 = r * cell + inset, c * cell + inset
        y1, x1 = (r + 1) * cell - inset, (c + 1) * cell - inset
        if checker:
            yy, xx = np.mgrid[y0:y1, x0:x1]
            mask = ((yy // 3 + xx // 3) % 2) == 0
            img[y0:y1, x0:x1][mask] = colour
        else:
            img[y0:y1, x0:x1] = colour

    def draw_item(r: int, c: int, item: Item, inset: int) -> None:
        if isinstance(item, Bowl):
            fill(r, c, _COLOURS["bowl"], inset)
            for j, f in enumerate(item.contents):
                fill(r, c, _COLOURS[f.name], inset + 2 + j * 2, checker=True)
        elif isinstance(item, Food):
            fill(r, c, _COLOURS[item.name], inset, checker=item.chopped)

    for r in range(n):
        for c in range(n):
            pos = (r, c)
            if pos in k.boards:
                fill(r, c, _COLOURS["board"])
                fill(r, c, (120, 100, 70), cell // 2 - 1)
            elif pos == k.delivery:
                fill(r, c, _COLOURS["delivery"])
            else:
                fill(r, c, _COLOURS["floor"] if k.is_floor(pos) else _COLOURS["counter"])
            on = k.counters.get(pos) or k.boards.get(pos) or (k.delivered if pos == k.delivery else None)
            if on is not None:
                draw_item(r, c, on, cell // 6)
    ar, ac = k.agent
    fill(ar, ac, _COLOURS["agent"], cell // 8)
    if k.holding is not None:
        draw_item(ar, ac, k.holding, cell // 3)
    if show_window:
        for r in range(n):
            for c in range(n):
                if not in_window(k.agent, (r, c)):
                    block = img[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell]
                    block[:] = (block.astype(np.uint16) * 2 // 5).astype(np.uint8)
    # thin grid lines
    img[::cell, :] = (40, 40, 40)
    img[:, ::cell] = (40, 40, 40)
    return img
