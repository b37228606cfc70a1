"""The salad kitchen as a bridge: registry, task configs, a real server process, rendering,
and the randomised-placement variant."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from _procs import stop_process

from bridges.launch import make_vec_env
from bridges.overcooked import SaladEnv, make_env
from bridges.overcooked.kitchen import TASKS
from bridges.registry import env_factory
from bridges.spec import SkillEnv, SkillError

ROOT = Path(__file__).resolve().parent.parent
TS, TL = "tomato-salad", "tomato-lettuce-salad"
OPTIMAL = {TS: [0, 2, 4, 1, 2, 3], TL: [0, 4, 7, 1, 5, 7, 3, 4, 5, 6]}


def test_registry_builds_the_env():
    env = env_factory("overcooked")(task=TL, seed=3)
    assert isinstance(env, SaladEnv) and isinstance(env, SkillEnv)
    assert (env.name, env.task) == ("overcooked", TL)


@pytest.mark.parametrize("task", [TS, TL])
def test_task_configs(task):
    path = ROOT / "configs" / f"overcooked-{task}.yaml"
    cfg = yaml.safe_load(path.read_text())
    allowed = {"run", "model", "lora", "critic", "scoring", "ppo", "env", "prompt", "telemetry", "guidance", "checkpoint", "log"}
    assert set(cfg) <= allowed
    assert cfg["env"]["bridge"] == "overcooked" and cfg["env"]["task"] == task
    assert cfg["ppo"]["gamma"] == 0.99 and cfg["ppo"]["gae_lambda"] == 0.95
    assert cfg["scoring"]["normalization"] == "word"  # TWOSOME's scripts: --normalization-mode word
    env = make_env(task, seed=cfg["env"]["seed"], **cfg["env"]["options"])
    assert env.reset().text.endswith("you should first")


def test_through_a_real_server_process():
    venv = make_vec_env(bridge="overcooked", task=TS, options={}, num_envs=2, seed=0)
    try:
        first = venv.reset()
        assert first[0].text == make_env(TS).reset().text == first[1].text
        with pytest.raises(SkillError, match="out of range"):
            venv.step([0, 7])
        obs = None
        for m in OPTIMAL[TS]:
            obs = venv.step([m, 4])
        assert [round(o.reward, 5) for o in obs] == [0.97713, round(0.99**0 * -0.001, 5)]
        assert obs[0].done and obs[0].info["success"] is True and obs[0].info["episode"]["l"] == 31
        assert obs[0].reset_obs is not None and obs[0].reset_obs.text == first[0].text
        assert obs[1].k == 1 and not obs[1].ended
    finally:
        venv.close()


def test_python_dash_m_bridges_overcooked_serves(tmp_path):
    addr = f"ipc://{tmp_path}/salad.sock"
    cmd = [sys.executable, "-m", "bridges.overcooked", "--bind", addr, "--num-envs", "1", "--task", TL,
           "--option", "max_steps=50"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().startswith("BRIDGE-READY ")
        venv = make_vec_env(bridge="overcooked", task=TL, connect=[addr], num_envs=1, seed=0)
        try:
            assert venv.reset()[0].skills[3] == "take the empty bowl"
            total = 0
            while True:
                o = venv.step([7])[0]  # "chop nothing": one stay each
                total += o.k
                if o.ended:
                    break
            assert total == 50 and o.truncated and o.info["episode"]["l"] == 50  # the option reached the server
        finally:
            venv.close()
    finally:
        stop_process(proc)


# ---- rendering --------------------------------------------------------------------------------


def test_render_text_at_reset_and_after_a_chop():
    env = make_env(TL)
    env.reset()
    assert env.render_text().splitlines()[:7] == [
        "# # # # # T #",
        "K . . . A . L",
        "K . . . . . O",
        "D . . . . . #",
        "# . . . . . #",
        "# . . . . . #",
        "# # # # # B #",
    ]
    for m in [0, 4, 7]:
        env.step(m)
    text = env.render_text()
    assert text.splitlines()[1] == "t A . . . . L"  # the chopped tomato on board 1
    assert "board 1 (1, 0): chopped tomato" in text and "holding nothing" in text


def test_render_rgb():
    env = make_env(TS)
    env.reset()
    img = env.render_rgb(cell=10)
    assert isinstance(img, np.ndarray) and img.shape == (70, 70, 3) and img.dtype == np.uint8
    assert tuple(img[15, 45]) == (40, 90, 200)  # the agent at (1,4)
    assert tuple(img[5, 55]) == (220, 40, 40)  # the tomato at (0,5), in view
    inside, outside = img[35, 35].astype(int), img[35, 5].astype(int)  # floor (3,3); delivery (3,0) out of view
    assert inside.sum() > 3 * 200 and outside.sum() < 3 * 60
    plain = env.render_rgb(cell=10, show_window=False)
    assert plain[35, 5].sum() > img[35, 5].sum()
    with pytest.raises(RuntimeError, match="reset"):
        make_env(TS).render_rgb()


# ---- randomised placement ---------------------------------------------------------------------


@pytest.mark.parametrize("task", [TS, TL])
def test_randomized_layouts_are_seeded_and_solvable(task):
    env = make_env(task, randomize=True)
    layouts = set()
    for seed in range(40):
        a = env.reset(seed=seed)
        lay = env.kitchen.layout
        cells = [*lay.foods.values(), lay.bowl, *lay.boards, lay.delivery]
        assert len(set(cells)) == len(cells) and all(not env.kitchen.is_floor(c) for c in cells)
        assert env.kitchen.is_floor(lay.agent)
        layouts.add((lay.agent, tuple(cells)))
        b = make_env(task, randomize=True).reset(seed=seed)
        assert (a.text, a.info["vector"]) == (b.text, b.info["vector"])
        for m in OPTIMAL[task]:  # the same plan cooks the salad wherever things are
            obs = env.step(m)
        assert obs.done and obs.info["success"], (seed, lay)
    assert len(layouts) > 30


def test_tasks_are_the_two_twosome_kitchens():
    assert set(TASKS) == {TS, TL}
    assert TASKS[TS].recipe == "tomato salad" and TASKS[TL].recipe == "lettuce-tomato salad"
