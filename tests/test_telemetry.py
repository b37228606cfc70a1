"""Telemetry and control sockets (agent_runtime.telemetry + bridges.telemetry_wire) with real ZeroMQ sockets."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time

import pytest
import zmq

from agent_runtime.telemetry import DemonstrationWriter, Telemetry
from bridges import telemetry_wire as wire


@pytest.fixture
def addrs():
    d = tempfile.mkdtemp(prefix="ar-tel-", dir="/tmp")  # short: ipc paths are limited to ~100 characters
    yield f"ipc://{d}/t-telemetry", f"ipc://{d}/t-control"
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.term()


def subscriber(ctx: zmq.Context, addr: str, hwm: int = 10_000) -> zmq.Socket:
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVHWM, hwm)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(addr)
    return s


def wait_joined(tel: Telemetry, sub: zmq.Socket, timeout: float = 5.0) -> None:
    """Wait until the subscription is in place (the first heartbeat arrives)."""
    assert sub.poll(int(timeout * 1000)), "no heartbeat within 5 s"
    topic, data = sub.recv_multipart()
    assert topic == wire.TOPIC_HEARTBEAT
    assert wire.unpack(data)["pid"] > 0


def recv_topic(sub: zmq.Socket, topic: bytes, timeout: float = 5.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if sub.poll(100):
            t, data = sub.recv_multipart()
            if t == topic:
                return wire.unpack(data)
    raise AssertionError(f"no {topic!r} message within {timeout} s")


def decision(env: int = 0, step: int = 1, n: int = 3) -> dict:
    probs = [1.0 / n] * n
    return {
        "env": env,
        "step": step,
        "episode_step": 0,
        "observation": "You see a door. You should",
        "skills": [f"skill {i}" for i in range(n)],
        "probs": probs,
        "value": 0.5,
        "action": 0,
        "overridden": False,
        "reward": 0.0,
        "greedy": False,
    }


# ---------------------------------------------------------------- wire


def test_validate_command_accepts_the_schema():
    assert wire.validate_command({"cmd": "pause"}) == {"cmd": "pause"}
    assert wire.validate_command({"cmd": "override", "env": 1, "skill": 2}) == {"cmd": "override", "env": 1, "skill": 2}
    assert wire.validate_command({"cmd": "mode", "greedy": True}) == {"cmd": "mode", "greedy": True}


@pytest.mark.parametrize(
    "req, words",
    [
        ("pause", "must be a map"),
        ({"cmd": "jump"}, "unknown cmd 'jump'"),
        ({}, "unknown cmd None"),
        ({"cmd": "override", "env": 0}, "needs 'skill'"),
        ({"cmd": "override", "env": -1, "skill": 0}, "'env' must be an integer >= 0"),
        ({"cmd": "override", "env": True, "skill": 0}, "'env' must be an integer >= 0"),
        ({"cmd": "override", "env": 0, "skill": "2"}, "'skill' must be an integer >= 0"),
        ({"cmd": "mode"}, "mode needs 'greedy'"),
        ({"cmd": "mode", "greedy": 1}, "mode needs 'greedy'"),
    ],
)
def test_validate_command_refuses_with_a_clear_message(req, words):
    with pytest.raises(wire.CommandError, match=words.replace("(", r"\(")):
        wire.validate_command(req)


def test_pack_converts_numpy_like_values():
    class Arr:
        def tolist(self):
            return [0.25, 0.75]

    assert wire.unpack(wire.pack({"probs": Arr()})) == {"probs": [0.25, 0.75]}


def test_control_address_for():
    assert wire.control_address_for("tcp://127.0.0.1:5560") == "tcp://127.0.0.1:5561"
    assert wire.control_address_for("ipc:///tmp/x-telemetry") == "ipc:///tmp/x-control"
    assert wire.connectable("tcp://*:7000", "10.0.0.2") == "tcp://10.0.0.2:7000"
    with pytest.raises(ValueError, match="give it explicitly"):
        wire.control_address_for("inproc://x")


# ---------------------------------------------------------------- no-op and demonstrations


def test_without_addresses_every_call_is_a_noop(tmp_path):
    tel = Telemetry(None, None)
    t = time.perf_counter()
    for i in range(10_000):
        tel.poll()
        tel.wait_while_paused()
        assert tel.take_override(0, 4) is None
        tel.publish_decision(decision(step=i))
    assert time.perf_counter() - t < 1.0
    tel.publish_stats({"update": 1})
    tel.publish_episode({"env": 0, "return": 1.0})
    tel.record_override({"env": 0})  # no demos path: nothing happens
    assert tel.greedy is None and tel.save_requested is False
    tel.close()
    tel.close()


def test_demonstrations_are_jsonl_one_line_per_override(tmp_path):
    path = tmp_path / "sub" / "demos.jsonl"
    tel = Telemetry(None, None, demos_path=str(path))
    tel.record_override(
        {"env": 1, "step": 7, "prompt": "p ✓", "skills": ["a", "b"], "action": 1, "action_text": "b", "probs": [0.9, 0.1]}
    )
    tel.record_override({"env": 0, "step": 8, "prompt": "q", "skills": ["a"], "action": 0, "action_text": "a", "probs": [1.0]})
    tel.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["env"] == 1 and first["action_text"] == "b" and first["probs"] == [0.9, 0.1] and first["prompt"] == "p ✓"
    assert isinstance(first["time"], float)
    w = DemonstrationWriter(path)  # appends, never truncates
    w.write({"env": 2})
    w.close()
    assert len(path.read_text().splitlines()) == 3
    with pytest.raises(TypeError, match="must be a dict"):
        DemonstrationWriter(path).write(["not", "a", "dict"])


# ---------------------------------------------------------------- publishing


def test_messages_reach_a_subscriber(addrs, ctx):
    pub, ctl = addrs
    with Telemetry(pub, ctl, heartbeat_s=0.1) as tel:
        sub = subscriber(ctx, pub)
        wait_joined(tel, sub)
        tel.publish_decision(decision(env=1, step=5))
        got = recv_topic(sub, wire.TOPIC_DECISION)
        assert got == decision(env=1, step=5)
        tel.publish_stats({"update": 3, "kl": 0.01})
        assert recv_topic(sub, wire.TOPIC_STATS) == {"update": 3, "kl": 0.01}
        tel.publish_episode({"env": 1, "return": 2.5, "length": 3, "success": True, "decisions": 5})
        assert recv_topic(sub, wire.TOPIC_EPISODE)["return"] == 2.5
        beat = recv_topic(sub, wire.TOPIC_HEARTBEAT)
        assert beat["decisions"] == 5 and beat["num_envs"] == 2 and beat["paused"] is False
        assert beat["control"] == ctl
        sub.close(0)


def test_unpackable_message_is_dropped_with_one_warning(addrs):
    pub, _ = addrs
    with Telemetry(pub, None) as tel:
        with pytest.warns(RuntimeWarning, match="not packable"):
            tel.publish_decision({"env": 0, "bad": object()})
        tel.publish_decision({"env": 0, "bad": object()})
        assert tel.dropped == 2


def test_stalled_and_absent_subscribers_cost_nothing(addrs, ctx):
    pub, _ = addrs
    big = decision(n=8)
    big["observation"] = "x" * 4000
    with Telemetry(pub, None) as tel:
        t = time.perf_counter()
        for i in range(5000):
            big["step"] = i
            tel.publish_decision(big)
        absent = time.perf_counter() - t
        stalled = subscriber(ctx, pub, hwm=1)  # connected, never reads
        time.sleep(0.3)
        t = time.perf_counter()
        for i in range(5000):
            big["step"] = i
            tel.publish_decision(big)
        stalled_s = time.perf_counter() - t
        stalled.close(0)
    # ~20 us a message on this machine class; a blocking send would hang forever instead.
    assert absent < 2.0 and stalled_s < 2.0, (absent, stalled_s)


def test_bind_conflict_is_a_clear_error(ctx):
    taken = ctx.socket(zmq.PUB)
    port = taken.bind_to_random_port("tcp://127.0.0.1")
    try:
        addr = f"tcp://127.0.0.1:{port}"
        with pytest.raises(OSError, match=f"cannot bind the telemetry socket to {addr}"):
            Telemetry(addr, None)
    finally:
        taken.close(0)


# ---------------------------------------------------------------- control


def test_control_commands_and_replies(addrs):
    pub, ctl = addrs
    client = wire.ControlClient(ctl)
    with Telemetry(pub, ctl) as tel:
        tel.publish_decision(decision(env=0, step=1))
        tel.publish_decision(decision(env=1, step=2))
        r = client("mode", greedy=True)
        assert r["ok"] and r["state"]["greedy"] is True and tel.greedy is True
        assert client("mode", greedy=False)["ok"] and tel.greedy is False
        assert client("save")["ok"] and tel.save_requested is True
        r = client("override", env=5, skill=0)
        assert not r["ok"] and "env 5 out of range: the runtime has 2 environments" in r["error"]
        r = client.request({"cmd": "fly"})
        assert not r["ok"] and "unknown cmd 'fly'" in r["error"]
        r = client("override", env=1, skill=2)
        assert r["ok"] and r["state"]["overrides"] == [[1, 2]]
        assert tel.take_override(0, 3) is None
        assert tel.take_override(1, 3) == 2
        assert tel.take_override(1, 3) is None  # consumed
        assert client("override", env=0, skill=3)["ok"]
        assert tel.take_override(0, 3) is None  # out of range now: dropped and said
        assert "skill 3 out of range (3 valid skills)" in client("status")["state"]["last_error"]


def test_override_is_checked_against_the_pending_observation(addrs):
    pub, ctl = addrs
    client = wire.ControlClient(ctl)
    with Telemetry(pub, ctl) as tel:
        tel.set_pending([{"observation": "a", "skills": ["x", "y"]}, {"observation": "b", "skills": ["x", "y", "z"]}])
        assert client("override", env=0, skill=2)["ok"], "not waiting: the pending round may be stale, no check"
        assert tel.take_override(0, 2) is None
        client("pause")
        th = threading.Thread(target=tel.wait_while_paused, daemon=True)
        th.start()
        time.sleep(0.2)
        r = client("override", env=0, skill=2)
        assert not r["ok"] and "env 0 has 2 valid skills now" in r["error"]
        assert client("override", env=1, skill=2)["ok"]
        client("resume")
        th.join(2)
        assert tel.take_override(1, 3) == 2


def test_malformed_request_gets_an_error_reply(addrs, ctx):
    pub, ctl = addrs
    with Telemetry(pub, ctl):
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        req.connect(ctl)
        req.send(b"\xc1 not msgpack")
        assert req.poll(3000)
        reply = wire.unpack(req.recv())
        assert reply["ok"] is False and "malformed request" in reply["error"]
        req.close(0)


def test_no_runtime_reply_is_clear():
    d = tempfile.mkdtemp(prefix="ar-tel-", dir="/tmp")
    r = wire.ControlClient(f"ipc://{d}/nobody", timeout=0.3)("status")
    shutil.rmtree(d, ignore_errors=True)
    assert r["ok"] is False and "no runtime answered" in r["error"]


def test_pause_step_resume(addrs):
    pub, ctl = addrs
    client = wire.ControlClient(ctl)
    rounds = []
    stop = threading.Event()
    with Telemetry(pub, ctl) as tel:

        def trainer():
            while not stop.is_set():
                tel.poll()
                tel.wait_while_paused()
                rounds.append(time.monotonic())
                time.sleep(0.005)

        th = threading.Thread(target=trainer, daemon=True)
        th.start()
        time.sleep(0.1)
        assert client("pause")["state"]["paused"] is True
        time.sleep(0.05)  # a round in flight when pause arrived may still finish
        n = len(rounds)
        time.sleep(0.3)
        assert len(rounds) == n, "rounds ran while paused"
        assert client("step")["ok"]
        time.sleep(0.3)
        assert len(rounds) == n + 1, "a step must let exactly one round through"
        client("step")
        client("step")
        time.sleep(0.3)
        assert len(rounds) == n + 3
        assert client("resume")["state"]["paused"] is False
        time.sleep(0.2)
        assert len(rounds) > n + 10
        stop.set()
        th.join(2)


def test_close_releases_a_paused_trainer(addrs):
    pub, ctl = addrs
    tel = Telemetry(pub, ctl)
    wire.ControlClient(ctl)("pause")
    done = threading.Event()
    th = threading.Thread(target=lambda: (tel.wait_while_paused(), done.set()), daemon=True)
    th.start()
    time.sleep(0.2)
    assert not done.is_set()
    tel.close()
    assert done.wait(2)


def test_paused_runtime_publishes_pending_and_heartbeats(addrs, ctx):
    pub, ctl = addrs
    with Telemetry(pub, ctl, heartbeat_s=0.2) as tel:
        sub = subscriber(ctx, pub)
        wait_joined(tel, sub)
        tel.publish_decision(decision(env=0, step=3))
        tel.set_pending([{"observation": "next obs", "skills": ["go", "stop"]}])
        wire.ControlClient(ctl)("pause")
        th = threading.Thread(target=tel.wait_while_paused, daemon=True)
        th.start()
        msg = recv_topic(sub, wire.TOPIC_PENDING)
        assert msg == {"env": 0, "step": 3, "observation": "next obs", "skills": ["go", "stop"]}
        assert recv_topic(sub, wire.TOPIC_HEARTBEAT)["paused"] is True
        wire.ControlClient(ctl)("resume")
        th.join(2)
        assert not th.is_alive()
        sub.close(0)


def test_status_carries_history_for_a_late_tui(addrs):
    pub, ctl = addrs
    with Telemetry(pub, ctl) as tel:
        tel.publish_decision(decision(env=0, step=1))
        tel.publish_decision(decision(env=1, step=2))
        tel.publish_episode({"env": 0, "return": 1.5, "length": 2, "success": True, "decisions": 2})
        tel.publish_stats({"update": 1, "kl": 0.0})
        r = wire.ControlClient(ctl)("status")
        assert r["ok"]
        assert r["episodes"] == [[2, 1.5, True]]
        assert r["last_decisions"]["1"]["step"] == 2
        assert r["last_stats"] == {"update": 1, "kl": 0.0}


def test_step_while_running_pauses_after_one_more_round(addrs):
    pub, ctl = addrs
    rounds = []
    stop = threading.Event()
    with Telemetry(pub, ctl) as tel:

        def trainer():
            while not stop.is_set():
                tel.wait_while_paused()
                rounds.append(time.monotonic())
                time.sleep(0.01)

        th = threading.Thread(target=trainer, daemon=True)
        th.start()
        time.sleep(0.1)
        n = len(rounds)
        r = wire.ControlClient(ctl)("step")
        assert r["ok"] and r["state"]["paused"] is True
        time.sleep(0.3)
        m = len(rounds)
        # the round in flight when the command arrived may finish, then exactly one more
        assert n + 1 <= m <= n + 2, (n, m)
        time.sleep(0.3)
        assert len(rounds) == m, "still running after the stepped round"
        wire.ControlClient(ctl)("resume")
        stop.set()
        th.join(2)
