"""VirtualHome bridge in symbolic mode: the package's evolving-graph executor under TWOSOME's tasks."""

from __future__ import annotations

import copy
import json

import pytest
from vh_helpers import (
    ENT_OPTIMAL,
    ENT_RESET_TEXT,
    FOOD_OPTIMAL,
    FOOD_RESET_TEXT,
    run_actions,
    scene_params,
    shared_vh_data,
)

from bridges.registry import env_factory
from bridges.spec import Observation, SkillEnv, SkillError
from bridges.virtualhome.env import make_env
from bridges.virtualhome.executor import GraphExecutor, evolving_graph
from bridges.virtualhome.scene import load_scene
from skills import virtualhome as sk


# --------------------------------------------------------------------------- whole episodes

@pytest.mark.parametrize("vh_data", scene_params())
def test_food_preparation_optimal_sequence(vh_data):
    env = make_env("food-preparation", vh_data=vh_data)
    assert isinstance(env, SkillEnv)
    obs = env.reset()
    assert obs.text == FOOD_RESET_TEXT
    assert obs.info["vector"] == [1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0]
    for a in FOOD_OPTIMAL[:-1]:
        obs = run_actions(env, [a])
        assert obs.reward == 0.0 and not obs.done and not obs.truncated and obs.k == 1
    obs = run_actions(env, FOOD_OPTIMAL[-1:])
    assert obs.reward == 1.0 and obs.done and not obs.truncated
    assert obs.info["success"] is True
    assert obs.info["episode"] == {"r": pytest.approx(0.95 ** 5), "l": 6}
    assert obs.info["vector"][4] == 0  # the pancake is out of sight, in the closed microwave
    assert "The pancake is in the microwave." in obs.text
    with pytest.raises(SkillError, match="ended"):
        env.step(0)
    # reset rebuilds the scene: nothing carries over
    assert env.reset().text == FOOD_RESET_TEXT


@pytest.mark.parametrize("vh_data", scene_params())
def test_entertainment_optimal_sequence(vh_data):
    env = make_env("entertainment", vh_data=vh_data)
    obs = env.reset()
    assert obs.text == ENT_RESET_TEXT
    assert obs.info["vector"] == [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert env.action_ids == [0, 2, 3, 4, 5]
    obs = run_actions(env, ENT_OPTIMAL[:-1])
    assert obs.reward == 0.0 and not obs.done
    obs = run_actions(env, ENT_OPTIMAL[-1:])
    assert obs.reward == 1.0 and obs.done and obs.info["success"] is True
    assert obs.info["episode"] == {"r": pytest.approx(0.95 ** 10), "l": 11}
    f = dict(zip(sk.ENT_FLAGS, obs.info["vector"]))
    assert f["is_sit_sofa"] and f["is_face_tv"] and f["is_tv_on"] and f["chips_on_coffeetable"] and f["hold_milk"]
    assert obs.text.endswith(
        "You are sitting on the sofa. Currently, the TV is turned on, you have the chips on the coffee table "
        "and the milk in your hand. In order to enjoy the chips and the milk while watching TV, your next step is to"
    )


@pytest.mark.parametrize("vh_data", scene_params())
def test_roles_resolve_to_the_spec_ids(vh_data):
    """Class-name resolution (first node of the class; the third sofa) gives the spec's ids."""
    food = make_env("food-preparation", vh_data=vh_data)
    food.reset()
    assert food.ids == {"kitchen": 11, "bathroom": 172, "bedroom": 210, "livingroom": 267,
                        "pancake": 62, "microwave": 109}
    ent = make_env("entertainment", vh_data=vh_data)
    ent.reset()
    assert {k: ent.ids[k] for k in ("chips", "milk", "tv", "sofa", "coffeetable")} == {
        "chips": 61, "milk": 46, "tv": 297, "sofa": 276, "coffeetable": 268}
    assert ent.spec.skills[7].line(ent.ids) == "[WALK] <television> (297)"
    assert ent.spec.skills[11].line(ent.ids) == "[putback] <chips> (61) <coffeetable> (268)"


def test_truncated_at_50_steps():
    env = make_env("food-preparation")
    env.reset()
    obs = None
    for t in range(50):
        obs = run_actions(env, [2 if t % 2 == 0 else 1])  # bathroom, kitchen, ...
        assert obs.truncated == (t == 49)
    assert not obs.done and obs.reward == 0.0
    assert obs.info["success"] is False and obs.info["episode"]["l"] == 50
    with pytest.raises(SkillError):
        env.step(0)


def test_max_steps_option_from_strings():
    env = make_env("food-preparation", max_steps="3", log_gamma="0.9")
    env.reset()
    for _ in range(2):
        assert not env.step(0).truncated
    assert env.step(0).truncated


# --------------------------------------------------------------------------- bad input

def test_invalid_skill_index_rejected_state_unchanged():
    env = make_env("entertainment")
    before = env.reset()
    for bad in (5, -1, 99, True, 1.0, "0", None):
        with pytest.raises(SkillError, match="out of range: 5 skills are valid now"):
            env.step(bad)
    assert env.action_ids == [0, 2, 3, 4, 5]
    after = env.step(3)  # walk to the chips still works, as step 1
    assert after.info["step"] == 1 and before.text != after.text


def test_step_before_reset_is_refused():
    with pytest.raises(SkillError, match="reset"):
        make_env("food-preparation").step(0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"task": "cooking"}, "unknown VirtualHome task 'cooking'"),
        ({"task": "food-preparation", "variant": "sushi"}, "unknown Food Preparation variant 'sushi'"),
        ({"task": "entertainment", "variant": "cheese"}, "no variants"),
        ({"task": "food-preparation-pizza", "variant": "cheese"}, "conflicts"),
        ({"task": "food-preparation", "mode": "vr"}, "unknown VirtualHome mode"),
        ({"task": "food-preparation", "colour": "red"}, "unknown VirtualHome option.*colour"),
        ({"task": "food-preparation", "max_steps": 0}, "max_steps must be >= 1"),
    ],
)
def test_bad_options_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_env(**kwargs)


