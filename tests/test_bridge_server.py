"""Real server processes: bad input on a raw socket, fuzzed frames, whole episodes through the client."""

from __future__ import annotations

import random
import subprocess
import sys
import threading

import msgpack
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridges import protocol as P
from bridges.client import BridgeError, RemoteVecEnv
from bridges.launch import ServerProcess, make_vec_env, split_envs
from bridges.server import BridgeServer, parse_option
from bridges.spec import Observation, SkillError


@pytest.fixture(scope="module")
def server():
    """One toy server process hosting 2 envs (3 rounds an episode)."""
    proc = ServerProcess("toy", num_envs=2, options={"steps": 3})
    proc.start()
    yield proc
    proc.stop()
    assert proc.poll() is not None


@pytest.fixture
def raw(server):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.address)
    yield sock
    sock.close(0)
    ctx.term()


def ask(sock: zmq.Socket, payload: bytes | list[bytes], timeout_ms: int = 3000) -> dict:
    if isinstance(payload, list):
        sock.send_multipart(payload)
    else:
        sock.send(payload)
    assert sock.poll(timeout_ms), "server did not answer"
    return msgpack.unpackb(sock.recv(), raw=False)


def ask_msg(sock: zmq.Socket, **msg) -> dict:
    return ask(sock, P.encode(msg))


def assert_alive(sock: zmq.Socket) -> None:
    reply = ask_msg(sock, type="ping", id=999)
    assert reply["type"] == "pong" and reply["id"] == 999


def test_handshake_tells_envs_and_schema(raw) -> None:
    w = ask_msg(raw, type="hello", id=1)
    assert w["type"] == "welcome" and w["id"] == 1
    assert w["bridge"] == "toy" and w["task"] == "pick-named" and w["num_envs"] == 2
    assert w["version"] == P.PROTOCOL_VERSION
    assert set(w["schema"]["observation"]) >= {"text", "skills", "reward", "done", "k", "info"}


@pytest.mark.parametrize(
    "payload, code, words",
    [
        (b"\x92\x01\x02", P.E_MALFORMED, "map"),  # a msgpack list
        (b"\xc1\xff garbage", P.E_MALFORMED, "msgpack"),
        (b"", P.E_MALFORMED, "msgpack"),
        (P.encode({"type": "fly", "id": 3}), P.E_UNKNOWN_TYPE, "'fly'"),
        (msgpack.packb({"type": "hello", "v": 0, "id": 4}), P.E_VERSION, "peer speaks 0"),
        (P.encode({"type": "step", "id": 5, "env": 0}), P.E_BAD_FIELD, "'action'"),
        (P.encode({"type": "step", "id": 6, "env": 7, "action": 0}), P.E_ENV_INDEX, "hosts 2"),
        (b"\x00" * (P.MAX_FRAME_BYTES + 1), P.E_TOO_LARGE, "over the cap"),
        ([b"one", b"two"], P.E_MALFORMED, "exactly one frame"),
    ],
)
def test_bad_input_gets_an_error_reply_and_connection_survives(raw, payload, code, words) -> None:
    reply = ask(raw, payload)
    assert reply["type"] == "error", reply
    assert reply["code"] == code
    assert words in reply["message"]
    assert_alive(raw)


def test_skill_out_of_range_leaves_the_episode_intact(raw) -> None:
    obs = ask_msg(raw, type="reset", id=10, env=1, seed=3)["obs"]
    reply = ask_msg(raw, type="step", id=11, env=1, action=len(obs["skills"]))
    assert reply["type"] == "error" and reply["code"] == P.E_SKILL and reply["env"] == 1
    assert "out of range" in reply["message"] and reply["id"] == 11
    good = ask_msg(raw, type="step", id=12, env=1, action=0)
    assert good["type"] == "obs" and good["obs"]["k"] == 1


