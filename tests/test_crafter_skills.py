"""Each Crafter skill's controller achieves its effect from a constructed state; validity rules."""

from __future__ import annotations

import pytest
from crafter import constants
from crafter_helpers import add, arena_env, give, put, run_skill

from skills import crafter as sk

TABLE_WOOD = constants.place["table"]["uses"]["wood"]
FURNACE_STONE = constants.place["furnace"]["uses"]["stone"]


@pytest.fixture
def env():
    e = arena_env()
    yield e
    e.close()


def inv(env):
    return env._game._player.inventory


def ach(env, name):
    return env._game._player.achievements[name]


def count_material(env, name, radius=6):
    world, player = env._game._world, env._game._player
    px, py = (int(v) for v in player.pos)
    return sum(
        world[(x, y)][0] == name for x in range(px - radius, px + radius + 1) for y in range(py - radius, py + radius + 1)
    )


def test_collect_wood_walks_to_the_tree_faces_it_and_chops(env):
    put(env, 2, 0, "tree")
    obs = run_skill(env, "collect wood")
    assert inv(env)["wood"] == 1
    assert obs.info["actions"] == ["move_right", "do"]  # one step east (now facing the tree), then chop
    assert obs.k == 2
    assert obs.reward == pytest.approx(1.0)  # crafter's +1 for unlocking collect_wood
    assert obs.info["unlocked"] == ["collect_wood"]
    assert obs.info["skill_achieved"] is True


def test_collect_wood_turns_to_face_an_adjacent_tree(env):
    put(env, -1, 0, "tree")  # west, while the player faces south
    obs = run_skill(env, "collect wood")
    assert obs.info["actions"] == ["move_left", "do"]  # the move only turns: the tree blocks it
    assert inv(env)["wood"] == 1


def test_path_goes_around_obstacles(env):
    for dy in (-1, 0, 1):
        put(env, 1, dy, "stone")  # a wall east of the player
    put(env, 3, 0, "tree")
    obs = run_skill(env, "collect wood")
    assert inv(env)["wood"] == 1
    assert obs.k >= 6  # around the wall, not through it


def test_path_never_steps_into_lava(env):
    player = env._game._player
    for dy in range(-9, 10):
        put(env, 1, dy, "lava")  # lava wall between the player and the tree
    put(env, 3, 0, "tree")
    obs = env.observe()
    assert "collect wood" not in obs.skills  # unreachable without crossing lava
    assert player.health > 0


def test_place_table_needs_crafters_wood_count(env):
    give(env, wood=TABLE_WOOD - 1)
    assert "place table" not in env.observe().skills
    give(env, wood=TABLE_WOOD)
    obs = run_skill(env, "place table")
    assert ach(env, "place_table") == 1
    assert count_material(env, "table") == 1
    assert inv(env)["wood"] == 0
    assert obs.k == 1  # facing free sand: placed at once


def test_make_wood_pickaxe_walks_to_a_table(env):
    put(env, 4, 2, "table")
    give(env, wood=1)
    obs = run_skill(env, "make wood pickaxe")
    assert inv(env)["wood_pickaxe"] == 1
    assert inv(env)["wood"] == 0
    assert obs.info["actions"][-1] == "make_wood_pickaxe"
    nearby, _ = env._game._world.nearby(env._game._player.pos, 1)
    assert "table" in nearby


def test_make_wood_pickaxe_validity(env):
    give(env, wood=1)
    assert "make wood pickaxe" not in env.observe().skills  # no table in sight
    put(env, 2, 0, "table")
    give(env, wood=0)
    assert "make wood pickaxe" not in env.observe().skills  # no wood
    give(env, wood=1)
    assert "make wood pickaxe" in env.observe().skills
    put(env, 2, 0, "sand")
    put(env, 7, 0, "table")  # out of view (the view is 9 wide: 4 cells each side)
    assert "make wood pickaxe" not in env.observe().skills


def test_make_wood_sword(env):
    put(env, 1, 1, "table")  # diagonal counts: crafter's 'nearby' is the 3x3 square
    give(env, wood=1)
    obs = run_skill(env, "make wood sword")
    assert inv(env)["wood_sword"] == 1 and obs.k == 1


@pytest.mark.parametrize(
    "material, item, tool",
    [("stone", "stone", "wood_pickaxe"), ("coal", "coal", "wood_pickaxe"), ("iron", "iron", "stone_pickaxe"),
     ("diamond", "diamond", "iron_pickaxe")],
)
def test_collect_needs_its_tool(env, material, item, tool):
    put(env, 0, 3, material)
    assert f"collect {item}" not in env.observe().skills
    give(env, **{tool: 1})
    run_skill(env, f"collect {item}")
    assert inv(env)[item] == 1
    assert ach(env, f"collect_{item}") == 1
    assert env._game._world[(int(env._game._player.pos[0]), int(env._game._player.pos[1]) + 1)][0] == "path"


