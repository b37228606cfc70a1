"""Which module builds each simulator's environments (imported lazily).

Each entry is ``"module:function"``; the function is called as
``make_env(task=..., seed=..., **options)`` and returns a SkillEnv.
Nothing heavy is imported until a bridge is actually used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from bridges.spec import SkillEnv

BRIDGES: dict[str, str] = {
    "toy": "bridges.toy:make_env",
    "babyai": "bridges.babyai.env:make_env",
    "overcooked": "bridges.overcooked.env:make_env",
    "overcooked_ai": "bridges.overcooked_ai.env:make_env",
    "virtualhome": "bridges.virtualhome.env:make_env",
    "crafter": "bridges.crafter.env:make_env",
    "unity": "bridges.unity.env:make_env",
}


def env_factory(bridge: str) -> Callable[..., SkillEnv]:
    """The ``make_env`` function of a bridge, by name."""
    if bridge not in BRIDGES:
        raise KeyError(f"unknown bridge {bridge!r}; known bridges: {', '.join(sorted(BRIDGES))}")
    module, _, fn = BRIDGES[bridge].partition(":")
    return getattr(importlib.import_module(module), fn)
