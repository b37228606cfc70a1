"""BabyAI-Text wording: descriptions of constructed views and of real minigrid states,
goals against minigrid's own missions, GLAM's prompt and its history window."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("minigrid")

from minigrid.core.world_object import Ball, Box, Door, Key

from bridges.babyai.env import make_env
from bridges.babyai.text import Lexicon, PromptHistory, describe_view, glam_prompt, make_lexicon

EN = Lexicon("english")
FR = Lexicon("french")

# minigrid encoding: (type, colour, state); types wall=2 door=4 key=5 ball=6 box=7;
# colours red=0 green=1 blue=2 purple=3 yellow=4 grey=5; door states open=0 closed=1 locked=2.
WALL, DOOR, KEY, BALL, BOX = 2, 4, 5, 6, 7
RED, GREEN, BLUE, PURPLE, YELLOW, GREY = range(6)


def view(cells: dict[tuple[int, int], tuple[int, int, int]], fill: int = 1) -> np.ndarray:
    """A 7x7 egocentric view (agent at (3, 6) looking up), empty except ``cells``."""
    img = np.zeros((7, 7, 3), dtype=np.uint8)
    img[:, :, 0] = fill
    for (i, j), v in cells.items():
        img[i, j] = v
    return img


def test_object_offsets_left_right_forward():
    img = view({
        (1, 3): (BALL, RED, 0),     # 2 left, 3 forward
        (3, 4): (BOX, GREEN, 0),    # straight ahead, 2 forward
        (5, 6): (KEY, BLUE, 0),     # 2 right, same row
        (4, 5): (KEY, PURPLE, 0),   # 1 right, 1 forward
    })
    assert describe_view(img, EN) == [
        "You see a red ball 2 steps left and 3 steps forward",
        "You see a green box 2 steps forward",
        "You see a purple key 1 step right and 1 step forward",
        "You see a blue key 2 steps right",
    ]


def test_walls_ahead_left_right_only_when_nothing_in_between():
    img = view({(3, 3): (WALL, 0, 0), (1, 6): (WALL, 0, 0), (6, 6): (WALL, 0, 0)})
    assert describe_view(img, EN) == [
        "You see a wall 3 steps forward",
        "You see a wall 2 steps left",
        "You see a wall 3 steps right",
    ]
    # A ball between the agent and the wall ahead hides that wall; one step is singular.
    img = view({(3, 3): (WALL, 0, 0), (3, 5): (BALL, YELLOW, 0), (2, 6): (WALL, 0, 0)})
    assert describe_view(img, EN) == ["You see a wall 1 step left", "You see a yellow ball 1 step forward"]


def test_unseen_cells_are_skipped_and_never_described():
    img = view({(3, 5): (0, 0, 0), (3, 4): (0, 0, 0), (3, 1): (WALL, 0, 0)}, fill=0)
    assert describe_view(img, EN) == ["You see a wall 5 steps forward"]
    assert describe_view(view({}, fill=0), EN) == []


def test_carrying_and_doors():
    img = view({
        (3, 6): (KEY, YELLOW, 0),   # the agent's cell holds what it carries
        (2, 2): (DOOR, RED, 2),
        (4, 2): (DOOR, BLUE, 0),
        (5, 2): (DOOR, GREY, 1),
    })
    assert describe_view(img, EN) == [
        "You carry a yellow key",
        "You see a locked red door 1 step left and 4 steps forward",
        "You see an open blue door 1 step right and 4 steps forward",
        "You see a closed grey door 2 steps right and 4 steps forward",
    ]


def test_french_descriptions():
    img = view({
        (3, 6): (BALL, GREEN, 0),
        (3, 2): (WALL, 0, 0),
        (0, 6): (WALL, 0, 0),
        (1, 3): (BOX, PURPLE, 0),
        (5, 6): (DOOR, RED, 2),
    })
    assert describe_view(img, FR) == [
        "Tu portes une balle verte",
        "Tu vois un mur à 4 pas devant",
        "Tu vois un mur à 3 pas à gauche",
        "Tu vois une boîte violette 2 pas à gauche et 3 pas devant",
        "Tu vois une porte rouge fermée à clef 2 pas à droite",
    ]


@pytest.mark.parametrize(
    "preset, expected",
    [
        ("ood_nouns", ["You carry a grey chair", "You see a red table 1 step forward", "You see a blue car 1 step right"]),
        ("invented_words", ["You carry a sil dax", "You see a faze xolo 1 step forward", "You see a croh afze 1 step right"]),
        ("invented_nouns", ["You carry a grey dax", "You see a red xolo 1 step forward", "You see a blue afze 1 step right"]),
        ("ood_adjectives", ["You carry a silver key", "You see a vermilion ball 1 step forward",
                            "You see a cyan box 1 step right"]),
    ],
)
def test_renamed_words(preset, expected):
    img = view({(3, 6): (KEY, GREY, 0), (3, 5): (BALL, RED, 0), (4, 6): (BOX, BLUE, 0)})
    assert describe_view(img, make_lexicon("english", preset)) == expected


def test_bad_lexicon_options_are_named():
    with pytest.raises(ValueError, match="language"):
        make_lexicon("klingon")
    with pytest.raises(ValueError, match="rename preset"):
        make_lexicon("english", "nonsense")
    with pytest.raises(ValueError, match="unknown keys"):
        make_lexicon("english", {"wall": "fence"})


def _clear_room(level):
    """Empty the interior of a single-room level (keep its outer walls)."""
    for x in range(1, level.width - 1):
        for y in range(1, level.height - 1):
            level.grid.set(x, y, None)


def test_real_minigrid_state_is_described_from_its_encoded_view():
    env = make_env("GoToLocal")
    env.reset(0)
    level = env.unwrapped
    _clear_room(level)  # an 8x8 room: walls at x, y = 0 and 7
    level.agent_pos = np.array((3, 3))
    level.agent_dir = 0  # facing +x: forward = +x, left = -y, right = +y
    level.grid.set(5, 3, Ball("red"))      # 2 forward (hides the wall ahead)
    level.grid.set(4, 1, Box("grey"))      # 1 forward, 2 left
    level.grid.set(3, 5, Key("blue"))      # 2 right
    level.carrying = Key("yellow")
    texts = describe_view(level.gen_obs()["image"], EN)
    assert texts == [
        "You carry a yellow key",
        "You see a wall 3 steps left",
        "You see a grey box 2 steps left and 1 step forward",
        "You see a red ball 2 steps forward",
        "You see a blue key 2 steps right",
    ]
    # Face the other way: the wall at x=0 is 3 steps ahead, the ball is behind (unseen).
    level.agent_dir = 2
    level.carrying = None
    level.grid.set(1, 2, Door("green", is_open=False, is_locked=False))
    texts = describe_view(level.gen_obs()["image"], EN)
    assert "You see a wall 3 steps forward" in texts
    assert "You see a closed green door 1 step right and 2 steps forward" in texts
    assert not any("ball" in t for t in texts)
    assert not any(t.startswith("You carry") for t in texts)


@pytest.mark.parametrize("task", ["GoToLocal", "PickupLoc", "PutNextLocal", "MixedTrainLocal", "MixedTestLocal"])
def test_english_goal_is_minigrids_mission(task):
    env = make_env(task)
    for seed in range(25):
        obs = env.reset(seed)
        assert obs.goal == env.unwrapped.mission
        assert f"Goal of the agent: {obs.goal} \n" in obs.text


def test_french_goals():
    env = make_env("GoToLocal", language="french")
    obs = env.reset(3)
    mission = env.unwrapped.mission  # "go to the red key"
    assert mission == "go to the red key"
    assert obs.goal == "aller à la clef rouge"
    assert obs.text.startswith("Actions possibles pour l'agent: tourner à gauche, tourner à droite, aller tout droit, "
                               "attraper, lâcher, basculer \n But de l'agent: aller à la clef rouge \n Observation 0: ")
    env = make_env("PutNextLocal", language="french")
    env.reset(3)
    assert env.unwrapped.mission == "put the red key next to the grey key"
    assert env.reset(3).goal == "mettre la clef rouge à côté de la clef grise"


def test_renamed_goal():
    env = make_env("GoToLocal", rename="ood_nouns")
    assert env.reset(3).goal == "go to the red chair"
    env = make_env("GoToLocal", rename={"red": "scarlet", "key": "spanner"})
    assert env.reset(3).goal == "go to the scarlet spanner"


def test_prompt_layout_matches_glam():
    h = PromptHistory(3)
    h.push_observation(["You see a wall 2 steps forward", "You see a red ball 1 step left"])
    skills = ["turn left", "turn right", "go forward"]
    assert glam_prompt(EN, skills, "go to the red ball", h) == (
        "Possible action of the agent: turn left, turn right, go forward \n"
        " Goal of the agent: go to the red ball \n"
        " Observation 0: You see a wall 2 steps forward, You see a red ball 1 step left, \n"
        " Action 0:"
    )


def test_prompt_keeps_last_n_observations_and_actions():
    h = PromptHistory(3)
    for t in range(6):
        if t:
            h.push_action(f"act{t - 1}")
        h.push_observation([f"obs{t}"])
    text = glam_prompt(EN, ["a"], "g", h)
    # Observations 3, 4, 5 and the actions 3, 4 between them, renumbered from 0.
    assert text.endswith(" \n Observation 0: obs3, \n Action 0: act3 \n Observation 1: obs4, \n Action 1: act4"
                         " \n Observation 2: obs5, \n Action 2:")
    for old in ("obs0", "obs1", "obs2", "act0", "act1", "act2"):
        assert old not in text
    one = PromptHistory(1)
    one.push_observation(["x"])
    one.push_action("a")
    one.push_observation(["y"])
    assert glam_prompt(EN, ["a"], "g", one).endswith("Observation 0: y, \n Action 0:")
    with pytest.raises(ValueError, match="history"):
        PromptHistory(0)
