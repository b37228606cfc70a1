"""Checks of the overcooked_ai bridge's environment, run *inside* .venv-overcooked_ai (numpy<2).

The simulator cannot be imported by the runtime's interpreter, so pytest does not run these
directly: ``tests/test_overcooked_ai.py`` runs this file with the venv's python
(``python tests/test_overcooked_ai_sim.py``), which prints one JSON object, ``{"checks": {name:
"ok" | failure text}, "trajectories": ...}``, and turns each check into a pytest test.
Each ``check_*`` function uses plain asserts. Nothing here imports the simulator at module level,
so the runtime's pytest can collect this file (it holds no tests of its own).
"""

from __future__ import annotations

import json
import random
import sys
import traceback
from collections.abc import Callable
from typing import Any

# Deliveries are 20 points each (the package's default recipe value).
SOUP = 20.0


def _env(**kw: Any):
    from bridges.overcooked_ai.env import make_env

    return make_env(**kw)


def _greedy(env, obs) -> int:
    from skills.overcooked_ai import scripted_choice

    sid = scripted_choice(env.kitchen, env.state, obs.info["chef"], random.Random(0))
    return obs.info["skill_ids"].index(sid)


def check_reset_observation() -> None:
    env = _env(task="cramped_room", seed=0)
    obs = env.reset(seed=0)
    assert obs.skills == ["pick up an onion", "pick up a dish", "wait"], obs.skills
    assert obs.info["skill_ids"] == [0, 2, 10] and obs.info["num_skill_ids"] == 11
    assert obs.k == 0 and obs.reward == 0.0 and not obs.done and obs.info["chef"] == 0
    assert len(obs.info["vector"]) == 97 and all(isinstance(x, float) for x in obs.info["vector"])
    assert obs.info["vector"][-1] == 1.0  # all the time is left
    for phrase in ("(cramped_room)", "3 onions", "You are at (1, 2) facing up, carrying nothing",
                   "(a scripted helper) is at (3, 1)", "The pot at (2, 0) is empty", "The counters are empty",
                   "an onion 2 steps", "a dish 1 step,"):
        assert phrase in obs.text, (phrase, obs.text)
    assert obs.text.endswith("You should")


def check_pick_onion_moves_the_chef_and_updates_the_text() -> None:
    env = _env(task="cramped_room", seed=0)
    obs = env.reset(seed=0)
    before = obs.info["vector"]
    obs = env.step(obs.skills.index("pick up an onion"))
    # From (1, 2) facing up: up to (1, 1), turn left to the dispenser at (0, 1), interact.
    assert obs.k == 3, obs.k
    assert "You are at (1, 1) facing left, carrying an onion" in obs.text, obs.text
    assert env.state.players[0].held_object.name == "onion"
    assert "put the onion in the pot" in obs.skills and "put the onion on the counter" in obs.skills
    assert "pick up an onion" not in obs.skills
    assert obs.info["vector"] != before and obs.info["timestep"] == 3


def check_bad_index_is_refused_and_state_kept() -> None:
    from bridges.spec import SkillError

    env = _env(task="cramped_room", seed=0)
    obs = env.reset(seed=0)
    for bad in (-1, len(obs.skills), 99, "0", True, 1.0):
        try:
            env.step(bad)
        except SkillError as e:
            assert "out of range" in str(e) and "pick up an onion" in str(e), str(e)
        else:
            raise AssertionError(f"index {bad!r} was accepted")
        assert env.state.timestep == 0 and env.describe(0) == obs.text
    import numpy as np

    assert env.step(np.int64(0)).k > 0  # the episode goes on; numpy integers are indices too


def check_greedy_self_play_serves_soups_with_discounted_rewards() -> None:
    env = _env(task="cramped_room", seed=0, partner="self", horizon=400)
    obs = env.reset(seed=0)
    steps, soups, deliveries = 0, 0, 0
    while not obs.done:
        obs = env.step(_greedy(env, obs))
        steps += obs.k
        if obs.info["soups"] > soups:
            # One delivery at primitive step j of this macro pays 20 * 0.99**j.
            assert obs.info["soups"] == soups + 1
            assert any(abs(obs.reward - SOUP * 0.99**j) < 1e-9 for j in range(obs.k)), (obs.reward, obs.k)
            deliveries += 1
        else:
            assert obs.reward == 0.0
        soups = obs.info["soups"]
    assert steps == 400 and obs.info["timestep"] == 400
    assert deliveries >= 5, deliveries
    assert obs.info["success"] is True and obs.info["score"] == SOUP * deliveries