def test_steps_batch_answers_per_env_and_validates(raw) -> None:
    for i in (0, 1):
        ask_msg(raw, type="reset", id=20 + i, env=i, seed=i)
    reply = ask_msg(raw, type="steps", id=22, envs=[1, 0], actions=[0, 99])
    assert reply["type"] == "obs_batch" and reply["id"] == 22
    first, second = reply["results"]
    assert first["env"] == 1 and first["obs"]["k"] == 1
    assert second["env"] == 0 and second["error"]["code"] == P.E_SKILL  # refused alone; env 1 stepped
    for bad, code in (
        ({"envs": [0, 0], "actions": [0, 0]}, P.E_BAD_FIELD),
        ({"envs": [0, 1], "actions": [0]}, P.E_BAD_FIELD),
        ({"envs": [0, "1"], "actions": [0, 0]}, P.E_BAD_FIELD),
        ({"envs": [], "actions": []}, P.E_BAD_FIELD),
        ({"envs": [0, 5], "actions": [0, 0]}, P.E_ENV_INDEX),
    ):
        reply = ask_msg(raw, type="steps", id=23, **bad)
        assert reply["type"] == "error" and reply["code"] == code, (bad, reply)
    assert_alive(raw)


def test_step_before_reset_is_refused() -> None:
    proc = ServerProcess("toy", num_envs=1)
    proc.start()
    try:
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.connect(proc.address)
        reply = ask_msg(s, type="step", id=1, env=0, action=0)
        assert reply["code"] == P.E_NOT_READY
        s.close(0)
        ctx.term()
    finally:
        proc.stop()


def test_a_req_socket_client_works_too(server) -> None:
    ctx = zmq.Context()
    s = ctx.socket(zmq.REQ)
    s.connect(server.address)
    s.send(P.encode({"type": "ping", "id": 5}))
    assert s.poll(3000)
    assert P.decode_reply(s.recv())["type"] == "pong"
    s.close(0)
    ctx.term()


frames = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([P.encode({"type": "step", "id": 1, "env": 0, "action": 1}),
                     P.encode({"type": "steps", "id": 3, "envs": [0, 1], "actions": [1, 0]}),
                     P.encode({"type": "reset", "id": 2, "env": 1, "seed": 4})]).flatmap(
        lambda f: st.lists(st.tuples(st.integers(0, len(f) - 1), st.integers(0, 255)), max_size=4).map(
            lambda flips: bytes(b if i not in dict(flips) else dict(flips)[i] for i, b in enumerate(f)))),
    st.dictionaries(st.sampled_from(["type", "v", "id", "env", "action", "seed", "episode", "autoreset", "envs",
                                     "actions"]),
                    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=6),
                              st.lists(st.integers(-3, 3), max_size=3),
                              st.sampled_from(list(P.REQUESTS)), st.just(P.PROTOCOL_VERSION)),
                    max_size=6).map(lambda m: msgpack.packb(m)),
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames)
def test_fuzzed_frames_never_kill_the_server(raw, frame: bytes) -> None:
    reply = ask(raw, frame)
    assert reply["type"] in P.REPLIES


def test_server_still_answers_after_fuzzing(server, raw) -> None:
    assert server.poll() is None
    ask_msg(raw, type="reset", id=1, env=0, seed=1)
    assert ask_msg(raw, type="step", id=2, env=0, action=0)["type"] == "obs"


