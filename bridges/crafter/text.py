"""Crafter state -> text, in the style of the SmartPlay / BALROG Crafter wrappers.

Coordinates are crafter's: x grows east, y grows south (``move_up`` is north).
The agent sees crafter's local view: 9 cells wide, 7 tall, centred on itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from skills.crafter import view_bounds

VITALS = ("health", "food", "drink", "energy")
GROUND = frozenset({"grass", "sand", "path"})  # not listed among what is seen: it is everywhere


def object_name(obj) -> str:
    """Text name of a crafter object (``cow``, ``zombie``, ``skeleton``, ``arrow``, ``sapling``, ``ripe plant``)."""
    kind = type(obj).__name__.lower()
    if kind == "plant":
        return "ripe plant" if obj.ripe else "sapling"
    return kind


def visible(world, player) -> list[tuple[str, int, int]]:
    """Nearest visible thing of each kind as (name, dx, dy), nearest first; ground and the player left out."""
    x0, x1, y0, y1 = view_bounds(player.pos, world.area)
    px, py = int(player.pos[0]), int(player.pos[1])
    best: dict[str, tuple[int, int, int]] = {}  # name -> (distance, dy, dx): nearest, ties north-west first

    def offer(name: str, x: int, y: int) -> None:
        dx, dy = x - px, y - py
        key = (abs(dx) + abs(dy), dy, dx)
        if name not in best or key < best[name]:
            best[name] = key

    mat = world._mat_map[x0:x1, y0:y1]
    for mid in np.unique(mat).tolist():
        name = world._mat_names.get(mid)
        if name is None or name in GROUND:
            continue
        xs, ys = np.nonzero(mat == mid)
        d = np.abs(xs + x0 - px) + np.abs(ys + y0 - py)
        i = int(np.lexsort((xs, ys, d))[0])
        offer(name, int(xs[i]) + x0, int(ys[i]) + y0)
    objs = world._obj_map[x0:x1, y0:y1]
    for xs, ys in zip(*np.nonzero(objs)):
        obj = world._objects[int(objs[xs, ys])]
        if obj is None or obj is player:
            continue
        offer(object_name(obj), int(xs) + x0, int(ys) + y0)
    ordered = sorted(best.items(), key=lambda kv: (kv[1][0], kv[0]))
    return [(name, v[2], v[1]) for name, v in ordered]


def describe_offset(dx: int, dy: int) -> str:
    """``2 steps north and 1 step east``."""

    def part(n: int, word: str) -> str:
        return f"{abs(n)} step{'s' if abs(n) != 1 else ''} {word}"

    parts = []
    if dy:
        parts.append(part(dy, "north" if dy < 0 else "south"))
    if dx:
        parts.append(part(dx, "west" if dx < 0 else "east"))
    return " and ".join(parts) if parts else "here"


def facing_name(world, player) -> str:
    """What the player faces: an object's name, else the material, else ``the edge of the world``."""
    target = (int(player.pos[0] + player.facing[0]), int(player.pos[1] + player.facing[1]))
    material, obj = world[target]
    if obj is not None:
        return object_name(obj)
    return material if material is not None else "the edge of the world"


def describe(
    world,
    player,
    *,
    last_actions: Sequence[str] = (),
    daylight: float | None = None,
) -> str:
    """The full observation text (what is seen, what is faced, vitals, inventory)."""
    lines: list[str] = []
    if last_actions:
        lines.append("Your last actions: " + ", ".join(last_actions) + ".")
    if player.health <= 0:
        lines.append("You died.")
    elif player.sleeping:
        lines.append("You are sleeping.")
    if daylight is not None and daylight < 0.3:
        lines.append("It is night.")
    seen = visible(world, player)
    if seen:
        lines.append("You see:")
        lines.extend(f"- {name} {describe_offset(dx, dy)}" for name, dx, dy in seen)
    else:
        lines.append("You see nothing but ground around you.")
    lines.append(f"You face {facing_name(world, player)} at your front.")
    lines.append("")
    lines.append("Your status:")
    lines.extend(f"- {v}: {player.inventory[v]}/9" for v in VITALS)
    lines.append("")
    items = [(k, n) for k, n in player.inventory.items() if k not in VITALS and n > 0]
    if items:
        lines.append("Your inventory:")
        lines.extend(f"- {k.replace('_', ' ')}: {n}" for k, n in items)
    else:
        lines.append("You have nothing in your inventory.")
    return "\n".join(lines)
