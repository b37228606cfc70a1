"""BabyAI (minigrid) through the bridge: same episodes as in-process."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("minigrid")

from bridges.launch import make_vec_env  # noqa: E402


def test_babyai_episodes_through_the_bridge_match_in_process() -> None:
    kw = dict(task="GoToLocal", options={"max_steps": 12}, num_envs=2, seed=5)
    remote = make_vec_env("babyai", **kw)
    local = make_vec_env("babyai", in_process=True, **kw)
    try:
        a, b = remote.reset(), local.reset()
        assert [o.to_wire() for o in a] == [o.to_wire() for o in b]
        assert "go forward" in a[0].skills and a[0].goal
        rng = random.Random(0)
        ended = 0
        for _ in range(30):
            acts = [rng.randrange(len(o.skills)) for o in a]
            a, b = remote.step(acts), local.step(acts)
            assert [o.to_wire() for o in a] == [o.to_wire() for o in b]
            ended += sum(o.ended for o in a)
            a = [o.reset_obs if o.ended else o for o in a]
        assert ended >= 4  # max_steps 12: at least two episodes per env in 30 steps
    finally:
        remote.close()
        local.close()