def test_whole_episodes_match_in_process_run() -> None:
    """Same seeds, same actions: the bridge gives exactly what LocalVecEnv gives."""
    remote = make_vec_env("toy", options={"steps": 3}, num_envs=3, seed=11, envs_per_server=2)
    local = make_vec_env("toy", options={"steps": 3}, num_envs=3, seed=11, in_process=True)
    try:
        assert [p.poll() for p in remote.processes] == [None, None] and remote.num_envs == 3
        a, b = remote.reset(), local.reset()
        assert [o.to_wire() for o in a] == [o.to_wire() for o in b]
        rng = random.Random(0)
        episodes = 0
        for _ in range(30):
            acts = [rng.randrange(len(o.skills)) for o in a]
            a, b = remote.step(acts), local.step(acts)
            assert [o.to_wire() for o in a] == [o.to_wire() for o in b]
            for o in a:
                if o.ended:
                    episodes += 1
                    assert o.reset_obs is not None and "success" in o.info
            a = [o.reset_obs if o.ended else o for o in a]
        assert episodes == 30  # 3 envs x 30 steps / 3 rounds an episode
    finally:
        remote.close()
        local.close()
    assert all(p.poll() is not None for p in remote.processes)


def test_step_async_and_bad_actions() -> None:
    venv = make_vec_env("toy", num_envs=2, seed=0)
    try:
        with pytest.raises(RuntimeError, match="reset"):
            venv.step([0, 0])
        obs = venv.reset()
        with pytest.raises(ValueError, match="expected 2 actions"):
            venv.step([0])
        with pytest.raises(SkillError, match="environment 1: skill index 9 out of range"):
            venv.step([0, 9])
        with pytest.raises(SkillError, match="must be an int"):
            venv.step([0, 1.5])
        venv.step_async([obs[0].info.get("target", 0), 1])
        out = venv.step_wait()
        assert len(out) == 2 and all(o.ended and o.reset_obs for o in out)
    finally:
        venv.close()


def test_attach_to_running_servers_by_address() -> None:
    procs = [ServerProcess("toy", num_envs=n, transport="tcp") for n in (1, 2)]
    for p in procs:
        p.start()
    try:
        assert all(p.address.startswith("tcp://127.0.0.1:") for p in procs)
        with pytest.raises(ValueError, match="host 3 environments"):
            make_vec_env("toy", num_envs=4, connect=[p.address for p in procs])
        venv = make_vec_env("toy", num_envs=3, seed=1, connect=[p.address for p in procs])
        assert venv.num_envs == 3 and venv.bridge == "toy"
        obs = venv.reset()
        out = venv.step([0, 0, 0])
        assert all(isinstance(o, Observation) and o.k == 1 for o in out) and len(obs) == 3
        assert all(rtt < 2.0 for rtt in venv.ping())
        venv.close()
        assert all(p.poll() is None for p in procs)  # attached servers keep running
    finally:
        for p in procs:
            p.stop()


def test_attach_to_nothing_fails_clearly() -> None:
    with pytest.raises(BridgeError, match="no handshake from bridge server tcp://127.0.0.1:1"):
        RemoteVecEnv(["tcp://127.0.0.1:1"], handshake_timeout=0.5)


class _Exploding:
    name, task = "boom", "explode"

    def __init__(self) -> None:
        self.t = 0

    def reset(self, seed=None) -> Observation:
        self.t = 0
        return Observation(f"start {seed}", ["wait", "explode"])

    def step(self, skill: int) -> Observation:
        if skill == 1:
            raise RuntimeError("simulator blew up")
        self.t += 1
        return Observation(f"t={self.t}", ["wait", "explode"], k=1)

    def close(self) -> None:
        pass


def test_a_simulator_exception_drops_only_that_episode(caplog) -> None:
    srv = BridgeServer("boom", "tcp://127.0.0.1:*", envs=[_Exploding(), _Exploding()])
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_ms": 50}, daemon=True)
    t.start()
    venv = RemoteVecEnv([srv.endpoint], seeds=[0, 1])
    try:
        venv.reset()
        venv.step([0, 0])
        with caplog.at_level("WARNING", logger="bridges"):
            out = venv.step([1, 0])
        assert out[0].dropped and out[0].ended and out[0].reset_obs.text == f"start {P.EPISODE_STRIDE}"
        assert not out[1].dropped and out[1].text == "t=2"
        assert "dropped" in caplog.text
        assert venv.step([0, 0])[0].text == "t=1"
    finally:
        venv.links[0].sock.send(P.encode({"type": "close", "id": 1, "shutdown": True}))
        t.join(5)
        venv.close()
        srv.close()
    assert not t.is_alive()


