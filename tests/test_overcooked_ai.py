"""The real overcooked-ai simulator, in its own virtualenv, in-process there and through the bridge.

The venv (.venv-overcooked_ai/, numpy<2) is made by bridges/overcooked_ai/setup_venv.sh when it is
missing (~15 s with PyPI reachable); these tests skip only when that fails for want of PyPI.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv-overcooked_ai" / "bin" / "python"
SETUP = REPO / "bridges" / "overcooked_ai" / "setup_venv.sh"
SIM_CHECKS = Path(__file__).resolve().parent / "test_overcooked_ai_sim.py"

_spec = importlib.util.spec_from_file_location("overcooked_ai_sim_checks", SIM_CHECKS)
sim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sim)  # defines the checks; imports no simulator

NETWORK_ERRORS = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
                  "No matching distribution found", "Could not find a version", "ConnectionError", "timed out")


@pytest.fixture(scope="module")
def venv_python() -> str:
    proc = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        output = proc.stdout + proc.stderr
        if any(word in output for word in NETWORK_ERRORS):
            pytest.skip(f"PyPI unreachable, cannot make .venv-overcooked_ai: {output.strip().splitlines()[-1]}")
        pytest.fail(f"setup_venv.sh failed ({proc.returncode}):\n{output}")
    return str(VENV_PYTHON)


@pytest.fixture(scope="module")
def sim_results(venv_python: str) -> dict:
    proc = subprocess.run([venv_python, str(SIM_CHECKS)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_simulator_runs_in_its_own_numpy1_venv(venv_python):
    out = subprocess.run([venv_python, "-c", "import numpy, overcooked_ai_py; print(numpy.__version__)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("1."), out
    # ... and the runtime's interpreter does not need it (nothing here imports the simulator).
    assert "overcooked_ai_py" not in sys.modules


@pytest.mark.parametrize("check", sorted(sim.CHECKS))
def test_in_venv(sim_results, check):
    result = sim_results["checks"][check]
    assert result == "ok", result


def test_skill_catalogue_is_consistent():
    from skills import overcooked_ai as S

    assert S.NUM_SKILLS == len(S.SKILL_TEXTS) == 11
    assert S.SKILL_TEXTS[S.WAIT] == "wait"
    assert S.SKILL_TEXTS[S.PUT_DOWN].format(held="dish") == "put the dish on the counter"
    assert len(set(S.SKILL_TEXTS)) == S.NUM_SKILLS
    with pytest.raises(ValueError, match="catalogue"):
        S.SkillRunner(kitchen=None, chef=0, skill=S.NUM_SKILLS, rng=None)


def _bridge(venv_python: str, num_envs: int, options: dict, seed: int, task: str = "cramped_room"):
    from bridges.launch import make_vec_env

    return make_vec_env(bridge="overcooked_ai", task=task, options=options, num_envs=num_envs, seed=seed,
                        python=venv_python)


def test_whole_episodes_through_the_bridge_match_in_process(venv_python, sim_results):
    case = sim.BRIDGE_CASE
    expected = sim_results["trajectories"]
    venv = _bridge(venv_python, case["num_envs"], case["options"], case["seed"], case["task"])
    try:
        obs = venv.reset()
        got = [[[o.text, o.reward, o.k]] for o in obs]
        finished = [False] * venv.num_envs
        episodes = [0] * venv.num_envs
        step = 0
        while not all(episodes[i] >= 2 for i in range(venv.num_envs)):
            obs_next = venv.step([sim.action_rule(step, i, len(o.skills)) for i, o in enumerate(obs)])
            for i, o in enumerate(obs_next):
                if not finished[i]:
                    got[i].append([o.text, o.reward, o.k])
                if o.done:
                    assert o.reset_obs is not None and o.reset_obs.k == 0
                    assert isinstance(o.info["success"], bool) and o.info["timestep"] == 60
                    finished[i] = True
                    episodes[i] += 1
                    obs_next[i] = o.reset_obs
            obs = obs_next
            step += 1
            assert step < 500, "episodes never ended"
    finally:
        venv.close()
    for i in range(len(expected)):
        # The bridge's env i is built and reset with seed + i; the policy for env i sees the same
        # observations, so the first episode must match the in-process run step for step.
        assert len(got[i]) >= len(expected[i])
        for j, (g, e) in enumerate(zip(got[i], expected[i])):
            assert g[0] == e[0] and g[2] == e[2] and g[1] == pytest.approx(e[1]), (i, j)


def test_baselines_run_over_the_bridge(venv_python):
    from agent_runtime.baselines import run_random, train_ppo_mlp

    venv = _bridge(venv_python, 2, {"horizon": 40, "reward_scale": 0.05}, seed=0)
    try:
        logs = run_random(venv, total_decisions=60, seed=0)
        assert logs and all(log["primitive_steps"] == 40 for log in logs)
        out: dict = {}
        logs = train_ppo_mlp(venv, total_decisions=64, seed=0, num_steps=32, num_minibatches=2, agent_out=out)
        assert logs and all(log["primitive_steps"] == 40 for log in logs)
        # One output per catalogue skill, masked to the valid ones.
        assert out["agent"].actor[-1].out_features == 11
    finally:
        venv.close()


@pytest.mark.parametrize("config", sorted(p.name for p in (REPO / "configs").glob("overcooked_ai-*.yaml")))
def test_configs_serve_an_episode(venv_python, config):
    import yaml

    env = yaml.safe_load((REPO / "configs" / config).read_text())["env"]
    assert env["bridge"] == "overcooked_ai" and env["python"] == ".venv-overcooked_ai/bin/python"
    options = {**env["options"], "horizon": 30}
    venv = _bridge(venv_python, 1, options, seed=env["seed"], task=env["task"])
    try:
        obs = venv.reset()
        steps = 0
        while not obs[0].done:
            obs = venv.step([len(obs[0].skills) - 1])  # wait
            steps += obs[0].k
        assert steps == 30 and obs[0].text.startswith("You are one of two chefs")
    finally:
        venv.close()
