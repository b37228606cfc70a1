"""Structure-aware msgpack frames for fuzzing both ends of the bridge (used by tests and by
tests/fake_bridge_server.py).

``FrameGen(seed).request()`` / ``.reply(ids)`` return one message: a list of frames (usually one).
Frames start from valid protocol maps and break them: every field set to values of every wrong
type, fields dropped, unknown types, nesting from 30 levels to past msgpack's own limit (1,024),
ext types (timestamps in their three sizes, reserved negative codes, user codes), map keys that
are not strings, invalid UTF-8, lengths that lie, truncations, flipped bytes, trailing bytes,
non-map top levels, multi-frame messages.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import msgpack

from bridges import protocol as P


class Raw(bytes):
    """Bytes that ``pack`` puts into a frame as they are (an already encoded, possibly broken value)."""


def _map_header(n: int) -> bytes:
    return bytes([0x80 | n]) if n < 16 else (b"\xde" + struct.pack(">H", n) if n < 65536 else b"\xdf" + struct.pack(">I", n))


def _array_header(n: int) -> bytes:
    return bytes([0x90 | n]) if n < 16 else (b"\xdc" + struct.pack(">H", n) if n < 65536 else b"\xdd" + struct.pack(">I", n))


def pack(v: Any) -> bytes:
    """msgpack bytes of ``v``, with ``Raw`` parts spliced in (no depth limit of its own)."""
    if isinstance(v, Raw):
        return bytes(v)
    if isinstance(v, dict):
        return _map_header(len(v)) + b"".join(pack(k) + pack(x) for k, x in v.items())
    if isinstance(v, list):
        return _array_header(len(v)) + b"".join(pack(x) for x in v)
    return msgpack.packb(v, use_bin_type=True)


def deep(depth: int, kind: str = "array") -> Raw:
    """A value nested ``depth`` containers deep (an array or map of one, ``depth`` times, then nil)."""
    head = b"\x91" if kind == "array" else b"\x81\xa1k"
    return Raw(head * depth + b"\xc0")


DEPTHS = [P.MAX_DEPTH - 2, P.MAX_DEPTH - 1, P.MAX_DEPTH, P.MAX_DEPTH + 1, 100, 511, 512, 999, 1000, 1022, 1023, 1024,
          1025, 5000]
TYPES = list(P.REQUESTS) + list(P.REPLIES) + ["", "HELLO", "teleport", "step\x00"]
FIELDS = ["type", "v", "id", "env", "action", "seed", "episode", "autoreset", "envs", "actions", "shutdown", "obs",
          "results", "code", "message", "num_envs", "bridge", "task", "version", "pid", "time", "text", "skills",
          "goal", "reward", "done", "truncated", "k", "info", "reset_obs", "dropped", "error", "schema", "record",
          "frames"]


class FrameGen:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    # ------------------------------------------------------------------ values
    def wrong_value(self) -> Any:
        """A value of some type, often the wrong one for wherever it is put."""
        r = self.rng
        pick = r.randrange(14)
        if pick == 0:
            return r.choice([None, True, False])
        if pick == 1:
            return r.choice([0, 1, -1, 2, 255, 65536, 2**31, 2**63 - 1, -(2**63), 2**64 - 1, r.randint(-9, 9)])
        if pick == 2:
            return r.choice([0.0, 1.0, 0.5, -0.0, float("nan"), float("inf"), float("-inf"), 1e308])
        if pick == 3:
            return r.choice(["", "1", "x" * r.randint(0, 400), "ünï©ødé\u0000\ud7ff", "hello", "step"])
        if pick == 4:
            return r.choice([b"", b"\x00\xff", bytes(r.randrange(256) for _ in range(r.randint(0, 40)))])
        if pick == 5:
            return r.choice([[], [1, 2], ["a", "b"], [[]], [None], [True, 0], list(range(r.randint(0, 50)))])
        if pick == 6:
            return r.choice([{}, {"a": 1}, {"text": "x", "skills": ["a"]}, {"code": "x", "message": "y"}])
        if pick == 7:  # timestamps: 32-, 64- and 96-bit forms
            return r.choice([msgpack.Timestamp(0, 0), msgpack.Timestamp(2**34, 5), msgpack.Timestamp(-1, 0),
                             msgpack.Timestamp(1_700_000_000, 0)])
        if pick == 8:  # user ext types, and reserved negative codes as raw bytes
            if r.random() < 0.5:
                return msgpack.ExtType(r.randrange(128), bytes(r.randrange(256) for _ in range(r.randint(0, 20))))
            code = r.randrange(128, 256)
            return Raw(bytes([r.choice([0xD4, 0xD5, 0xD6, 0xD7, 0xD8]), code]) + bytes(16)[: r.choice([1, 2, 4, 8, 16])])
        if pick == 9:
            return deep(r.choice(DEPTHS), r.choice(["array", "map"]))
        if pick == 10:  # broken encodings inside a valid outer frame
            return Raw(r.choice([b"\xc1", b"\xa3ab", b"\xa2\xff\xfe", b"\xdd\xff\xff\xff\xff", b"\xd9", b"\xc7\x05\x01",
                                 b"\xd6\xff\x00", b"\xc7\x0b\xff" + bytes(11)]))
        if pick == 11:  # maps with keys that are not strings
            return Raw(r.choice([b"\x81\x01\x01", b"\x81\xc4\x01k\x01", b"\x81\x90\x01", b"\x81\x80\x01",
                                 b"\x81\xc0\x01", b"\x82\xa1a\x01\xa1a\x02"]))
        if pick == 12:  # big containers
            return r.choice([list(range(5000)), {f"k{i}": i for i in range(500)}, "y" * 20000])
        return r.choice([Raw(pack(self.wrong_value())), [self.wrong_value(), self.wrong_value()],
                         {"nested": self.wrong_value()}])

    # ------------------------------------------------------------------ maps
    def valid_request(self) -> dict[str, Any]:
        r = self.rng
        kind = r.choice(P.REQUESTS)
        msg: dict[str, Any] = {"type": kind, "v": P.PROTOCOL_VERSION, "id": r.randint(1, 10**6)}
        if kind == "reset":
            msg.update(env=r.randint(-1, 5), seed=r.choice([None, 0, 7, -(2**63), 2**64 - 1]), episode=r.randint(0, 9))
        elif kind == "step":
            msg.update(env=r.randint(-1, 5), action=r.randint(-1, 5), autoreset=r.random() < 0.5)
        elif kind == "steps":
            n = r.randint(1, 4)
            msg.update(envs=[r.randint(-1, 5) for _ in range(n)], actions=[r.randint(-1, 5) for _ in range(n)],
                       autoreset=r.random() < 0.5)
        elif kind == "close":
            msg.update(shutdown=False)
        elif kind == "frames":
            msg.update(env=r.randint(-1, 5), record=r.random() < 0.5)
        return msg

    def obs_map(self) -> dict[str, Any]:
        return {"text": "t", "skills": ["a", "b"], "goal": "", "reward": 0.0, "done": False, "truncated": False,
                "k": 1, "info": {}}

    def valid_reply(self, mid: Any) -> dict[str, Any]:
        r = self.rng
        kind = r.choice(P.REPLIES)
        msg: dict[str, Any] = {"type": kind, "v": P.PROTOCOL_VERSION, "id": mid}
        if kind == "obs":
            msg.update(env=0, obs=self.obs_map())
        elif kind == "obs_batch":
            msg.update(results=[{"env": 0, "obs": self.obs_map()}, {"env": 1, "error": {"code": "skill", "message": "m"}}])
        elif kind == "welcome":
            msg.update(version=P.PROTOCOL_VERSION, bridge="toy", task="t", num_envs=1, pid=1, schema={})
        elif kind == "pong":
            msg.update(pid=1, time=0.0)
        elif kind == "error":
            msg.update(code="malformed", message="m")
        return msg

    def mutate(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Break a valid map: set, drop or add fields, in the map or in a nested obs."""
        r = self.rng
        msg = dict(msg)
        for _ in range(r.randint(1, 3)):
            target = msg
            if "obs" in msg and isinstance(msg["obs"], dict) and r.random() < 0.4:
                target = msg["obs"] = dict(msg["obs"])
            op = r.random()
            keys = list(target)
            if op < 0.6 and keys:
                target[r.choice(keys)] = self.wrong_value()
            elif op < 0.75 and keys:
                del target[r.choice(keys)]
            elif op < 0.9:
                target[r.choice(FIELDS)] = self.wrong_value()
            else:
                target["type"] = r.choice(TYPES)
        return msg

    # ------------------------------------------------------------------ frames
    def _damage(self, frame: bytes) -> bytes:
        r = self.rng
        op = r.random()
        if op < 0.4 and frame:  # truncation
            return frame[: r.randrange(len(frame))]
        if op < 0.7 and frame:  # flipped bytes
            b = bytearray(frame)
            for _ in range(r.randint(1, 4)):
                b[r.randrange(len(b))] = r.randrange(256)
            return bytes(b)
        if op < 0.85:  # trailing bytes (ExtraData)
            return frame + pack(self.wrong_value())
        return frame

    def frame(self, base: dict[str, Any]) -> bytes:
        """One frame from a valid map: mutated fields, sometimes damaged bytes."""
        r = self.rng
        msg = self.mutate(base) if r.random() < 0.85 else base
        frame = pack(msg)
        return self._damage(frame) if r.random() < 0.3 else frame

    def other_frame(self) -> bytes:
        r = self.rng
        pick = r.randrange(6)
        if pick == 0:
            return bytes(r.randrange(256) for _ in range(r.randint(0, 64)))
        if pick == 1:  # not a map at the top
            return pack(self.wrong_value())
        if pick == 2:
            return bytes(deep(r.choice(DEPTHS), r.choice(["array", "map"])))
        if pick == 3:  # a map whose key is not a string, or a lying length
            return r.choice([b"\x81\x01\xa4ping", b"\x81\x90\x01", b"\xdf\xff\xff\xff\xff", b"\x82\xa4type\xa4ping"])
        if pick == 4:  # a timestamp or an ext value as the whole frame
            return pack(r.choice([msgpack.Timestamp(1, 2), msgpack.ExtType(1, b"x"), msgpack.Timestamp(2**40, 0)]))
        return b""

    def request(self) -> list[bytes]:
        """One message for a server: usually one frame, sometimes several (or a REQ-style envelope)."""
        r = self.rng
        x = r.random()
        one = self.frame(self.valid_request()) if x < 0.8 else self.other_frame()
        y = r.random()
        if y < 0.03:
            return [one, self.frame(self.valid_request())]
        if y < 0.05:
            return [b"", one]  # what a REQ socket sends: the server reads it as one request
        if y < 0.06:
            return [b"", b"", one]
        return [one]

    def reply(self, stale_ids: list[Any]) -> bytes:
        """One reply frame for a client; its id is never the one the client waits for."""
        r = self.rng
        if r.random() < 0.8:
            return self.frame(self.valid_reply(r.choice(stale_ids)))
        return self.other_frame()