def test_bad_data_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_env("food-preparation", vh_data=str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="no scenes/"):
        make_env("food-preparation", vh_data=str(tmp_path))
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "a.json").write_text(json.dumps({"nodes": [], "edges": []}))
    (tmp_path / "scenes" / "b.json").write_text("{not json")
    with pytest.raises(ValueError, match="several scenes"):
        make_env("food-preparation", vh_data=str(tmp_path))
    with pytest.raises(ValueError, match="not valid JSON"):
        make_env("food-preparation", vh_data=str(tmp_path), scene="b")
    with pytest.raises(FileNotFoundError, match="no scene 'c'"):
        make_env("food-preparation", vh_data=str(tmp_path), scene="c")
    with pytest.raises(ValueError, match="no node of class 'character'"):
        make_env("food-preparation", vh_data=str(tmp_path), scene="a")
    # a scene without the task's objects: named on reset
    own = load_scene().graph
    slim = {"nodes": [n for n in own["nodes"] if n["class_name"] != "microwave"],
            "edges": [e for e in own["edges"] if 109 not in (e["from_id"], e["to_id"])]}
    (tmp_path / "scenes" / "a.json").write_text(json.dumps(slim))
    env = make_env("food-preparation", vh_data=str(tmp_path), scene="a")
    with pytest.raises(ValueError, match="microwave"):
        env.reset()


def test_registry_builds_the_env():
    env = env_factory("virtualhome")(task="entertainment", seed=3)
    assert env.name == "virtualhome" and env.task == "entertainment"
    assert isinstance(env.reset(seed=3), Observation)


# --------------------------------------------------------------------------- variants

@pytest.mark.parametrize("variant", [v for v in sk.FOOD_VARIANTS if v != "pancake"])
def test_generalisation_variants_load_and_run(variant):
    words = sk.FOOD_VARIANTS[variant]
    env = make_env(f"food-preparation-{variant}")
    obs = env.reset()
    x, y = words.food, words.appliance
    assert obs.text == FOOD_RESET_TEXT.replace("pancake", x).replace("microwave", y)
    assert obs.skills == ["walk to the living room", "walk to the bathroom", "walk to the bedroom",
                          f"walk to the {x}", f"walk to the {y}"]
    assert env.spec.goal == f"heat up the {x} in the {y}"
    obs = run_actions(env, FOOD_OPTIMAL)
    assert obs.done and obs.reward == 1.0
    assert obs.text.endswith(f"In order to heat up the {x} in the {y}, your next step is to")
    assert f"The {x} is in the {y}. " in obs.text
    same = make_env("food-preparation", variant=variant)
    assert same.task == env.task


def test_variant_action_texts():
    texts = [s.text for s in sk.food_skills(sk.FOOD_VARIANTS["laundry"])]
    assert texts[4:] == ["walk to the clothes", "walk to the washing machine", "grab the clothes",
                         "put the clothes in the washing machine", "open the washing machine",
                         "close the washing machine"]


# --------------------------------------------------------------------------- mask rules in states

