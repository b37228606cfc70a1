"""TWOSOME's salad kitchen: reset observations (spec §7.1, §8), the reference trajectories
(§9), the salad rules and rewards (§4, §6) and the episode limit."""

from __future__ import annotations

import pytest

from bridges.overcooked import make_env
from bridges.spec import SkillError

TS, TL = "tomato-salad", "tomato-lettuce-salad"
STEP = -0.001


def macro_reward(rewards: list[float]) -> float:
    """sum_j 0.99^j r_j over a macro's primitive rewards."""
    return sum(0.99**j * r for j, r in enumerate(rewards))


def run(task: str, macros: list[int], **options):
    env = make_env(task, **options)
    env.reset()
    return env, [env.step(m) for m in macros]


# ---- reset ------------------------------------------------------------------------------------


def test_reset_text_tomato_salad_is_spec_8():
    obs = make_env(TS).reset()
    assert obs.text == (
        "There is a fixed cutting board in the room. You notice a tomato on the table. "
        "Currently you don't have anything in hand. To serve the dish of a bowl only containing "
        "chopped tomato, you should first"
    )
    assert obs.skills == ["pick up the tomato", "take the bowl", "walk to the cutting board", "serve nothing", "chop nothing"]
    assert obs.info["vector"] == [0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 4, 1, 0, 0, 0, 0, 0, 0]
    assert (obs.reward, obs.k, obs.done, obs.truncated) == (0.0, 0, False, False)
    assert "success" not in obs.info


def test_reset_text_tomato_lettuce_salad_is_spec_8():
    obs = make_env(TL).reset()
    assert obs.text == (
        "There are two fixed cutting boards in the room. You notice a tomato, a lettuce and an onion "
        "on the different tables. Currently you don't have anything in hand. To serve the dish of a "
        "bowl only containing chopped tomato and lettuce, you should first"
    )
    assert obs.skills == [
        "pick up the tomato", "pick up the lettuce", "pick up the onion", "take the empty bowl",
        "walk to the first cutting board", "walk to the second cutting board", "serve nothing", "chop nothing",
    ]
    assert obs.info["vector"] == [0, 5, 0, 1, 6, 0, 2, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 1, 0, 0, 0]


def test_layout_is_not_randomised_by_the_seed():
    a, b = make_env(TL, seed=0).reset(seed=3), make_env(TL, seed=9).reset(seed=12345)
    assert a.text == b.text and a.info["vector"] == b.info["vector"]


# ---- §9 reference trajectories ----------------------------------------------------------------


def test_tomato_salad_reference_trajectory():
    env, obs = run(TS, [0, 2, 4, 1, 2, 3])
    assert [o.k for o in obs] == [2, 5, 3, 9, 9, 3]
    assert [round(o.reward, 5) for o in obs] == [-0.00199, -0.00490, 0.19305, -0.00865, -0.00865, 0.97713]
    # exact values, not just rounded: step penalties discounted by 0.99 inside the macro
    assert obs[0].reward == pytest.approx(macro_reward([STEP, STEP]), abs=1e-12)
    assert obs[2].reward == pytest.approx(macro_reward([STEP, STEP, STEP + 0.2]), abs=1e-12)
    assert obs[5].reward == pytest.approx(macro_reward([STEP, STEP, STEP + 1.0]), abs=1e-12)
    assert [o.done for o in obs] == [False] * 5 + [True]
    assert not any(o.truncated for o in obs)
    assert obs[-1].info["success"] is True
    assert obs[-1].info["episode"]["l"] == 31 == obs[-1].info["steps"]
    assert round(obs[-1].info["episode"]["r"], 5) == 0.89563
    assert [o.info["macro"] for o in obs] == ["get tomato", "go to knife 1", "chop", "get plate 1", "go to knife 1", "deliver"]


def test_tomato_lettuce_salad_reference_trajectory():
    env, obs = run(TL, [0, 4, 7, 1, 5, 7, 3, 4, 5, 6])
    assert [o.k for o in obs] == [2, 5, 3, 5, 6, 3, 8, 9, 2, 2]
    assert sum(o.k for o in obs) == 45
    assert round(obs[-1].reward, 5) == 0.98801
    assert round(obs[-1].info["episode"]["r"], 5) == 0.94766
    assert obs[-1].done and obs[-1].info["success"] is True
    assert not any(o.done for o in obs[:-1])
    # the two chops of needed ingredients pay +0.2 on their third primitive step
    assert obs[2].reward == pytest.approx(macro_reward([STEP, STEP, STEP + 0.2]), abs=1e-12)
    assert obs[5].reward == pytest.approx(macro_reward([STEP, STEP, STEP + 0.2]), abs=1e-12)


def test_episode_return_is_discounted_over_all_primitive_steps():
    env, obs = run(TS, [0, 2, 4, 1, 2, 3])
    # recompute from the macros: G = sum_t 0.99^t r_t = sum_m 0.99^{t_m} R_m
    t, g = 0, 0.0
    for o in obs:
        g += 0.99**t * o.reward
        t += o.k
    assert obs[-1].info["episode"]["r"] == pytest.approx(g, abs=1e-12)


# ---- the salad rules --------------------------------------------------------------------------


def test_chop_rewards_only_on_completion_and_only_needed_food():
    env, obs = run(TL, [2, 5, 7])  # get onion, put it on board 2, chop it
    assert [o.k for o in obs] == [3, 5, 3]  # (1,4)->(2,6): 3, (2,5)->(2,0): 5
    assert obs[2].reward == pytest.approx(macro_reward([STEP] * 3), abs=1e-12)  # the onion never pays
    assert env.kitchen.food["onion"].chopped
    assert "A chopped onion is on the second cutting board." in obs[2].text


