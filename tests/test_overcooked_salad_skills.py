"""Macro-actions of the salad kitchen (spec §5): their ending rules and primitive-step counts,
A* navigation, and the context-dependent action texts and observation sentences (§7.3, §7.4)."""

from __future__ import annotations

import random
from collections import deque

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridges.overcooked import make_env
from skills.overcooked import DIRECTIONS, STAY, macro_names, navigate

TS, TL = "tomato-salad", "tomato-lettuce-salad"


def play(task: str, macros: list[int]):
    env = make_env(task)
    env.reset()
    return env, [env.step(m) for m in macros]


def test_macro_lists_are_twosomes():
    assert make_env(TS).macros == ["get tomato", "get plate 1", "go to knife 1", "deliver", "chop"]
    assert make_env(TL).macros == [
        "get tomato", "get lettuce", "get onion", "get plate 1", "go to knife 1", "go to knife 2", "deliver", "chop",
    ]
    assert macro_names(["tomato"], 1) == make_env(TS).macros


# ---- ending rules and costs -------------------------------------------------------------------


def test_get_plate_with_chopped_food_fills_the_bowl_then_takes_it():
    env, obs = play(TS, [0, 2, 4, 0, 1, 3])
    assert [o.k for o in obs[3:]] == [1, 10, 7]  # pick the chopped tomato; d=9 + 1 extra step; serve
    assert obs[4].text.endswith(
        "Currently you are carrying a bowl containing chopped tomato. To serve the dish of a bowl only "
        "containing chopped tomato, you should first"
    )
    assert obs[-1].done and obs[-1].info["success"]


def test_get_plate_from_a_board_with_chopped_food_picks_up_and_fills_in_one_step():
    # bowl onto board 1, tomato onto board 2, chop, take the chopped tomato, then "get plate 1"
    env, obs = play(TL, [3, 4, 0, 5, 7, 0, 3])
    assert [o.k for o in obs] == [6, 9, 5, 6, 3, 1, 3]  # the last: up, pick+fill, stay
    k = env.kitchen
    assert k.holding is k.bowl and k.bowl.contents == [k.food["tomato"]] and k.agent == (1, 1)
    assert "Currently you are standing in front of the first cutting board, carrying a bowl containing chopped tomato in hand." in obs[-1].text
    assert obs[-1].skills[3] == "take the bowl"


def test_get_plate_with_fresh_food_stops_next_to_the_bowl():
    env, obs = play(TS, [0, 1])
    assert obs[1].k == 5 and env.kitchen.agent == (5, 5)  # 4 moves + a stay
    assert env.kitchen.holding is env.kitchen.food["tomato"]


def test_stay_cases_cost_one_step():
    env, obs = play(TS, [0, 0])  # the tomato is in hand
    assert obs[1].k == 1
    env, obs = play(TS, [1, 1])  # the bowl is in hand
    assert obs[1].k == 1
    env, obs = play(TS, [0, 2, 4, 0, 1, 0])  # the tomato is visibly in the bowl
    assert obs[-1].k == 1 and env.kitchen.agent == (5, 5)


def test_get_food_that_is_fresh_on_a_board_walks_up_without_chopping():
    env, obs = play(TS, [0, 2, 1, 0, 0])
    assert obs[3].k == 8 and env.kitchen.agent == (1, 1)  # d=9 from (5,5): walk until adjacent
    assert obs[4].k == 1  # already adjacent: one stay
    assert env.kitchen.food["tomato"].chops == 0


def test_get_food_in_a_bowl_ends_when_the_bowl_comes_into_view():
    # bowl with chopped tomato put on board 2, lettuce fetched, then "get tomato": the agent walks
    # TWOSOME's path (down first) and stops with a stay once (2,0) is in its 5x5 window
    # (numbers from running TWOSOME's code).
    env, obs = play(TL, [0, 5, 7, 3, 5, 5, 1, 0])
    assert [o.k for o in obs] == [2, 6, 3, 8, 8, 1, 6, 5]
    assert env.kitchen.agent == (2, 2)
    assert obs[-1].text == (
        "There are two fixed cutting boards in the room. A bowl containing chopped tomato is on the "
        "second cutting board. Currently you are carrying an unchopped lettuce in hand. To serve the "
        "dish of a bowl only containing chopped tomato and lettuce, you should first"
    )
    assert obs[-1].skills[3:6] == [
        "take the bowl", "put the lettuce on the first cutting board", "put the lettuce on the second cutting board",
    ]