def test_food_mask_after_each_optimal_step():
    env = make_env("food-preparation")
    env.reset()
    expected = [[0, 2, 3, 5, 6], [0, 2, 3, 4, 5], [0, 2, 3, 4, 7, 8, 9], [0, 2, 3, 4, 7, 8, 9],
                [0, 2, 3, 8, 9], [0, 2, 3]]
    for a, mask in zip(FOOD_OPTIMAL, expected):
        run_actions(env, [a])
        assert env.action_ids == mask


def test_food_other_rooms():
    env = make_env("food-preparation")
    env.reset()
    obs = run_actions(env, [2])
    assert env.action_ids == [0, 1, 3]
    assert obs.text == (
        "There are four rooms: the kitchen, bathroom, bedroom, and living room. You are in the bathroom. "
        "and notice nothing useful. Currently, you are not grabbing anything in hand. In order to heat up "
        "the pancake in the microwave, your next step is to")
    run_actions(env, [1, 4, 6, 0])  # back, fetch the pancake, carry it to the living room
    assert env.action_ids == [1, 2, 3]
    assert "You are in the living room. and notice nothing useful. Currently, you have grabbed the pancake in hand. " \
        in env._observe().text
    run_actions(env, [3])
    assert env.action_ids == [0, 1, 2]


def test_entertainment_mask_after_each_optimal_step():
    env = make_env("entertainment")
    env.reset()
    expected = [[0, 2, 3, 5, 9], [0, 2, 3, 5], [0, 2, 3, 10], [0, 2, 3], [1, 2, 3, 6, 7, 8],
                [1, 2, 3, 7, 8, 11, 12], [1, 2, 3, 7, 8], [1, 2, 3, 6, 8, 13, 14], [1, 2, 3, 6, 8],
                [1, 2, 3, 6, 7, 15, 16], [1, 2, 3]]
    for a, mask in zip(ENT_OPTIMAL, expected):
        run_actions(env, [a])
        assert env.action_ids == mask, (a, env.action_ids)


def test_switch_needs_a_free_hand_and_failure_costs_a_step():
    """Spec §4.4: close to the TV with both hands full, 'turn on the TV' is offered but fails."""
    env = make_env("entertainment")
    env.reset()
    run_actions(env, [4, 9, 5, 10, 0, 7])
    assert env.action_ids == [1, 2, 3, 6, 8, 13, 14]
    before = env.vector
    obs = env.step(env.action_ids.index(13))
    assert not obs.info["executed"] and "free hand" in obs.info["error"]
    assert obs.info["step"] == 7 and env.vector == before and obs.reward == 0.0


def test_sitting_early_gets_stuck_until_the_step_limit():
    env = make_env("entertainment")
    env.reset()
    run_actions(env, [0, 8])
    assert env.action_ids == [1, 2, 3, 6, 7]  # TV off: no sit offered
    run_actions(env, [7, 13, 8, 15])  # TV on, sit without chips and milk
    assert env.action_ids == [1, 2, 3]  # stand up is never offered while sitting
    for t in range(6, 50):
        obs = env.step(0)  # walk to the kitchen: fails while sitting
        assert not obs.info["executed"] and "sitting" in obs.info["error"]
    assert obs.truncated and obs.info["success"] is False


def test_kitchen_offers_walk_to_unseen_milk_as_an_invalid_step():
    """Spec §4.4 'only chips seen' offers 'walk to the milk' though the milk is not visible."""
    env = make_env("entertainment")
    env.reset()
    run_actions(env, [5, 10, 0, 6, 12, 1])  # put the milk on the coffee table, back to the kitchen
    obs = env._observe()
    assert "and only notice chips. The chips are not close to you. In order" in obs.text
    assert env.action_ids == [0, 2, 3, 5]
    obs = env.step(3)
    assert not obs.info["executed"] and "invalid action" in obs.info["error"] and "[46]" in obs.info["error"]


def _clone(env):
    """A copy of a symbolic env in the same state (for exhaustive search)."""
    c = copy.copy(env)
    c.backend = copy.copy(env.backend)
    ex = env.backend._ex
    n = GraphExecutor(ex.graph(), ex._name_equivalence)
    n._executor_data = dict(ex._executor_data)
    n._state.executor_data = n._executor_data
    c.backend._ex = n
    return c


def _reachable_vectors(task: str, vh_data, depth: int) -> set[tuple[int, ...]]:
    env = make_env(task, vh_data=vh_data)
    env.reset()
    seen_graphs, vectors, frontier = set(), {tuple(env.vector)}, [env]
    for _ in range(depth):
        nxt = []
        for e in frontier:
            for i in range(len(e.action_ids)):
                c = _clone(e)
                c.step(i)
                vectors.add(tuple(c.vector))
                g = c.backend.graph()
                key = (frozenset((d["from_id"], d["relation_type"], d["to_id"]) for d in g["edges"]),
                       frozenset((n["id"], tuple(sorted(n["states"]))) for n in g["nodes"]))
                if key not in seen_graphs and not c._ended:
                    seen_graphs.add(key)
                    nxt.append(c)
        frontier = nxt
    return vectors


