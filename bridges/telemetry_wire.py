"""Telemetry and control wire format shared by the runtime and the TUI.

pyzmq + msgpack + the standard library only: both the runtime (``agent_runtime.telemetry``) and the
TUI import it, and the TUI never imports ``agent_runtime`` or torch.

Sockets (the runtime binds both, on 127.0.0.1 by default):

* telemetry: a PUB socket. Every message is two frames ``[topic, msgpack map]``;
  topics are ``decision``, ``stats``, ``episode``, ``heartbeat``, ``pending`` and ``frame``
  (``{env, w, h, rgb}``: env 0's picture after each step, with ``telemetry.frames`` and a simulator
  that draws itself; ``rgb`` is ``w*h*3`` bytes, row-major).
  Subscribers may come and go; a slow one only loses messages.
  A heartbeat (the runtime state) carries ``status``: ``{"state": "acting"|"updating"|..., ...}``,
  e.g. ``{"state": "updating", "done": 3, "total": 8}`` while PPO runs; it is also sent at once
  when the status changes.
* control: a ROUTER socket answering REQ clients. A request is one msgpack map
  ``{"cmd": ..., ...}`` (see :func:`validate_command`); every request gets one
  reply ``{"ok": bool, "error": str (when not ok), "state": {...}}``.
"""

from __future__ import annotations

import re
from typing import Any

import msgpack
import zmq

PROTOCOL_VERSION = 1

TOPIC_DECISION = b"decision"
TOPIC_STATS = b"stats"
TOPIC_EPISODE = b"episode"
TOPIC_HEARTBEAT = b"heartbeat"  # runtime state, about once a second, even while paused or busy
TOPIC_PENDING = b"pending"  # while paused: the observation each env will decide on next
TOPIC_FRAME = b"frame"  # env 0's picture after each step (telemetry.frames)
TOPICS = (TOPIC_DECISION, TOPIC_STATS, TOPIC_EPISODE, TOPIC_HEARTBEAT, TOPIC_PENDING, TOPIC_FRAME)

DEFAULT_TELEMETRY_ADDR = "tcp://127.0.0.1:5560"
DEFAULT_CONTROL_ADDR = "tcp://127.0.0.1:5561"

COMMANDS = ("pause", "resume", "step", "override", "mode", "save", "status", "stop")  # stop: save a checkpoint and end

MAX_REQUEST_BYTES = 64 * 1024


class CommandError(ValueError):
    """A control request the runtime refuses; the message says why."""


def _default(obj: Any) -> Any:
    # numpy / torch scalars and arrays reach us from the trainer; convert, don't fail.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot pack object of type {type(obj).__name__}")


def pack(obj: Any) -> bytes:
    """msgpack-encode a message (numpy-like values are converted with ``tolist``)."""
    return msgpack.packb(obj, use_bin_type=True, default=_default)


def unpack(data: bytes) -> Any:
    """Decode a msgpack message (str keys and values, lists for arrays)."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def validate_command(req: Any) -> dict[str, Any]:
    """Check a control request and return it normalised, or raise CommandError.

    Schema: ``{"cmd": "pause"|"resume"|"step"|"save"|"status"|"stop"}``,
    ``{"cmd": "override", "env": int >= 0, "skill": int >= 0}``,
    ``{"cmd": "mode", "greedy": bool}``.
    """
    if not isinstance(req, dict):
        raise CommandError(f"a request must be a map, got {type(req).__name__}")
    cmd = req.get("cmd")
    if cmd not in COMMANDS:
        raise CommandError(f"unknown cmd {cmd!r}; known: {', '.join(COMMANDS)}")
    out: dict[str, Any] = {"cmd": cmd}
    if cmd == "override":
        for key in ("env", "skill"):
            if key not in req:
                raise CommandError(f"override needs {key!r} (an integer >= 0)")
            v = req[key]
            if not _is_int(v) or v < 0:
                raise CommandError(f"override {key!r} must be an integer >= 0, got {v!r}")
            out[key] = v
    elif cmd == "mode":
        if not isinstance(req.get("greedy"), bool):
            raise CommandError(f"mode needs 'greedy' (true or false), got {req.get('greedy')!r}")
        out["greedy"] = req["greedy"]
    return out


def reply_ok(state: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"ok": True, "state": state, **extra}


def reply_error(error: str, state: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"ok": False, "error": error, "state": state or {}}


def control_address_for(telemetry_addr: str) -> str:
    """The control address a runtime uses by default next to ``telemetry_addr``.

    tcp: the next port (5560 -> 5561); ipc: the path with ``-telemetry`` replaced
    by ``-control`` (or ``-control`` appended).
    """
    m = re.fullmatch(r"tcp://(.+):(\d+)", telemetry_addr)
    if m:
        return f"tcp://{m.group(1)}:{int(m.group(2)) + 1}"
    if telemetry_addr.startswith("ipc://"):
        if telemetry_addr.endswith("-telemetry"):
            return telemetry_addr[: -len("-telemetry")] + "-control"
        return telemetry_addr + "-control"
    raise ValueError(f"cannot derive a control address from {telemetry_addr!r}; give it explicitly")


def connectable(addr: str, fallback_host: str = "127.0.0.1") -> str:
    """A bound address as a client connects to it (``*`` / 0.0.0.0 -> ``fallback_host``)."""
    m = re.fullmatch(r"tcp://(\*|0\.0\.0\.0):(\d+)", addr)
    return f"tcp://{fallback_host}:{m.group(2)}" if m else addr


def host_of(addr: str) -> str:
    m = re.fullmatch(r"tcp://(.+):(\d+)", addr)
    return m.group(1) if m else "127.0.0.1"


class ControlClient:
    """Send control commands to a runtime (a fresh REQ socket per request).

    A fresh socket per request keeps a dead runtime from wedging the REQ state
    machine; human-rate commands make the connect cost irrelevant.
    """

    def __init__(self, addr: str = DEFAULT_CONTROL_ADDR, timeout: float = 2.0, context: zmq.Context | None = None):
        self.addr = addr
        self.timeout = timeout
        self._ctx = context or zmq.Context.instance()

    def request(self, cmd: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send one command and return the reply; a reply_error if no answer in time."""
        wait = self.timeout if timeout is None else timeout
        sock = self._ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.connect(self.addr)
            sock.send(pack(cmd))
            if sock.poll(int(wait * 1000), zmq.POLLIN):
                reply = unpack(sock.recv())
                if isinstance(reply, dict):
                    return reply
                return reply_error(f"malformed reply from {self.addr}")
            return reply_error(f"no runtime answered at {self.addr} within {wait:g} s")
        finally:
            sock.close(0)

    def __call__(self, cmd: str, **fields: Any) -> dict[str, Any]:
        return self.request({"cmd": cmd, **fields})