def check_a_soup_off_the_order_list_scores_nothing() -> None:
    env = _env(task="cramped_room", seed=0, partner="self", horizon=200, reward_scale=0.05)
    obs = env.reset(seed=0)
    plan = ["pick up an onion", "put the onion in the pot", "start cooking the soup", "pick up a dish",
            "fill the dish with soup", "serve the soup"]
    total = 0.0
    while not obs.done:
        if obs.info["chef"] == 0 and not plan:
            break  # chef 0 has served and asks for more
        skill = plan.pop(0) if obs.info["chef"] == 0 else "wait"  # chef 1 stays out of the way
        obs = env.step(obs.skills.index(skill))
        total += obs.reward
    assert not plan and obs.info["wasted_soups"] == 1 and obs.info["soups"] == 0, obs.info
    assert total == 0.0 and "(and 1 that scored nothing)" in obs.text, obs.text


def check_scripted_partner_cooks_alone() -> None:
    # The policy plays chef 1 and stays at (3, 1), out of the helper's way (chef 0 starts at
    # (1, 2), the only cell that reaches the dishes).
    env = _env(task="cramped_room", seed=0, partner="scripted", agent_index=1, horizon=300)
    obs = env.reset(seed=0)
    assert obs.info["chef"] == 1 and "You are at (3, 1)" in obs.text
    while not obs.done:
        obs = env.step(obs.skills.index("wait"))
        assert obs.k == 3 or obs.done  # "wait" is 3 primitive steps
    assert obs.info["soups"] >= 2, obs.info


def check_self_play_asks_both_chefs() -> None:
    env = _env(task="cramped_room", seed=0, partner="self")
    obs = env.reset(seed=0)
    assert obs.info["chef"] == 0 and "(your teammate)" in obs.text
    obs = env.step(obs.skills.index("pick up an onion"))
    assert obs.info["chef"] == 1 and obs.k == 0, (obs.info["chef"], obs.k)
    assert "You are at (3, 1)" in obs.text and "is going to pick up an onion" in obs.text, obs.text
    obs = env.step(obs.skills.index("pick up a dish"))
    assert obs.k >= 1
    chefs = set()
    for _ in range(30):
        chefs.add(obs.info["chef"])
        obs = env.step(len(obs.skills) - 1)  # wait
    assert chefs == {0, 1}


def check_shaped_reward_and_scale() -> None:
    import itertools

    env = _env(task="cramped_room", seed=0, reward_scale=0.05, shaped_reward=1.0)
    obs = env.reset(seed=0)
    obs = env.step(obs.skills.index("pick up an onion"))
    obs = env.step(obs.skills.index("put the onion in the pot"))
    # The package's shaping pays 3 for an onion in the pot (either chef's); scaled by 0.05 and
    # discounted inside the macro: the reward is 0.15 * (0.99**a + 0.99**b ...) for steps a, b < k.
    sums = {round(0.15 * sum(0.99**j for j in js), 9)
            for n in (1, 2) for js in itertools.combinations(range(obs.k), n)}
    assert round(obs.reward, 9) in sums, (obs.reward, obs.k)
    assert "holds 1 onion, not cooking yet" in obs.text or "holds 2 onions" in obs.text, obs.text


def check_horizon_and_max_soups_end_episodes() -> None:
    env = _env(task="cramped_room", seed=0, horizon=50)
    obs = env.reset(seed=0)
    total = 0
    while not obs.done:
        obs = env.step(0)
        total += obs.k
    assert total == 50 and obs.info["timestep"] == 50 and "success" in obs.info
    from bridges.spec import SkillError

    try:
        env.step(0)
    except SkillError as e:
        assert "reset" in str(e)
    else:
        raise AssertionError("a step after the end was accepted")
    env = _env(task="cramped_room", seed=0, partner="self", max_soups=1)
    obs = env.reset(seed=0)
    while not obs.done:
        obs = env.step(_greedy(env, obs))
    assert obs.info["soups"] == 1 and obs.info["success"] is True and obs.info["timestep"] < 400


