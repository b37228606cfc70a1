"""Helpers for the Crafter tests: a calm arena built by editing a real crafter world."""

from __future__ import annotations

from crafter import objects

from bridges.crafter.env import CrafterEnv


def arena_env(seed: int = 1, ground: str = "sand", radius: int = 9, **options) -> CrafterEnv:
    """A reset CrafterEnv whose player stands on flat ``ground`` with nothing else within ``radius``.

    Sand by default: crafter spawns cows and zombies on grass only, so the arena stays empty.
    Creatures within 24 cells (those that would move this episode) are removed.
    """
    options.setdefault("prefetch", False)
    env = CrafterEnv(seed=seed, **options)
    env.reset()
    game = env._game
    world, player = game._world, game._player
    for obj in list(world.objects):
        if obj is not player and player.distance(obj) <= 24:
            world.remove(obj)
    px, py = (int(v) for v in player.pos)
    for x in range(px - radius, px + radius + 1):
        for y in range(py - radius, py + radius + 1):
            world[(x, y)] = ground
    player.facing = (0, 1)
    return env


def put(env: CrafterEnv, dx: int, dy: int, material: str) -> tuple[int, int]:
    """Set the material at an offset from the player; returns the absolute position."""
    p = env._game._player.pos
    pos = (int(p[0]) + dx, int(p[1]) + dy)
    env._game._world[pos] = material
    return pos


def add(env: CrafterEnv, dx: int, dy: int, kind: str, **attrs):
    """Add a creature or plant at an offset from the player."""
    game = env._game
    world, player = game._world, game._player
    pos = (int(player.pos[0]) + dx, int(player.pos[1]) + dy)
    cls = {"cow": objects.Cow, "zombie": objects.Zombie, "skeleton": objects.Skeleton, "plant": objects.Plant}[kind]
    obj = cls(world, pos, player) if kind in ("zombie", "skeleton") else cls(world, pos)
    for k, v in attrs.items():
        setattr(obj, k, v)
    world.add(obj)
    return obj


def give(env: CrafterEnv, **items: int) -> None:
    env._game._player.inventory.update(items)


def run_skill(env: CrafterEnv, text: str):
    """Observe, check ``text`` is offered, run it; returns the observation after the skill."""
    obs = env.observe()
    assert text in obs.skills, f"{text!r} not offered; offered: {obs.skills}"
    return env.step(obs.skills.index(text))
