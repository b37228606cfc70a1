"""Checks that run inside the Unity virtualenv (driven by tests/test_unity_venv.py).

They drive the real ``mlagents_envs.UnityEnvironment`` against ``ToyScene``: in-process
through a Communicator subclass, and over real gRPC with the scene in another process.
Not collected by the main test run (the file name does not start with ``test_``).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from fake_unity import SceneCommunicator, ToyScene  # noqa: E402

from bridges.local import LocalVecEnv  # noqa: E402
from bridges.spec import Observation, SkillError  # noqa: E402
from bridges.unity import env as unity_env  # noqa: E402
from bridges.unity.env import (  # noqa: E402
    UnityBridgeError,
    UnityConnectionError,
    UnityHub,
    UnknownBehaviourError,
    make_env,
)
from bridges.unity.side_channel import CHANNEL_ID  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def hub_on(scene: ToyScene, task: str = "", **kw) -> UnityHub:
    return UnityHub(task, communicator_factory=lambda w, b, t: SceneCommunicator(scene), **kw)


def views(scene: ToyScene, n: int, task: str = "", **kw):
    hub = hub_on(scene, task, **kw)
    return hub, [hub.attach() for _ in range(n)]


def right_skill(obs: Observation) -> int:
    colour = re.search(r"behind the (\w+) door", obs.text).group(1)
    return obs.skills.index(f"open the {colour} door")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_first_reset_gives_slots_the_sorted_keys():
    scene = ToyScene(keys=[7, 3, 5])
    hub, (a, b) = views(scene, 2)
    oa, ob = a.reset(), b.reset()
    assert (oa.info["agent_key"], ob.info["agent_key"]) == (3, 5)
    agent = {x.key: x for x in scene.agents}
    assert oa.text == f"You are in a hall with 3 doors: {', '.join(agent[3].doors)}. " \
                      f"The key is behind the {agent[3].doors[agent[3].target]} door. You should"
    assert oa.skills == [f"open the {c} door" for c in agent[3].doors]
    assert oa.goal == "find the key" and oa.reward == 0.0 and oa.k == 0 and not oa.ended
    assert oa.info["vector"] == [float(agent[3].target), 0.0]  # observation 0 without the key
    assert a.task == "DoorSkills" and a.name == "unity"
    hub.close()


def test_key_comes_from_the_collect_observations_vector():
    scene = ToyScene(keys=[4, 2], ray_sensor=True)
    hub, (a, b) = views(scene, 2)
    assert hub.key_obs == 1  # not the ray sensor that sorts first
    oa = a.reset()
    assert oa.info["agent_key"] == 2 and len(oa.info["vector"]) == 2
    hub.close()
    with pytest.raises(UnityBridgeError, match=r"element 0 of observation 0 must be the agent key.*0.25"):
        hub, (a,) = views(ToyScene(keys=[4], ray_sensor=True), 1, key_observation=0)
        a.reset()
    hub.close()


def test_sequential_steps_hold_the_other_agents():
    scene = ToyScene(keys=[100, 101], decisions_per_episode=50)
    hub, vs = views(scene, 2)
    obs = [v.reset() for v in vs]
    sent = []
    for t in range(6):
        for i, v in enumerate(vs):
            skill = right_skill(obs[i]) if t % 2 == 0 else (right_skill(obs[i]) + 1) % len(obs[i].skills)
            sent.append((obs[i].info["agent_key"], skill))
            o = v.step(skill)
            assert o.reward == (1.0 if t % 2 == 0 else 0.0)
            assert o.k == 1 + (skill + (o.info["agent_key"] - 100)) % 3  # the scene's frames for that skill
            assert not o.ended
            obs[i] = o
    # Unity received exactly the skills the views chose, in order; everything else was HOLD.
    assert [(key, skill) for _, key, skill in scene.skill_log] == sent
    hub.close()


def test_vec_env_runs_episodes_with_auto_reset():
    scene = ToyScene(keys=[100, 101], decisions_per_episode=2)
    hub = hub_on(scene)
    vec = LocalVecEnv([hub.attach, hub.attach])
    obs = vec.reset()
    episodes, rewards = 0, 0.0
    for _ in range(8):
        acts = [right_skill(o) for o in obs]
        out = vec.step(acts)
        for o in out:
            rewards += o.reward
            if o.ended:
                assert o.done and not o.truncated and o.info["success"] is True
                assert o.reset_obs is not None and o.reset_obs.k == 0 and not o.reset_obs.ended
                episodes += 1
        obs = [o.reset_obs if o.ended else o for o in out]
    assert episodes == 8 and rewards == 16.0
    assert scene.resets == 1  # episodes restart inside Unity; no scene reset after the first
    vec.close()
    assert hub.closed


def test_new_episode_decision_one_step_after_the_terminal():
    scene = ToyScene(keys=[100], decisions_per_episode=1, restart_delay=2)
    hub, (v,) = views(scene, 1)
    o = v.reset()
    end = v.step(right_skill(o))
    assert end.done and end.info["success"] is True and end.reward == 1.0
    o2 = v.reset()
    assert not o2.ended and o2.text.startswith("You are in a hall")
    hub.close()


def test_threaded_steps_all_execute():
    scene = ToyScene(keys=[100, 101, 102], decisions_per_episode=100)
    hub, vs = views(scene, 3)
    obs = [v.reset() for v in vs]
    errors = []

    def run(i):
        try:
            for _ in range(10):
                o = vs[i].step(right_skill(obs[i]))
                assert o.reward == 1.0, o
                obs[i] = o
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(scene.skill_log) == 30
    # Whether pending actions of different threads share an Academy step depends on thread timing
    # (on a loaded machine they may not overlap at all), so only correctness is asserted here.
    hub.close()


def test_time_scale_env_params_and_seed_reach_unity():
    scene = ToyScene(keys=[1])
    hub, (v,) = views(scene, 1, time_scale=7.5, env_params={"num_doors": 5}, seed=42)
    # Unity applies side-channel data before the reset command (as C# does): the very first
    # episode already has the parameter.
    o = v.reset()
    assert scene.time_scale == 7.5 and scene.params == {"num_doors": 5.0} and scene.seed == 42
    assert len(o.skills) == 5 and "5 doors" in o.text
    hub.close()


def test_unknown_behaviour_is_named():
    scene = ToyScene(extra_behaviours=("Other?team=0",))
    with pytest.raises(UnknownBehaviourError, match=r"unknown behaviour 'Nope'.*DoorSkills\?team=0, Other\?team=0"):
        hub_on(scene, "Nope")
    with pytest.raises(UnknownBehaviourError, match="2 behaviours"):
        hub_on(ToyScene(extra_behaviours=("Other?team=0",)), "")
    hub = hub_on(ToyScene(extra_behaviours=("Other?team=0",)), "DoorSkills")
    assert hub.behaviour == "DoorSkills?team=0"
    hub.close()


@pytest.mark.parametrize(
    "fault,pattern",
    [
        ("truncate", rf"malformed message on side channel {CHANNEL_ID}: truncated"),
        ("version", r"format version 99 from Unity, this bridge speaks version 1"),
        ("missing", rf"agent key 100: began an episode but sent no message on side channel {CHANNEL_ID}"),
        ("too_many_skills", r"9 skills, but the discrete action branch \(size 9\) allows at most 8"),
        ("bad_key", r"element 0 of observation 0 must be the agent key, an integer in \[0, 16777216\); got 0.5"),
    ],
)
def test_contract_breaches_are_clear_errors(fault, pattern):
    scene = ToyScene(keys=[100], fault=fault, fault_at=1)
    hub, (v,) = views(scene, 1)
    with pytest.raises(UnityBridgeError, match=pattern):
        v.reset()
    hub.close()


def test_missing_message_after_a_skill():
    scene = ToyScene(keys=[100], fault="missing", fault_at=2, decisions_per_episode=10)
    hub, (v,) = views(scene, 1)
    o = v.reset()
    with pytest.raises(UnityBridgeError, match="requested a decision after a skill but sent no message"):
        v.step(right_skill(o))
    hub.close()


def test_bad_skill_index_leaves_the_episode_alone():
    scene = ToyScene(keys=[100], decisions_per_episode=10)
    hub, (v,) = views(scene, 1)
    o = v.reset()
    for bad in (-1, len(o.skills), 99, "1", True):
        with pytest.raises(SkillError, match="out of range"):
            v.step(bad)
    assert scene.skill_log == []
    o2 = v.step(right_skill(o))
    assert o2.reward == 1.0
    hub.close()


def test_step_limit_while_holding_is_truncation():
    # Agent 101 is held while 100's skill runs; the scene's frame limit cuts 101's episode.
    scene = ToyScene(keys=[100, 101], decisions_per_episode=100, max_frames=3)
    hub, (a, b) = views(scene, 2)
    oa, ob = a.reset(), b.reset()
    r = a.step(right_skill(oa))
    while not r.ended:
        r = a.step(right_skill(r))
    assert r.truncated and not r.done and r.info["success"] is False
    a.reset()
    a.reset()  # mid-episode for a: the whole scene resets, while b still owes its view the ended episode
    assert scene.resets == 2
    ended_b = b.step(0)  # b's episode ended while b held its observation: no skill is run
    assert ended_b.truncated and "interrupted" not in ended_b.info
    assert all(key != 101 for _, key, _ in scene.skill_log)
    ob = b.reset()
    assert not ob.ended and scene.resets == 2
    assert b.step(right_skill(ob)).reward == 1.0
    hub.close()


def test_mid_episode_reset_interrupts_the_other_slots():
    scene = ToyScene(keys=[100, 101], decisions_per_episode=100)
    hub, (a, b) = views(scene, 2)
    a.reset(), b.reset()
    oa = a.reset()  # mid-episode: the whole scene resets
    assert scene.resets == 2 and not oa.ended
    cut = b.step(0)
    assert cut.truncated and "reset for env slot 0" in cut.info["interrupted"]
    ob = b.reset()
    assert scene.resets == 2 and not ob.ended
    assert b.step(right_skill(ob)).reward == 1.0
    hub.close()


def test_too_few_agents_for_the_slots():
    scene = ToyScene(keys=[100])
    hub, vs = views(scene, 2, max_substeps=5)
    with pytest.raises(UnityBridgeError, match="1 agents requesting decisions after 5 Unity steps, but 2 env slots"):
        vs[0].reset()
    hub.close()


def test_make_env_shares_one_unity_and_parses_string_options(monkeypatch):
    scene = ToyScene(keys=[10, 20])
    made = []

    def factory(w, b, t):
        made.append((w, b, t))
        return SceneCommunicator(scene)

    port = free_port()
    a = make_env("DoorSkills", seed="3", base_port=str(port), time_scale="2.5", env_params="num_doors=4",
                 timeout_wait="5", no_graphics="false", communicator_factory=factory)
    b = make_env("DoorSkills", base_port=port, communicator_factory=factory)
    assert a.hub is b.hub and (a.slot, b.slot) == (0, 1) and made == [(0, port, 5.0)]
    with pytest.raises(UnityBridgeError, match="already serves behaviour"):
        make_env("Other", base_port=port, communicator_factory=factory)
    a.reset(), b.reset()
    assert scene.time_scale == 2.5 and scene.params == {"num_doors": 4.0} and scene.seed == 3
    a.close()
    assert not a.hub.closed
    b.close()
    assert a.hub.closed and not unity_env._HUBS
    with pytest.raises(ValueError, match="option time_scale='fast'"):
        make_env(base_port=port, time_scale="fast", communicator_factory=factory)


def test_no_unity_listening_is_a_clean_timeout():
    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(UnityConnectionError) as e:
        make_env(base_port=port, timeout_wait=1)
    took = time.monotonic() - t0
    assert f"port {port}" in str(e.value) and "timeout_wait=1.0 s" in str(e.value)
    assert "Unity Editor" in str(e.value)
    assert 0.9 < took < 10
    # The port is free again for a retry (the gRPC server may take a moment to let go under load).
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_port_in_use_is_named():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(UnityConnectionError, match=f"port {port} .*already in use"):
            make_env(base_port=port, timeout_wait=1)


def test_real_grpc_with_the_scene_in_another_process():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "fake_unity.py"), "--port", str(port), "--keys", "5,9",
         "--connect-timeout", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        a = make_env("DoorSkills", base_port=port, timeout_wait=30, time_scale=4, env_params={"num_doors": 4})
        b = make_env("DoorSkills", base_port=port)
        vec = LocalVecEnv([lambda: a, lambda: b])
        obs = vec.reset()
        assert [o.info["agent_key"] for o in obs] == [5, 9]
        assert all(len(o.skills) == 4 for o in obs)  # the env parameter crossed the wire
        done = 0
        for _ in range(6):
            out = vec.step([right_skill(o) for o in obs])
            done += sum(o.done for o in out)
            assert all(o.reward == 1.0 for o in out)
            obs = [o.reset_obs if o.ended else o for o in out]
        assert done == 6
        vec.close()
        text, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, text
    assert "12 skills" in text and "time_scale=4.0" in text, text


def _scene_process(port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, os.path.join(HERE, "fake_unity.py"), "--port", str(port), "--keys", "1",
         "--decisions", "100", "--connect-timeout", "30", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_unity_leaving_midway_is_named():
    port = free_port()
    proc = _scene_process(port, "--quit-after", "3")
    try:
        v = make_env(base_port=port, timeout_wait=30)
        o = v.reset()
        with pytest.raises(UnityConnectionError, match=f"Unity on port {port} closed the connection during a step"):
            for _ in range(10):
                o = v.step(right_skill(o))
        v.close()
    finally:
        proc.kill()
        proc.communicate()


def test_unity_dying_midway_is_a_timeout():
    port = free_port()
    proc = _scene_process(port)
    try:
        v = make_env(base_port=port, timeout_wait=2)
        o = v.reset()
        proc.kill()
        proc.communicate()
        t0 = time.monotonic()
        expected = f"Unity on port {port} did not answer within timeout_wait=2.0 s"
        with pytest.raises(UnityConnectionError, match=expected):
            v.step(right_skill(o))
        assert time.monotonic() - t0 < 10
        v.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
