"""Structure-aware fuzzing of both ends of the wire, against live processes.

Server: 10,000 broken messages from a raw socket to a live server process, interleaved with a
well-behaved client stepping an episode on the same server. Every message gets exactly one reply
(0 hangs), the process never exits (0 crashes), and the well-behaved episode is the one an
undisturbed environment gives.

Client: a fake server process answers a real RemoteVecEnv with 10,000 broken frames around its
real replies; the client ignores them and gets exactly its observations. A broken frame that
answers a pending request makes the client reconnect (attached) or restart (spawned) and drop the
episode; one that never stops ends in BridgeError, never another exception.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import msgpack
import pytest
import zmq
from wire_fuzz import FrameGen

from bridges import protocol as P
from bridges.client import BridgeError, RemoteVecEnv, request
from bridges.launch import ServerProcess
from bridges.toy import make_env

HERE = Path(__file__).resolve().parent
FAKE = HERE / "fake_bridge_server.py"
N_FRAMES = 10_000
GOOD_ENV = 0  # the well-behaved client's environment; the fuzzer may step envs 1 and 2 for real


def _touches_good_env(parts: list[bytes]) -> bool:
    """True when the server would accept this message as a request that changes env 0, or stops the server."""
    payload = parts[1:] if len(parts) >= 2 and parts[0] == b"" else parts  # what a REQ socket sends: b"", payload
    if len(payload) != 1:
        return False
    try:
        msg = P.decode_request(payload[0])
    except P.ProtocolError:
        return False
    if msg["type"] == "close":
        return msg.get("shutdown", False) is True
    if msg["type"] in ("reset", "step"):
        return msg["env"] == GOOD_ENV
    if msg["type"] == "steps":
        return GOOD_ENV in msg["envs"]
    return False


@pytest.fixture
def fuzz_server():
    proc = ServerProcess("toy", num_envs=3, options={"steps": 3})
    proc.start()
    yield proc
    proc.stop()


def test_10000_fuzzed_messages_neither_crash_nor_hang_a_server_nor_change_a_good_episode(fuzz_server) -> None:
    gen = FrameGen(seed=1234)
    ctx = zmq.Context()
    fuzz = ctx.socket(zmq.DEALER)
    good = ctx.socket(zmq.DEALER)
    for s in (fuzz, good):
        s.setsockopt(zmq.LINGER, 0)
        s.connect(fuzz_server.address)
    reference = make_env(steps=3)  # what env 0 must show, undisturbed
    try:
        expected = reference.reset(5)
        got = request(good, {"type": "reset", "v": 1, "env": GOOD_ENV, "seed": 5}, 10)
        assert Observation_wire(got) == expected.to_wire()
        sent = skipped = replies = good_steps = deep_ones = ext_ones = 0
        codes: dict[str, int] = {}
        t0 = time.monotonic()
        while sent < N_FRAMES:
            chunk = 0
            while chunk < 250 and sent < N_FRAMES:
                parts = gen.request()
                if _touches_good_env(parts):
                    skipped += 1
                    continue
                deep_ones += any(b"\x91" * 30 in p or b"\x81\xa1k" * 30 in p for p in parts)
                ext_ones += any(any(x in p for x in (b"\xd6\xff", b"\xd7\xff", b"\xc7\x0c\xff")) for p in parts)
                fuzz.send_multipart(parts)
                sent += 1
                chunk += 1
            # the well-behaved client takes a step while the fuzz frames are queued at the server
            action = good_steps % len(expected.skills)
            want = reference.step(action)
            if want.ended:
                want.reset_obs = reference.reset(5 + P.EPISODE_STRIDE * (good_steps // 3 + 1))
            reply = request(good, {"type": "step", "v": 1, "env": GOOD_ENV, "action": action}, 10)
            assert reply["type"] == "obs", reply
            assert Observation_wire(reply) == want.to_wire(), f"good episode changed at step {good_steps}"
            expected = want.reset_obs if want.ended else want
            good_steps += 1
            while replies < sent:
                assert fuzz.poll(10_000), f"no reply to fuzz message {replies} of {sent}: the server hangs"
                frames = fuzz.recv_multipart()
                msg = msgpack.unpackb(frames[-1], raw=False)
                assert msg["type"] in P.REPLIES and msg["v"] == P.PROTOCOL_VERSION
                codes[msg.get("code", msg["type"])] = codes.get(msg.get("code", msg["type"]), 0) + 1
                replies += 1
            assert fuzz_server.poll() is None, "the server process exited"
        took = time.monotonic() - t0
        assert fuzz.poll(200) == 0, "more replies than messages"
        assert replies == sent == N_FRAMES
        assert request(good, {"type": "ping", "v": 1}, 10)["type"] == "pong"
        # the fuzz reached what it is meant to: every refusal, deep nesting, ext values, real steps of env 1-2
        assert {P.E_MALFORMED, P.E_BAD_FIELD, P.E_UNKNOWN_TYPE, P.E_ENV_INDEX, P.E_VERSION} <= set(codes), codes
        assert codes.get("obs", 0) + codes.get("obs_batch", 0) > 0 and deep_ones > 300 and ext_ones > 50, codes
        assert "internal" not in codes, codes  # no request hit a bug in the server
        print(f"\n{sent} fuzz messages in {took:.1f}s ({skipped} skipped as valid requests on env 0), "
              f"{good_steps} good steps; replies: {dict(sorted(codes.items()))}")
    finally:
        fuzz.close(0)
        good.close(0)
        ctx.term()


def Observation_wire(reply: dict) -> dict:
    """The observation map of an ``obs`` reply as the client reads it (validated)."""
    return P.decode_reply(P.encode(reply))["obs"]


# ---------------------------------------------------------------------------------------- client side
def _start_fake(mode: str, seed: int = 0) -> tuple[subprocess.Popen, str]:
    p = subprocess.Popen([sys.executable, str(FAKE), mode, str(seed)], stdout=subprocess.PIPE, text=True,
                         cwd=str(HERE.parent))
    line = p.stdout.readline().strip()
    assert line.startswith("FAKE-READY "), line
    return p, line.split()[1]


def _stop(p: subprocess.Popen) -> None:
    p.kill()
    p.wait()


def test_a_client_ignores_10000_broken_frames_and_gets_exactly_its_observations() -> None:
    """The fake server sends 100 broken frames (never with the id the client waits for) before each real
    reply: the client must read past all of them and return what the real replies say."""
    fake, address = _start_fake("noise", seed=99)
    venv = RemoteVecEnv([address], seeds=[3], timeout=10)
    try:
        obs = venv.reset()[0]
        assert obs.text == "start 3" and obs.skills == ["a", "b"]
        for t in range(1, 100):
            out = venv.step([t % 2])[0]
            assert (out.text, out.k, out.dropped, out.reward) == (f"t={t} a={t % 2}", 1, False, 0.5)
        assert fake.poll() is None
        counted = int(request(venv.links[0].sock, {"type": "ping", "v": 1}, 10)["sent"])
        assert counted >= N_FRAMES, counted
        assert 0 < venv.bad_frames <= counted  # the unreadable ones (the rest decode, with ids nobody waits for)
        assert venv.dropped_episodes == 0
    finally:
        venv.close()
        _stop(fake)


def test_a_broken_reply_to_a_pending_request_makes_an_attached_client_reconnect_and_drop_the_episode(caplog) -> None:
    """Every step is answered with a broken frame that carries the step's id: each time the client
    reconnects, drops the episode and goes on from a fresh reset; nothing but observations comes out."""
    fake, address = _start_fake("fault", seed=7)
    venv = RemoteVecEnv([address], seeds=[0], timeout=10, reconnect_timeout=10, restart_backoff=0.0)
    try:
        venv.reset()
        with caplog.at_level("WARNING", logger="bridges"):
            for _ in range(200):
                out = venv.step([0])[0]
                assert out.dropped and out.truncated and out.reset_obs is not None
                assert out.reset_obs.text.startswith("start ")
        assert venv.dropped_episodes == 200
        assert "bad frame" in caplog.text or "instead of" in caplog.text
    finally:
        venv.close()
        _stop(fake)


def test_a_server_that_only_sends_garbage_ends_in_a_bridge_error() -> None:
    fake, address = _start_fake("garbage", seed=3)
    try:
        with pytest.raises(BridgeError, match="handshake"):
            RemoteVecEnv([address], handshake_timeout=5)
    finally:
        _stop(fake)
    fake, address = _start_fake("fault-always", seed=3)
    venv = RemoteVecEnv([address], seeds=[0], timeout=10, reconnect_timeout=10, restart_backoff=0.0, max_restarts=3)
    try:
        with pytest.raises(BridgeError, match="3 reconnections in a row"):
            venv.reset()
    finally:
        venv.close()
        _stop(fake)


class FakeProcess:
    """A fake server process that the client may restart (the RestartableServer the launcher provides)."""

    def __init__(self, modes: list[str]):
        self.modes = modes
        self.starts = 0
        self.proc, self.address = _start_fake(self.modes[0])

    def poll(self) -> int | None:
        return self.proc.poll()

    def restart(self) -> str:
        _stop(self.proc)
        self.starts += 1
        self.proc, self.address = _start_fake(self.modes[min(self.starts, len(self.modes) - 1)])
        return self.address


def test_a_spawned_server_that_answers_garbage_is_restarted_and_training_goes_on() -> None:
    server = FakeProcess(["fault", "clean"])
    venv = RemoteVecEnv([server], seeds=[0], timeout=10, restart_backoff=0.0)
    try:
        venv.reset()
        out = venv.step([1])[0]
        assert out.dropped and out.reset_obs is not None and server.starts == 1
        assert [venv.step([1])[0].text for _ in range(3)] == ["t=1 a=1", "t=2 a=1", "t=3 a=1"]
    finally:
        venv.close()
        _stop(server.proc)


class _DeepInfo:
    """Skill 1 puts a value nested 40 deep into ``info``: a reply the client would have to refuse."""

    name, task = "deep", "deep"

    def reset(self, seed=None):
        from bridges.spec import Observation

        return Observation(f"start {seed}", ["ok", "deep"])

    def step(self, skill: int):
        from bridges.spec import Observation

        value: list = []
        for _ in range(40 if skill == 1 else 3):
            value = [value]
        return Observation("stepped", ["ok", "deep"], k=1, info={"nested": value})

    def close(self) -> None:
        pass


def test_a_server_never_sends_what_a_client_must_refuse() -> None:
    """An observation nested past MAX_DEPTH becomes env_failed: that episode is dropped, the rest goes on."""
    import threading

    from bridges.server import BridgeServer

    srv = BridgeServer("deep", "tcp://127.0.0.1:*", envs=[_DeepInfo(), _DeepInfo()])
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_ms": 50}, daemon=True)
    t.start()
    venv = RemoteVecEnv([srv.endpoint], seeds=[0, 1])
    try:
        venv.reset()
        out = venv.step([1, 0])
        assert out[0].dropped and "nested at most" in out[0].info["dropped"]
        assert out[0].reset_obs.text == f"start {P.EPISODE_STRIDE}"
        assert not out[1].dropped and out[1].info["nested"] == [[[[]]]]
        assert venv.bad_frames == 0
    finally:
        venv.links[0].sock.send(P.encode({"type": "close", "id": 1, "shutdown": True}))
        t.join(5)
        venv.close()
        srv.close()
