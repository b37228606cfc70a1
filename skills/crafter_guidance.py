"""Crafter's vocabulary for RLAdapter guidance: achievements in tech-tree order, their sub-goal texts,
the phrases free text names them by, the analysts' system prompts, and what an observation shows.

Loaded by name (``guidance.vocabulary``) by the runtime's guidance, which holds no simulator words.
Pure Python: no runtime, no torch.
"""

from __future__ import annotations

import re
from typing import Any

from bridges.crafter.score import ACHIEVEMENTS

# Achievements in the order the tech tree opens them: the fallback takes the first one not yet unlocked.
TECH_ORDER: tuple[str, ...] = (
    "collect_wood", "place_table", "make_wood_pickaxe", "make_wood_sword", "collect_sapling", "place_plant",
    "collect_drink", "eat_cow", "collect_stone", "place_stone", "make_stone_pickaxe", "make_stone_sword",
    "collect_coal", "place_furnace", "wake_up", "defeat_zombie", "defeat_skeleton", "eat_plant", "collect_iron",
    "make_iron_pickaxe", "make_iron_sword", "collect_diamond",
)  # fmt: skip
assert sorted(TECH_ORDER) == sorted(ACHIEVEMENTS)

# The sub-goal text of an achievement: the Crafter skill's text (skills/crafter.py), so that the
# comprehension score compares like with like.
SUBGOAL_TEXT: dict[str, str] = {a: a.replace("_", " ") for a in ACHIEVEMENTS}
SUBGOAL_TEXT["wake_up"] = "sleep"

# Other ways free text names an achievement (AdaRefiner's wording and common paraphrases).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "collect_wood": ("chop tree", "chop wood", "cut tree", "gather wood", "get wood", "collect wood", "wood"),
    "collect_stone": ("mine stone", "gather stone", "get stone", "collect stone"),
    "collect_coal": ("mine coal", "get coal", "collect coal"),
    "collect_iron": ("mine iron", "get iron", "collect iron"),
    "collect_diamond": ("mine diamond", "get diamond", "collect diamond"),
    "collect_drink": ("drink water", "collect water", "drink", "collect drink"),
    "collect_sapling": ("chop grass", "collect sapling", "get sapling", "sapling"),
    "place_table": ("place crafting table", "crafting table", "place table", "build table", "make table"),
    "place_furnace": ("place furnace", "build furnace", "make furnace", "furnace"),
    "place_plant": ("place plant", "plant sapling", "place sapling", "plant a sapling"),
    "place_stone": ("place stone",),
    "eat_cow": ("attack cow", "eat cow", "hunt cow", "kill cow", "cow"),
    "eat_plant": ("eat plant",),
    "defeat_zombie": ("attack zombie", "defeat zombie", "kill zombie", "fight zombie", "zombie"),
    "defeat_skeleton": ("attack skeleton", "defeat skeleton", "kill skeleton", "fight skeleton", "skeleton"),
    "wake_up": ("sleep", "wake up", "rest"),
    "make_wood_pickaxe": ("make wood pickaxe", "craft wood pickaxe", "wooden pickaxe", "wood pickaxe"),
    "make_stone_pickaxe": ("make stone pickaxe", "craft stone pickaxe", "stone pickaxe"),
    "make_iron_pickaxe": ("make iron pickaxe", "craft iron pickaxe", "iron pickaxe"),
    "make_wood_sword": ("make wood sword", "craft wood sword", "wooden sword", "wood sword"),
    "make_stone_sword": ("make stone sword", "craft stone sword", "stone sword"),
    "make_iron_sword": ("make iron sword", "craft iron sword", "iron sword"),
}

ADAPTER_SYSTEM = (
    "You are a professional game analyst. A player is playing Crafter, a 2D Minecraft-like game. You get the "
    "player's observation, its status, and its comprehension score of language guidance (how well its recent "
    "actions follow the last sub-goal, from 0 to 1). Give a concise summary and suggestions for this player."
)
GUIDE_SYSTEM = (
    "You are a professional game analyst. A player is playing Crafter, a 2D Minecraft-like game. You also get "
    "an analysis of this player from another analyst. Available sub-goals are: <{choices}>. Suggest the one "
    "sub-goal the player should pursue next, from the available sub-goals, in one sentence without other words."
)


ARTICLES = re.compile(r" (?:a|an|the|some|more)(?= )")


def _norm(text: str) -> str:
    return " " + re.sub(r"[^a-z]+", " ", text.lower().replace("wooden", "wood")).strip() + " "


_PHRASES: list[tuple[str, str]] = sorted(
    ((f" {' '.join(p.split())} ", a) for a, ps in SYNONYMS.items() for p in ps + (a.replace("_", " "),)),
    key=lambda pa: -len(pa[0]),
)


def _first(t: str) -> str | None:
    best: tuple[int, int, str] | None = None  # (position, -length, achievement)
    for phrase, ach in _PHRASES:
        pos = t.find(phrase)
        if pos >= 0 and (best is None or (pos, -len(phrase)) < best[:2]):
            best = (pos, -len(phrase), ach)
    return best[2] if best else None


def parse_subgoal(text: str) -> str | None:
    """The achievement that free text names first (longest phrase wins at a position), or None; failing
    that, the same with the articles left out ("collect a stone": collect stone)."""
    t = _norm(text)
    return _first(t) or _first(ARTICLES.sub("", t))


def open_achievements(unlocked: dict[str, int] | None) -> list[str]:
    """Achievements not unlocked in this episode, in tech-tree order (all of them if none is left)."""
    done = {k for k, v in (unlocked or {}).items() if v > 0}
    rest = [a for a in TECH_ORDER if a not in done]
    return rest or list(TECH_ORDER)


def describe(info: dict[str, Any]) -> tuple[str, str] | None:
    """(what the player sees, its status) from a Crafter observation's info; None if it has neither."""
    if "nearby" not in info and "inventory" not in info:
        return None
    sees = ", ".join(info.get("nearby", [])) or "nothing special"
    status = ", ".join(f"{v} {k}" for k, v in info.get("inventory", {}).items() if v > 0) or "nothing"
    return sees, status