def test_server_refuses_public_bind_without_curve() -> None:
    with pytest.raises(ValueError, match="without CURVE"):
        BridgeServer("toy", "tcp://0.0.0.0:0")
    r = subprocess.run([sys.executable, "-m", "bridges.server", "--bridge", "toy", "--bind", "tcp://*:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--curve-dir" in r.stderr


def test_server_cli_errors_are_clear() -> None:
    r = subprocess.run([sys.executable, "-m", "bridges.server", "--bridge", "nosuch", "--bind", "tcp://127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "unknown bridge 'nosuch'" in r.stderr


def test_helpers() -> None:
    assert parse_option("steps=3") == ("steps", 3)
    assert parse_option("name=red door") == ("name", "red door")
    assert parse_option('x={"a": [1]}') == ("x", {"a": [1]})
    assert split_envs(8, None) == [4, 4] or split_envs(8, None) == [1] * 8 or len(split_envs(8, None)) >= 1
    assert split_envs(8, 3) == [3, 3, 2]
    assert split_envs(5, 1) == [1] * 5
    with pytest.raises(ValueError):
        split_envs(0, None)


def test_ready_line_comes_first_even_when_the_simulator_prints(tmp_path) -> None:
    (tmp_path / "noisy_sim.py").write_text(
        "from bridges.toy import make_env as _toy\n"
        "def make_env(**kw):\n"
        "    print('hello from the simulator')\n"
        "    return _toy(**kw)\n"
    )
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); from bridges import registry; "
        "registry.BRIDGES['noisy'] = 'noisy_sim:make_env'; from bridges.server import main; "
        "main(['--bridge', 'noisy', '--bind', 'tcp://127.0.0.1:*', '--num-envs', '2'])"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().startswith("BRIDGE-READY tcp://127.0.0.1:")
    finally:
        p.terminate()
        _, err = p.communicate(timeout=10)
    assert err.count("hello from the simulator") == 2
    assert p.returncode == 0


class _NumpyInfo(_Exploding):
    def step(self, skill: int) -> Observation:
        import numpy as np

        return Observation("x", ["a"], k=1, info={"vector": np.arange(3, dtype=np.float32), "n": np.int64(4)})


def test_numpy_values_in_info_cross_the_wire() -> None:
    srv = BridgeServer("np", "tcp://127.0.0.1:*", envs=[_NumpyInfo()])
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_ms": 50}, daemon=True)
    t.start()
    venv = RemoteVecEnv([srv.endpoint])
    try:
        venv.reset()
        obs = venv.step([0])[0]
        assert obs.info == {"vector": [0.0, 1.0, 2.0], "n": 4}
    finally:
        venv.links[0].sock.send(P.encode({"type": "close", "id": 1, "shutdown": True}))
        t.join(5)
        venv.close()
        srv.close()


class _Slow(_Exploding):
    def step(self, skill: int) -> Observation:
        import time

        time.sleep(0.3)
        return Observation("slow", ["wait"], k=1)


def test_long_batches_send_heartbeats_so_they_are_not_taken_for_hangs() -> None:
    srv = BridgeServer("slow", "tcp://127.0.0.1:*", envs=[_Slow() for _ in range(5)])
    srv.heartbeat_s = 0.2
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_ms": 50}, daemon=True)
    t.start()
    venv = RemoteVecEnv([srv.endpoint], timeout=0.8)  # the batch takes ~1.5 s, each env 0.3 s
    try:
        venv.reset()
        out = venv.step([0] * 5)
        assert [o.text for o in out] == ["slow"] * 5
    finally:
        venv.links[0].sock.send(P.encode({"type": "close", "id": 1, "shutdown": True}))
        t.join(5)
        venv.close()
        srv.close()