def test_empty_handed_go_to_knife_and_deliver_end_on_arrival():
    env, obs = play(TS, [2, 2])
    assert [o.k for o in obs] == [3, 1] and env.kitchen.agent == (1, 1)
    env, obs = play(TL, [5])
    assert obs[0].k == 4 and env.kitchen.agent == (2, 1)  # d((1,4),(2,0)) = 5
    env, obs = play(TS, [3])
    assert obs[0].k == 5 and env.kitchen.agent == (3, 1) and obs[0].reward < 0


def test_chop_on_already_chopped_food_is_a_stay():
    env, obs = play(TS, [0, 2, 4, 4])
    assert obs[3].skills[4] == "chop the tomato"  # offered although chopped (spec §10)
    assert obs[3].k == 1 and env.kitchen.food["tomato"].chops == 3


@settings(max_examples=60, deadline=None)
@given(task=st.sampled_from([TS, TL]), seed=st.integers(0, 2**31 - 1), randomize=st.booleans())
def test_random_macros_always_terminate_and_count_steps(task, seed, randomize):
    rng = random.Random(seed)
    env = make_env(task, randomize=randomize)
    obs = env.reset(seed=seed)
    n = len(obs.skills)
    total = 0
    for _ in range(400):
        o = env.step(rng.randrange(n))
        assert 1 <= o.k <= 20
        total += o.k
        assert o.info["steps"] == total
        assert len(o.skills) == n and len(o.info["vector"]) == (18 if task == TS else 26)
        msgpack.packb(o.to_wire())  # the wire needs plain values only
        if o.ended:
            assert o.info["episode"]["l"] == total and isinstance(o.info["success"], bool)
            assert o.done == (o.info["success"] or o.truncated)
            break
    else:
        pytest.fail("episode did not end within 400 macros")
    assert total >= 200 or o.info["success"]


# ---- navigation -------------------------------------------------------------------------------


def _bfs(start, goal_cells, passable):
    seen, q = {start: 0}, deque([start])
    while q:
        c = q.popleft()
        if c in goal_cells:
            return seen[c]
        for dr, dc in DIRECTIONS:
            n = (c[0] + dr, c[1] + dc)
            if n not in seen and passable(n):
                seen[n] = seen[c] + 1
                q.append(n)
    return None


def _map_a_floor(c):
    return 1 <= c[0] <= 5 and 1 <= c[1] <= 5


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_navigate_on_map_a_takes_the_first_move_of_a_shortest_path(data):
    floor = [(r, c) for r in range(1, 6) for c in range(1, 6)]
    start = data.draw(st.sampled_from(floor))
    target = data.draw(st.sampled_from([(0, 5), (1, 0), (2, 0), (3, 0), (6, 5), (2, 6), (1, 6)]))
    adjacent = {(target[0] + dr, target[1] + dc) for dr, dc in DIRECTIONS}
    dist = _bfs(start, adjacent, _map_a_floor)
    action = navigate(start, target, _map_a_floor)
    dr, dc = DIRECTIONS[action]
    nxt = (start[0] + dr, start[1] + dc)
    if nxt == target:
        assert dist == 0
    else:
        assert _map_a_floor(nxt) and _bfs(nxt, adjacent, _map_a_floor) == dist - 1


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_navigate_with_obstacles_finds_a_way_whenever_there_is_one(data):
    blocked = set(data.draw(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), max_size=12)))
    floor = [(r, c) for r in range(1, 6) for c in range(1, 6) if (r, c) not in blocked]
    if not floor:
        return
    start = data.draw(st.sampled_from(floor))
    target = data.draw(st.sampled_from([(0, 5), (1, 0), (3, 0), (6, 5), (2, 6), (1, 6)]))

    def passable(c):
        return _map_a_floor(c) and c not in blocked

    adjacent = {(target[0] + dr, target[1] + dc) for dr, dc in DIRECTIONS}
    action = navigate(start, target, passable)
    if _bfs(start, adjacent, passable) is None:
        assert action == STAY
    else:
        dr, dc = DIRECTIONS[action]
        nxt = (start[0] + dr, start[1] + dc)
        assert nxt == target or passable(nxt)