def check_seeds_reproduce_and_random_start_varies() -> None:
    def run(seed: int, **kw: Any) -> list[tuple[str, float, int]]:
        env = _env(task="coordination_ring", seed=seed, **kw)
        obs = env.reset(seed=seed)
        rng = random.Random(seed)
        out = [(obs.text, obs.reward, obs.k)]
        while not obs.done:
            obs = env.step(rng.randrange(len(obs.skills)))
            out.append((obs.text, obs.reward, obs.k))
        return out

    assert run(3, horizon=120, partner_epsilon=0.3) == run(3, horizon=120, partner_epsilon=0.3)
    starts = {run(s, horizon=5, random_start=True)[0][0] for s in range(6)}
    assert len(starts) > 1


def check_options_are_validated() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"task": "cramped_room", "colour": "red"}, "unknown overcooked_ai option"),
        ({"task": "cramped_room", "partner": "human"}, "partner"),
        ({"task": "no_such_kitchen"}, "unknown overcooked-ai layout"),
        ({"task": "cramped_room_single"}, "2-chef layout"),
        ({"task": "cramped_room", "horizon": 0}, "horizon"),
        ({"task": "cramped_room", "agent_index": 2}, "agent_index"),
        ({"task": "cramped_room", "random_start": "maybe"}, "random_start"),
    ]
    for kw, words in cases:
        try:
            _env(**kw)
        except ValueError as e:
            assert words in str(e), (kw, str(e))
        else:
            raise AssertionError(f"{kw} was accepted")


def check_classic_layouts_run() -> None:
    # The five layouts of the HumanCompatibleAI paper and two with tomatoes. (Every 2-chef layout of
    # the package runs too, but planning the biggest ones takes seconds: not for CI.)
    for name in ("cramped_room", "asymmetric_advantages", "coordination_ring", "forced_coordination",
                 "counter_circuit_o_1order", "cramped_room_tomato", "asymmetric_advantages_tomato"):
        env = _env(task=name, seed=1, partner="self", horizon=80)
        obs = env.reset(seed=1)
        rng = random.Random(1)
        while not obs.done:
            assert obs.skills and obs.skills[-1] == "wait" and len(obs.info["vector"]) == 97, name
            obs = env.step(rng.randrange(len(obs.skills)))
        assert obs.info["timestep"] == 80, name
    tomato = _env(task="cramped_room_tomato", seed=0)
    obs = tomato.reset(seed=0)
    assert "pick up a tomato" in obs.skills, obs.skills


CHECKS: dict[str, Callable[[], None]] = {
    name[len("check_"):]: fn for name, fn in sorted(globals().items()) if name.startswith("check_")
}


def action_rule(step: int, env_index: int, num_skills: int) -> int:
    """The deterministic policy both the in-process and the bridge runs follow."""
    return (7 * step + 3 * env_index) % num_skills


def trajectories(task: str, options: dict[str, Any], seed: int, num_envs: int) -> list[list[list[Any]]]:
    """First episode of each env i (built and reset with seed + i, as the bridge does): [text, reward, k]."""
    out = []
    for i in range(num_envs):
        env = _env(task=task, seed=seed + i, **options)
        obs = env.reset(seed=seed + i)
        steps, t = [[obs.text, obs.reward, obs.k]], 0
        while not obs.done:
            obs = env.step(action_rule(t, i, len(obs.skills)))
            steps.append([obs.text, obs.reward, obs.k])
            t += 1
        out.append(steps)
    return out


BRIDGE_CASE = {"task": "cramped_room", "options": {"horizon": 60, "partner": "scripted", "partner_epsilon": 0.2},
               "seed": 7, "num_envs": 2}


def main() -> None:
    results = {}
    for name, fn in CHECKS.items():
        try:
            fn()
            results[name] = "ok"
        except Exception:
            results[name] = traceback.format_exc()
    json.dump({"checks": results, "trajectories": trajectories(**BRIDGE_CASE)}, sys.stdout)


if __name__ == "__main__":
    main()