def test_reachable_observations_match_the_spec():
    """Spec: 19 distinct vectors reachable under the mask (v1); 100 within 12 steps (v2)."""
    assert len(_reachable_vectors("food-preparation", None, 50)) == 19
    assert len(_reachable_vectors("entertainment", None, 12)) == 100


@pytest.mark.slow
@pytest.mark.skipif(shared_vh_data() is None, reason="shared/data/virtualhome (turn_on_tv.json) not present")
def test_own_scene_reaches_the_same_observations_as_twosomes():
    """The project's small scene and TWOSOME's 358-node scene give the very same observations."""
    shared = str(shared_vh_data())
    own = _reachable_vectors("food-preparation", None, 50)
    assert _reachable_vectors("food-preparation", shared, 50) == own
    assert _reachable_vectors("entertainment", shared, 5) == _reachable_vectors("entertainment", None, 5)


# --------------------------------------------------------------------------- executor + debugging

def test_raw_lines_report_why_they_are_not_executable():
    env = make_env("entertainment")
    env.reset()
    assert env.check_line("[walk] <chips> (61)") == (True, "")
    ok, why = env.check_line("[grab] <chips> (61)")
    assert not ok and "not close to <chips> (61)" in why
    ok, why = env.check_line("[walk] <tv> (297)")
    assert not ok and "not visible" in why
    ok, why = env.check_line("[dance] <chips> (61)")
    assert not ok and 'Unknown action "DANCE"' in why
    ok, why = env.check_line("[walk] <chips> (61) <milk> (46)")
    assert not ok and "Wrong number of parameters" in why
    assert env.vector == [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # checks change nothing
    obs = env.execute_line("[grab] <chips> (61)")
    assert not obs.info["executed"] and "not close" in obs.info["error"] and obs.info["step"] == 1
    obs = env.execute_line("[walk] <chips> (61)")
    assert obs.info["executed"] and "The chips are close to you." in obs.text


def test_executor_applies_twosome_rules_on_the_package_executor():
    ex = GraphExecutor(load_scene().fresh_graph())
    # the sofa carries 4 pillows: upstream's occupancy limit (4) would refuse the sit
    assert sum(1 for e in ex.graph()["edges"] if e["to_id"] == 276 and e["relation_type"] == "ON") == 4
    for line in ("[walk] <sofa> (276)", "[sit] <sofa> (276)"):
        assert ex.execute(line) == (True, "")
    states = {n["id"]: n["states"] for n in ex.graph()["nodes"]}
    assert "SITTING" in states[1]
    ok, why = ex.execute("[walk] <kitchen> (11)")  # the SITTING state is seen by the next check
    assert not ok and "is sitting" in why
    assert ex.execute("[standup]") == (True, "")
    assert ex.execute("[walk] <kitchen> (11)") == (True, "")
    ok, why = ex.execute("[walk] <nothing> (4242)")
    assert not ok and "no object with id 4242" in why
    # the package keeps a timing record per state change forever; the adapter clears it
    assert evolving_graph().common.TimeMeasurement._measurement_time == {}


def test_debug_cli_runs(capsys):
    from bridges.virtualhome.debug import main

    assert main(["--task", "food-preparation", "--line", "[grab] <pancake> (62)",
                 "--actions", ",".join(map(str, FOOD_OPTIMAL))]) == 0
    out = capsys.readouterr().out
    assert "NOT executable" in out and "not close" in out and "reward 1.0, done True" in out


def test_full_action_space_for_the_mlp_baseline():
    """Spec §5: all actions offered; an unmasked or impossible one is a no-op that costs a step."""
    env = make_env("food-preparation", full_actions="true")
    obs = env.reset()
    assert obs.skills == [s.text for s in sk.food_skills()] and obs.info["action_ids"] == [0, 2, 3, 4, 5]
    obs = env.step(6)  # grab the pancake from afar: not executable
    assert not obs.info["executed"] and "not close" in obs.info["error"] and obs.info["step"] == 1
    with pytest.raises(SkillError, match="10 skills are valid"):
        env.step(10)
    for a in FOOD_OPTIMAL:
        obs = env.step(a)
    assert obs.done and obs.reward == 1.0 and obs.info["episode"]["l"] == 7
