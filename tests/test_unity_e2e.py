"""End to end: a Unity-side peer speaking real ML-Agents gRPC, the unity bridge server
spawned with the venv's python, and the runtime's VecEnv over the ZeroMQ bridge."""

from __future__ import annotations

import re
import socket
import subprocess
import time

import pytest

from bridges.client import BridgeError
from bridges.launch import make_vec_env
from bridges.spec import SkillError
from unity_support.venv import REPO, ensure_unity_venv

FAKE_UNITY = REPO / "tests" / "unity_support" / "fake_unity.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _right_skill(text: str, skills: list[str]) -> int:
    colour = re.search(r"behind the (\w+) door", text).group(1)
    return skills.index(f"open the {colour} door")


@pytest.fixture
def unity_scene():
    """The toy scene as its own process, waiting (like the Editor on Play) for the Python side's port."""
    python = ensure_unity_venv()
    port = _free_port()
    proc = subprocess.Popen([str(python), str(FAKE_UNITY), "--port", str(port), "--keys", "11,12,13",
                             "--decisions", "2", "--connect-timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield python, port, proc
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def test_episodes_through_the_bridge_server(unity_scene):
    python, port, proc = unity_scene
    venv = make_vec_env(
        "unity", task="DoorSkills", num_envs=3, envs_per_server=3, seed=5, python=str(python),
        options={"base_port": port, "timeout_wait": 30, "time_scale": 10, "env_params": {"num_doors": 4}},
        startup_timeout=60, timeout=30,
    )
    try:
        assert venv.num_envs == 3
        obs = venv.reset()
        assert all(len(o.skills) == 4 and o.text.startswith("You are in a hall with 4 doors") for o in obs)
        assert sorted(o.info["agent_key"] for o in obs) == [11, 12, 13]
        ended, rewards, t0 = 0, 0.0, time.monotonic()
        for _ in range(8):
            out = venv.step([_right_skill(o.text, o.skills) for o in obs])
            for o in out:
                rewards += o.reward
                assert o.k >= 1
                if o.ended:
                    assert o.done and o.info["success"] is True and o.reset_obs is not None
                    ended += 1
            obs = [o.reset_obs if o.ended else o for o in out]
        per_round = (time.monotonic() - t0) / 8
        assert rewards == 24.0 and ended == 12
        # A refused skill index is an error reply; the episode goes on.
        with pytest.raises(SkillError, match="out of range"):
            venv.step([99, 0, 0])
        out = venv.step([_right_skill(o.text, o.skills) for o in obs])
        assert [o.reward for o in out] == [1.0, 1.0, 1.0]
    finally:
        venv.close()
    text, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, text
    assert "time_scale=10.0" in text and "'num_doors': 4.0" in text, text
    print(f"unity bridge e2e: {per_round * 1000:.1f} ms per 3-env round")


def test_no_unity_reports_port_and_timeout(capfd):
    python = ensure_unity_venv()
    port = _free_port()
    with pytest.raises(BridgeError, match="exited with code 2 before it was ready"):
        make_vec_env("unity", num_envs=1, python=str(python), options={"base_port": port, "timeout_wait": 1},
                     startup_timeout=30)
    # The server's reason goes to the inherited stderr.
    err = capfd.readouterr().err
    assert f"UnityConnectionError: no Unity environment connected on port {port} within timeout_wait=1.0 s" in err, err
