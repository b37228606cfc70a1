"""A fake bridge server for the client fuzz tests: ``python tests/fake_bridge_server.py MODE SEED``.

One environment. ``reset`` -> "start <seed>", skills a/b; ``step`` -> "t=<n> a=<action>", reward 0.5.
Modes:
  clean         valid replies only
  noise         100 broken frames (never carrying the id the client waits for) before each real reply
  fault         each ``step`` is answered by one broken frame that carries the step's id
  fault-always  each ``reset`` and ``step`` is answered that way
  garbage       every request, ``hello`` included, is answered that way
``ping`` -> ``pong`` with ``sent``: the number of broken frames sent so far.
"""

from __future__ import annotations

import os
import sys

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wire_fuzz import FrameGen

from bridges import protocol as P


def broken_answer(gen: FrameGen, mid: int, expected: str) -> bytes:
    """A frame carrying ``mid`` that the client cannot take as its ``expected`` reply (nor as an error)."""
    while True:
        frame = gen.frame(gen.valid_reply(mid))
        try:
            msg = P.decode_reply(frame)
        except P.ProtocolError as e:
            if e.msg_id == mid:
                return frame
            continue
        if msg.get("id") == mid and msg["type"] not in (expected, "error"):
            return frame


def noise(gen: FrameGen, mid: int) -> bytes:
    """A broken frame that answers nothing pending (its id, if it has a readable one, is not ``mid``)."""
    while True:
        frame = gen.reply([None, 0, -1, mid + 10**9, "x"])
        try:
            msg = P.unpack(frame)
        except P.ProtocolError:
            return frame
        if P.msg_id(msg) != mid:
            return frame


def main() -> None:
    mode, seed = sys.argv[1], int(sys.argv[2])
    gen = FrameGen(seed)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind("tcp://127.0.0.1:*")
    print("FAKE-READY", sock.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    t = 0
    sent = 0
    while True:
        ident, frame = sock.recv_multipart()
        msg = P.decode_request(frame)
        mid, kind = msg["id"], msg["type"]

        def send(reply: dict | bytes, ident: bytes = ident, mid: int = mid) -> None:
            sock.send_multipart([ident, reply if isinstance(reply, bytes) else P.encode({**reply, "id": mid})])

        if mode == "garbage" or (mode == "fault-always" and kind in ("reset", "step")) or (
                mode == "fault" and kind == "step"):
            sent += 1
            send(broken_answer(gen, mid, {"hello": "welcome", "ping": "pong"}.get(kind, "obs")))
            continue
        if mode == "noise" and kind in ("reset", "step"):
            for _ in range(100):
                send(noise(gen, mid))
                sent += 1
        if kind == "hello":
            send({"type": "welcome", "version": P.PROTOCOL_VERSION, "bridge": "fake", "task": mode, "num_envs": 1,
                  "pid": os.getpid(), "schema": {}})
        elif kind == "ping":
            send({"type": "pong", "pid": os.getpid(), "time": 0.0, "sent": sent})
        elif kind == "reset":
            t = 0
            seed_ = msg.get("seed")
            s = None if seed_ is None else seed_ + P.EPISODE_STRIDE * msg.get("episode", 0)
            send({"type": "obs", "env": 0, "obs": {"text": f"start {s}", "skills": ["a", "b"], "k": 0}})
        elif kind == "step":
            t += 1
            send({"type": "obs", "env": 0, "obs": {"text": f"t={t} a={msg['action']}", "skills": ["a", "b"],
                                                  "reward": 0.5, "k": 1}})
        else:
            send({"type": "closed"})


if __name__ == "__main__":
    main()
