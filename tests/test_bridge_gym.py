"""Bridges as gymnasium.Env instances."""

from __future__ import annotations

import gymnasium
import pytest

from bridges.gym_env import gym_envs, make_gym_env
from bridges.launch import make_vec_env
from bridges.spec import SkillError


def test_gym_episode_through_a_spawned_server() -> None:
    env = make_gym_env("toy", options={"steps": 2, "num_candidates": 3}, seed=4)
    try:
        assert isinstance(env, gymnasium.Env)
        assert env.action_space == gymnasium.spaces.Discrete(3)
        text, info = env.reset(seed=4)
        assert env.observation_space.contains(text)
        assert len(info["skills"]) == 3 and info["action_mask"].tolist() == [True] * 3
        total, done = 0.0, False
        steps = 0
        while not done:
            text, r, term, trunc, info = env.step(info["target"] if "target" in info else 0)
            total += r
            steps += 1
            done = term or trunc
        assert steps == 2 and "success" in info
        with pytest.raises(RuntimeError, match="reset"):
            env.step(0)
        env.reset()
        with pytest.raises(SkillError, match="out of range"):
            env.step(5)
    finally:
        env.close()
    assert env.venv.processes[0].poll() is not None


def test_same_seed_same_episode_and_noop_invalid_actions() -> None:
    venv = make_vec_env("toy", num_envs=2, seed=0)
    try:
        a, b = gym_envs(venv, max_skills=6, invalid_action="noop")
        ta, _ = a.reset(seed=9)
        tb, _ = b.reset(seed=9)
        assert ta == tb
        text, r, term, trunc, info = a.step(5)  # only 4 skills are valid
        assert info["invalid_action"] and text == ta and r == 0.0 and not term
        assert info["action_mask"].tolist() == [True] * 4 + [False] * 2
    finally:
        venv.close()


def test_gymnasium_env_checker_accepts_it() -> None:
    from gymnasium.utils.env_checker import check_env

    env = make_gym_env("toy", seed=1, invalid_action="noop")
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()