def test_navigate_breaks_ties_like_twosome():
    # TWOSOME's planner (checked by running its code): from (1,5) to board 2 it goes down first,
    # from (1,4) to the tomato right, from (1,1) to the bowl down.
    assert navigate((1, 5), (2, 0), _map_a_floor) == 1  # down
    assert navigate((1, 4), (0, 5), _map_a_floor) == 0  # right
    assert navigate((1, 1), (6, 5), _map_a_floor) == 1  # down


# ---- action texts and sentences ---------------------------------------------------------------


def test_tomato_salad_action_texts_follow_the_context():
    env, obs = play(TS, [0, 2, 4, 0, 1])
    holding_fresh = play(TS, [0])[1][0]
    assert holding_fresh.skills == ["pick up the tomato", "take the bowl", "put the tomato on the cutting board", "serve the dish", "chop nothing"]
    assert "Currently you are carrying an unchopped tomato in hand." in holding_fresh.text
    on_board = obs[1]
    assert on_board.skills[4] == "chop the tomato"
    assert "An unchopped tomato is on the cutting board. Currently you are standing in front of the cutting board without anything in hand." in on_board.text
    holding_chopped = obs[3]  # at (1,1), chopped tomato in hand
    assert holding_chopped.skills == ["pick up the tomato", "take the bowl", "walk to the cutting board", "serve the dish", "chop nothing"]
    assert "Currently you are standing in front of the cutting board, carrying a chopped tomato in hand." in holding_chopped.text
    holding_full_bowl = obs[4]
    assert holding_full_bowl.skills == ["put the tomato in the bowl", "take the bowl", "put the bowl on the cutting board", "serve the dish", "chop nothing"]
    empty_bowl = play(TS, [1])[1][0]
    assert empty_bowl.skills == holding_full_bowl.skills
    assert "Currently you are carrying a bowl in hand." in empty_bowl.text


def test_tomato_salad_bowl_on_the_board_sentences():
    env, obs = play(TS, [1, 2])
    assert "A bowl is on the cutting board. Currently you are standing in front of the cutting board without anything in hand." in obs[1].text
    assert obs[1].skills[4] == "chop nothing"  # a bowl is not a lone food
    env, obs = play(TS, [0, 2, 4, 0, 1, 2, 3])  # bowl with tomato put on the board, then leave
    assert obs[5].k == 9
    assert "A bowl containing a chopped tomato is on the cutting board." in obs[5].text


def test_tomato_lettuce_action_texts_follow_the_context():
    lettuce = play(TL, [1])[1][0]
    assert lettuce.skills == [
        "pick up the tomato", "pick up the lettuce", "pick up the onion", "take the empty bowl",
        "put the lettuce on the first cutting board", "put the lettuce on the second cutting board",
        "serve the dish", "chop nothing",
    ]
    bowl = play(TL, [3])[1][0]
    assert bowl.skills == [
        "put the tomato in the bowl", "put the lettuce in the bowl", "put the onion in the bowl", "take the empty bowl",
        "put the bowl on the first cutting board", "put the bowl on the second cutting board", "serve the dish", "chop nothing",
    ]
    # a bowl holding chopped tomato put on the second board: "take the bowl"
    env, obs = play(TL, [0, 4, 7, 3, 4, 5, 4])
    assert obs[5].k == 2
    assert "A bowl containing chopped tomato is on the second cutting board." in obs[5].text
    assert obs[5].skills[3] == "take the bowl"
    assert "Currently you are standing in front of the second cutting board without anything in hand." in obs[5].text
    assert obs[6].k == 1 and obs[6].skills[7] == "chop nothing"  # at board 1, nothing on it: a stay
    # standing at board 2 with a lone food: "chop the lettuce"
    env, obs = play(TL, [1, 5])
    assert obs[1].skills[7] == "chop the lettuce"
    assert "An unchopped lettuce is on the second cutting board." in obs[1].text


def test_text_mentions_only_what_the_window_shows():
    env, obs = play(TS, [0, 2, 4, 1])  # at (5,5) with the bowl: the chopped tomato on the board is out of view
    assert obs[3].text == (
        "There is a fixed cutting board in the room. Currently you are carrying a bowl in hand. "
        "To serve the dish of a bowl only containing chopped tomato, you should first"
    )
    assert obs[3].info["vector"] == [0, 0, 0, 5, 5, 0, 0, 0, 0, 5, 5, 1, 0, 0, 0, 0, 0, 0]
