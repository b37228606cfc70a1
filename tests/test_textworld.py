"""The TextWorld bridge: a generated game played to its end with the admissible commands."""

from __future__ import annotations

import pytest

pytest.importorskip("textworld")

from bridges.launch import make_vec_env
from bridges.registry import get_simulator
from bridges.spec import SkillError
from bridges.textworld.env import make_env


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("twcache"))


def test_a_generated_game_is_played_to_its_end_by_its_walkthrough(cache) -> None:
    assert get_simulator("textworld").options is not None
    env = make_env(task="simple", seed=0, cache_dir=cache, game_seed=3, exclude=["examine", "look"])
    try:
        obs = env.reset(seed=0)
        assert "$$" not in obs.text and obs.goal and obs.skills and obs.info["score"] == 0
        assert not any(s.startswith(("examine", "look")) for s in obs.skills)
        with pytest.raises(SkillError, match="out of range"):
            env.step(len(obs.skills))
        total, steps = 0.0, 0
        while not obs.ended:
            command = env.policy_commands[0]
            assert command in obs.skills  # the walkthrough only needs admissible commands
            obs = env.step(obs.skills.index(command))
            total += obs.reward
            steps += 1
            assert obs.k == 1
        assert obs.done and not obs.truncated and obs.info["success"] is True
        assert total == obs.info["max_score"] == obs.info["score"] > 0 and steps >= 3
        game = obs.info["game"]
    finally:
        env.close()
    # the same seed gives the same game from the cache (no second generation)
    again = make_env(task="simple", seed=0, cache_dir=cache, game_seed=3)
    try:
        assert again.reset().info["game"] == game and len(again.games) == 1
    finally:
        again.close()


def test_a_game_file_over_a_real_server_truncates_at_max_steps(cache) -> None:
    from pathlib import Path

    game = min(Path(cache).glob("*.z8"))
    venv = make_vec_env("textworld", task="my-game", options={"game": str(game), "max_steps": 3}, num_envs=1, seed=0)
    try:
        (obs,) = venv.reset()
        assert venv.bridge == "textworld" and venv.task == "my-game" and obs.skills
        for _ in range(3):
            (obs,) = venv.step([obs.skills.index("inventory") if "inventory" in obs.skills else 0])
        assert obs.reset_obs is not None  # ended: the vector env reset it
        assert obs.truncated and not obs.done and obs.info["success"] is False
    finally:
        venv.close()