def test_chop_needs_empty_hands_and_spends_three_steps():
    env, obs = run(TS, [0, 2, 1, 2, 4])  # tomato on board, bowl back in front of it, chop with full hands
    assert env.kitchen.holding is env.kitchen.bowl
    assert obs[-1].k == 3
    assert obs[-1].reward == pytest.approx(macro_reward([STEP] * 3), abs=1e-12)
    assert env.kitchen.food["tomato"].chops == 0


def test_chop_with_nothing_to_chop_is_one_stay():
    env, obs = run(TS, [4, 4])
    assert [o.k for o in obs] == [1, 1]
    assert env.kitchen.agent == (1, 4)


def test_wrong_dish_only_tomato_in_tomato_lettuce():
    env, obs = run(TL, [0, 4, 7, 3, 4, 6])  # bowl with only chopped tomato, served
    last = obs[-1]
    assert last.k == 3 and not last.done
    assert last.reward == pytest.approx(macro_reward([STEP, STEP, STEP - 0.1]), abs=1e-12)
    assert round(last.reward, 3) == -0.101
    k = env.kitchen
    assert k.bowl.pos == (6, 5) and k.bowl.contents == []
    assert k.food["tomato"].pos == (0, 5) and k.food["tomato"].chops == 0
    assert k.holding is None and not k.served
    # the tomato can be picked up again from its counter, fresh
    again = env.step(0)
    assert k.holding is k.food["tomato"] and not k.food["tomato"].chopped and again.k == 7


def test_wrong_delivery_empty_bowl_and_bare_food():
    env, obs = run(TS, [1, 3])  # take the bowl, serve it empty
    assert obs[1].reward == pytest.approx(macro_reward([STEP] * 6 + [STEP - 0.1]), abs=1e-12)
    assert env.kitchen.bowl.pos == (6, 5) and env.kitchen.holding is None
    env, obs = run(TS, [0, 3])  # serve the bare fresh tomato
    assert obs[1].k == 7
    assert obs[1].reward == pytest.approx(macro_reward([STEP] * 6 + [STEP - 0.1]), abs=1e-12)
    assert env.kitchen.food["tomato"].pos == (0, 5) and not obs[1].done
    assert "You notice a tomato on the table." not in obs[1].text  # (0,5) is out of view from (3,1)


def test_correct_delivery_leaves_the_bowl_on_the_delivery_counter():
    env, _ = run(TS, [0, 2, 4, 1, 2, 3])
    assert env.kitchen.bowl.pos == (3, 0) and env.kitchen.food["tomato"].pos == (3, 0)


def test_time_limit_200_steps():
    env = make_env(TS)
    env.reset()
    for i in range(199):
        o = env.step(4)  # "chop nothing": one stay each
        assert o.k == 1 and not o.ended
    o = env.step(4)
    assert o.done and o.truncated and o.info["success"] is False
    assert o.info["episode"] == {"r": pytest.approx(-0.0866, abs=5e-5), "l": 200}
    with pytest.raises(SkillError, match="reset"):
        env.step(0)


def test_macro_runs_to_its_end_past_the_limit():
    env = make_env(TS)
    env.reset()
    for _ in range(197):
        env.step(4)
    o = env.step(1)  # get plate 1 from (1,4): 6 primitive steps, the limit falls in the middle
    assert o.k == 6 and o.done and o.truncated
    assert env.kitchen.holding is env.kitchen.bowl
    assert o.info["episode"]["l"] == 203


def test_timeout_can_be_non_terminal():
    env = make_env(TS, max_steps=3, timeout_terminal=False)
    env.reset()
    o = env.step(1)
    assert o.truncated and not o.done and o.ended and o.info["success"] is False


def test_custom_rewards_option():
    env, obs = run(TS, [0, 2, 4], rewards=[0.5, 1, 0.1, 0.01])
    assert obs[2].reward == pytest.approx(macro_reward([-0.01, -0.01, 0.49]), abs=1e-12)


# ---- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1, 5, 99, "0", 1.0, True, None])
def test_bad_skill_index_is_refused_and_state_kept(bad):
    env = make_env(TS)
    env.reset()
    env.step(0)
    before = (env.vector(), env.steps, env.kitchen.agent)
    with pytest.raises(SkillError, match="out of range"):
        env.step(bad)
    assert (env.vector(), env.steps, env.kitchen.agent) == before
    assert env.step(2).k == 5  # the episode goes on


def test_numpy_integer_skill_index_is_accepted():
    import numpy as np
    env = make_env(TS)
    env.reset()
    assert env.step(np.int64(0)).k == 2


def test_step_before_reset_is_refused():
    with pytest.raises(SkillError, match="reset"):
        make_env(TS).step(0)


def test_bad_task_and_options():
    with pytest.raises(ValueError, match="unknown overcooked task 'salad'.*tomato-salad"):
        make_env("salad")
    with pytest.raises(ValueError, match="unknown overcooked option.*'colour'"):
        make_env(TS, colour="red")
    with pytest.raises(ValueError, match="max_steps"):
        make_env(TS, max_steps=0)
    with pytest.raises(ValueError, match="rewards must be 4 numbers"):
        make_env(TS, rewards=[1, 2])
