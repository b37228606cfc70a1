"""The text observation TWOSOME's LLM sees (spec §7.3), built only from the vector observation."""

from __future__ import annotations

from collections.abc import Sequence

from skills.overcooked import Cell, Scene

_NTH = ("first", "second", "third")


def _article(name: str) -> str:
    return ("an " if name[0] in "aeiou" else "a ") + name


def _listing(words: Sequence[str]) -> str:
    """ "x", "x and y", "x, y and z"."""
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def _thing(scene: Scene, idx: int) -> str:
    """ "a bowl", "a chopped tomato" or "an unchopped tomato"."""
    if idx == len(scene.foods):
        return "a bowl"
    state = "a chopped " if scene.chopped[idx] else "an unchopped "
    return state + scene.foods[idx]


def observation_text(scene: Scene, origins: Sequence[Cell], goal_foods: Sequence[str]) -> str:
    """TWOSOME's prompt for this observation; it ends with "..., you should first".

    ``origins`` are the initial cells of the foods and the bowl (index order); an item is
    "noticed on the table" only when it is visible there. ``goal_foods`` name the recipe.
    """
    single = len(scene.boards) == 1
    names = scene.names()
    sentences = [
        "There is a fixed cutting board in the room."
        if single
        else f"There are {('two', 'three')[len(scene.boards) - 2]} fixed cutting boards in the room."
    ]

    seen = [_article(n) for n, p, o in zip(names, scene.positions(), origins) if p is not None and p == o]
    if len(seen) == 1:
        sentences.append(f"You notice {seen[0]} on the table.".capitalize())
    elif seen:
        sentences.append(f"You notice {_listing(seen)} on the different tables.".capitalize())

    for k, board in enumerate(scene.boards):
        where = "the cutting board" if single else f"the {_NTH[k]} cutting board"
        on = scene.at(board)
        if len(on) == 1:
            sentences.append(f"{_thing(scene, on[0])} is on {where}.".capitalize())
        elif len(on) > 1:
            if single:
                sentences.append(f"a bowl containing a chopped {scene.foods[0]} is on {where}.".capitalize())
            else:
                contents = _listing([names[i] for i in on[:-1]])
                sentences.append(f"a bowl containing chopped {contents} is on {where}.".capitalize())

    hand = scene.at(scene.agent)
    front = scene.front.index(scene.agent) if scene.agent in scene.front else -1
    if front >= 0:
        where = "the cutting board" if single else f"the {_NTH[front]} cutting board"
        if not hand:
            s = f"currently you are standing in front of {where} without anything in hand."
        elif len(hand) == 1:
            s = f"currently you are standing in front of {where}, carrying {_thing(scene, hand[0])} in hand."
        else:
            contents = _listing([names[i] for i in hand[:-1]])
            s = f"currently you are standing in front of {where}, carrying a bowl containing chopped {contents} in hand."
    elif not hand:
        s = "currently you don't have anything in hand."
    elif len(hand) == 1:
        s = f"currently you are carrying {_thing(scene, hand[0])} in hand."
    else:
        s = f"currently you are carrying a bowl containing chopped {_listing([names[i] for i in hand[:-1]])}."
    sentences.append(s.capitalize())

    sentences.append(f"To serve the dish of a bowl only containing chopped {_listing(goal_foods)}, you should first")
    return " ".join(sentences)