def test_collect_drink(env):
    put(env, -2, -2, "water")
    give(env, drink=4)
    run_skill(env, "collect drink")
    assert inv(env)["drink"] == 5
    assert ach(env, "collect_drink") == 1


def test_place_stone(env):
    assert "place stone" not in env.observe().skills
    give(env, stone=1)
    run_skill(env, "place stone")
    assert ach(env, "place_stone") == 1 and inv(env)["stone"] == 0
    assert count_material(env, "stone") == 1


def test_place_furnace_and_make_stone_and_iron_tools(env):
    put(env, 2, 0, "table")
    give(env, stone=FURNACE_STONE - 1)
    assert "place furnace" not in env.observe().skills
    give(env, stone=FURNACE_STONE + 1, wood=3, coal=2, iron=2)
    run_skill(env, "place furnace")
    assert ach(env, "place_furnace") == 1 and count_material(env, "furnace") == 1
    run_skill(env, "make stone pickaxe")
    assert inv(env)["stone_pickaxe"] == 1
    run_skill(env, "make iron pickaxe")
    assert inv(env)["iron_pickaxe"] == 1
    run_skill(env, "make iron sword")
    assert inv(env)["iron_sword"] == 1


def test_iron_tools_need_a_furnace_too(env):
    put(env, 2, 0, "table")
    give(env, wood=1, coal=1, iron=1)
    assert "make iron pickaxe" not in env.observe().skills
    put(env, 2, 1, "furnace")
    assert "make iron pickaxe" in env.observe().skills


def test_eat_cow_chases_a_moving_cow(env):
    add(env, 3, 0, "cow")
    give(env, food=3)
    obs = run_skill(env, "eat cow")
    assert ach(env, "eat_cow") == 1
    assert inv(env)["food"] > 3
    assert obs.info["actions"].count("do") >= 3  # a cow takes three hits


def test_defeat_zombie(env):
    add(env, 0, 3, "zombie")
    give(env, wood_sword=1)
    run_skill(env, "defeat zombie")
    assert ach(env, "defeat_zombie") == 1


def test_defeat_skeleton(env):
    add(env, 3, 0, "skeleton")
    give(env, stone_sword=1)
    run_skill(env, "defeat skeleton")
    assert ach(env, "defeat_skeleton") == 1


def test_sleep_until_rested(env):
    assert "sleep" not in env.observe().skills  # energy is full
    give(env, energy=6)
    obs = run_skill(env, "sleep")
    assert ach(env, "wake_up") == 1
    assert inv(env)["energy"] == constants.items["energy"]["max"]
    assert obs.info["actions"][0] == "sleep" and obs.k > 20
    assert env._game._player.sleeping is False


def test_while_asleep_only_sleep_is_offered():
    env = arena_env(max_skill_steps=3)
    give(env, energy=2)
    obs = run_skill(env, "sleep")  # capped at 3 primitive steps: still asleep
    assert obs.k == 3 and env._game._player.sleeping
    assert obs.skills == ["sleep"]
    assert "You are sleeping." in obs.text
    env.close()


def test_sapling_plant_and_eat_plant():
    env = arena_env(ground="grass", radius=6)
    obs = run_skill(env, "collect sapling")  # 10% a hit: several hits on grass
    assert inv(env)["sapling"] == 1
    assert obs.info["actions"].count("do") >= 1
    run_skill(env, "place plant")
    assert ach(env, "place_plant") == 1 and inv(env)["sapling"] == 0
    assert "eat plant" not in env.observe().skills  # the new plant is not ripe
    assert "sapling" in env.observe().info["nearby"]
    for obj in env._game._world.objects:
        if type(obj).__name__ == "Plant":
            obj.grown = 1000
    obs = env.observe()
    assert "ripe plant" in obs.info["nearby"]
    give(env, food=2)
    run_skill(env, "eat plant")
    assert ach(env, "eat_plant") == 1 and inv(env)["food"] > 2
    env.close()


def test_explore_uncovers_new_cells():
    env = arena_env(radius=20, explore_steps=6)
    before = int(env._seen.sum())
    obs = run_skill(env, "explore")
    assert obs.k == 6
    assert all(a.startswith("move_") for a in obs.info["actions"])
    assert int(env._seen.sum()) > before
    env.close()


def test_every_achievement_has_a_skill():
    assert {s.achievement for s in sk.SKILLS if s.achievement} == set(constants.achievements)


def test_a_skill_that_cannot_start_still_takes_one_step(env):
    add(env, 3, 0, "cow")
    obs = env.observe()
    i = obs.skills.index("eat cow")
    for obj in list(env._game._world.objects):  # the cow vanishes between the decision and the action
        if type(obj).__name__ == "Cow":
            env._game._world.remove(obj)
    obs = env.step(i)
    assert obs.k == 1 and obs.info["actions"] == ["noop"]


def test_skill_cap_limits_primitive_steps():
    env = arena_env(ground="grass", radius=6, max_skill_steps=2)
    obs = run_skill(env, "collect sapling")
    assert obs.k <= 2
    env.close()
