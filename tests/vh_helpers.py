"""Shared bits of the VirtualHome tests: scene folders and the spec's optimal action sequences."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Spec §3.3 and §4.3: env action ids of the shortest solutions.
FOOD_OPTIMAL = [4, 6, 5, 8, 7, 9]
ENT_OPTIMAL = [4, 9, 5, 10, 0, 6, 11, 7, 13, 8, 15]

FOOD_RESET_TEXT = (
    "There are four rooms: the kitchen, bathroom, bedroom, and living room. You are in the kitchen. "
    "You notice pancake and microwave. Currently, you are not grabbing anything in hand. The pancake and "
    "the microwave are not close to you. The microwave is not opend. In order to heat up the pancake in "
    "the microwave, your next step is to"
)
ENT_RESET_TEXT = (
    "There are four rooms: the kitchen, bathroom, bedroom, and living room. You are in the kitchen and "
    "notice chips and milk. But they are not close to you. Currently, you are not grabbing anything in "
    "hand. In order to enjoy the chips and the milk while watching TV, your next step is to"
)


def shared_vh_data() -> Path | None:
    """TWOSOME's scene folder (``$VIRTUALHOME_DATA`` or ``../shared/data/virtualhome``), if present."""
    env = os.environ.get("VIRTUALHOME_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data" / "virtualhome"
    return path if (path / "scenes" / "turn_on_tv.json").is_file() else None


def scene_params() -> list:
    """``vh_data`` values to run on: the project's own scene, and TWOSOME's when present."""
    shared = shared_vh_data()
    return [
        pytest.param(None, id="own-scene"),
        pytest.param(
            str(shared) if shared else None,
            id="turn_on_tv",
            marks=pytest.mark.skipif(shared is None, reason="shared/data/virtualhome (turn_on_tv.json) not present"),
        ),
    ]


def run_actions(env, action_ids):
    """Step ``env`` through env action ids, asserting each is offered; the last observation."""
    obs = None
    for a in action_ids:
        assert a in env.action_ids, f"action {a} not offered; offered {env.action_ids}"
        obs = env.step(env.action_ids.index(a))
        assert obs.info["executed"], obs.info.get("error")
    return obs
