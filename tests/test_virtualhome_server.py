"""A VirtualHome bridge server (a real process, symbolic mode) runs whole episodes for the runtime."""

from __future__ import annotations

import pytest
from vh_helpers import ENT_RESET_TEXT, FOOD_OPTIMAL, FOOD_RESET_TEXT

from bridges.launch import make_vec_env
from bridges.spec import SkillError


def _index(obs, action_id: int) -> int:
    return obs.info["action_ids"].index(action_id)


def test_server_runs_whole_food_preparation_episodes():
    venv = make_vec_env(bridge="virtualhome", task="food-preparation", options={}, num_envs=2, seed=0)
    try:
        obs = venv.reset()
        assert [o.text for o in obs] == [FOOD_RESET_TEXT, FOOD_RESET_TEXT]
        with pytest.raises(SkillError, match="out of range"):
            venv.step([0, 5])
        for episode in range(2):
            for t, a in enumerate(FOOD_OPTIMAL):
                # env 0 solves the task; env 1 walks to the bathroom and back
                other = 2 if t % 2 == 0 else 1
                obs = venv.step([_index(obs[0], a), _index(obs[1], other)])
                last = t == len(FOOD_OPTIMAL) - 1
                assert obs[0].done == last and obs[0].reward == (1.0 if last else 0.0)
                assert not obs[1].ended and obs[1].reward == 0.0 and obs[1].k == 1
            assert obs[0].info["success"] is True and obs[0].info["episode"]["l"] == 6
            assert obs[0].reset_obs is not None and obs[0].reset_obs.text == FOOD_RESET_TEXT
            obs = [obs[0].reset_obs, obs[1]]
    finally:
        venv.close()


def test_server_passes_options_and_task():
    venv = make_vec_env(bridge="virtualhome", task="entertainment", options={"max_steps": 2}, num_envs=1, seed=0)
    try:
        (obs,) = venv.reset()
        assert obs.text == ENT_RESET_TEXT and len(obs.info["vector"]) == 21
        (obs,) = venv.step([0])
        assert not obs.ended
        (obs,) = venv.step([0])
        assert obs.truncated and obs.info["success"] is False and obs.reset_obs.text == ENT_RESET_TEXT
    finally:
        venv.close()
