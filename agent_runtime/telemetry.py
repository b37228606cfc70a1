"""Telemetry (PUB) and control (ROUTER) sockets of the runtime, and the demonstrations file.

Telemetry never blocks training: messages are packed once, sent with NOBLOCK on
a PUB socket with a small send high-water mark, and dropped when a subscriber
is slow, stalled or absent. Control commands are answered on a small service
thread as soon as they arrive (so a TUI gets an answer even during a long PPO
update); their effects (pause, step, overrides, mode, save) are read by the
trainer loop through the methods below. The same thread publishes a heartbeat
about once a second so that a TUI can tell a busy runtime from an absent one.

The trainer also reports what it is doing (``publish_status("updating", done=i, total=n)`` during
PPO, ``publish_status("acting")`` after) and ends the run with a checkpoint once ``stop_requested``
is set (the TUI's ``q``).

The trainer's loop, per decision round::

    tel.set_pending(observations)   # optional: lets a paused TUI show what comes next
    tel.poll(); tel.wait_while_paused()
    for i, env in enumerate(envs):
        probs, value = score(...)
        ov = tel.take_override(i, len(skills))
        action = ov if ov is not None else sample_or_argmax(probs, tel.greedy)
        tel.publish_decision({...})
        if ov is not None:
            tel.record_override({...})

With both addresses None every call is a cheap no-op (the demonstrations file
is still written when ``demos_path`` is given).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import warnings
from collections import deque
from pathlib import Path
from typing import Any

import zmq

from bridges import telemetry_wire as wire


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot write object of type {type(obj).__name__} to the demonstrations file")


class DemonstrationWriter:
    """Append one JSON object per line (one line per human override) to ``path``."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the writer's lifetime

    def write(self, record: dict[str, Any]) -> None:
        """Write ``record`` (env, step, prompt, skills, action, action_text, probs, ...) as one line."""
        if not isinstance(record, dict):
            raise TypeError(f"a demonstration record must be a dict, got {type(record).__name__}")
        self._f.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()


class Telemetry:
    """Publishes decisions, stats, episodes and status; takes pause/step/override/mode/save/stop commands."""

    def __init__(
        self,
        pub_addr: str | None,
        control_addr: str | None,
        demos_path: str | None = None,
        *,
        sndhwm: int = 64,
        heartbeat_s: float = 1.0,
        history: int = 2000,
    ):
        self.greedy: bool | None = None
        self.save_requested: bool = False
        self.stop_requested: bool = False  # a "stop" command: the trainer saves a checkpoint and ends the run
        self._status: dict[str, Any] = {"state": "acting"}
        self.pub_addr = pub_addr
        self.control_addr = control_addr
        self.heartbeat_s = heartbeat_s
        self.dropped = 0  # messages a full send queue refused
        self._demos = DemonstrationWriter(demos_path) if demos_path else None
        self._closed = False
        self._paused = False
        self._credits = 0  # decision rounds a "step" let through while paused
        self._overrides: dict[int, int] = {}
        self._pending: list[dict[str, Any]] | None = None
        self._pending_sent = False
        self._waiting = False  # the trainer is blocked in wait_while_paused
        self._num_envs = 0
        self._decisions = 0
        self._last_error = ""
        self._seq = 0  # bumped by every command: lets a client order heartbeats and replies
        self._episodes: deque[list[Any]] = deque(maxlen=history)
        self._last_decision: dict[int, bytes] = {}
        self._last_stats: bytes | None = None
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()  # the PUB socket is shared by the trainer and the service thread
        self._stop = threading.Event()
        self._ctx: zmq.Context | None = None
        self._pub: zmq.Socket | None = None
        self._ctl: zmq.Socket | None = None
        self._thread: threading.Thread | None = None
        self._warned = False
        if pub_addr is None and control_addr is None:
            return
        self._ctx = zmq.Context()
        try:
            if pub_addr is not None:
                self._pub = self._ctx.socket(zmq.PUB)
                self._pub.setsockopt(zmq.SNDHWM, sndhwm)
                self._pub.setsockopt(zmq.LINGER, 0)
                self._bind(self._pub, pub_addr, "telemetry")
            if control_addr is not None:
                self._ctl = self._ctx.socket(zmq.ROUTER)
                self._ctl.setsockopt(zmq.LINGER, 0)
                self._ctl.setsockopt(zmq.MAXMSGSIZE, wire.MAX_REQUEST_BYTES)
                self._bind(self._ctl, control_addr, "control")
        except Exception:
            self._close_sockets()
            raise
        self._thread = threading.Thread(target=self._serve, name="telemetry-control", daemon=True)
        self._thread.start()

    @staticmethod
    def _bind(sock: zmq.Socket, addr: str, what: str) -> None:
        try:
            sock.bind(addr)
        except zmq.ZMQError as e:
            raise OSError(f"cannot bind the {what} socket to {addr}: {e}") from e

    # ------------------------------------------------------------------ trainer side

    @property
    def paused(self) -> bool:
        return self._paused

    def _send(self, topic: bytes, data: bytes) -> None:
        with self._send_lock:
            try:
                self._pub.send_multipart((topic, data), zmq.NOBLOCK)  # type: ignore[union-attr]
            except zmq.Again:
                self.dropped += 1
            except zmq.ZMQError as e:  # closed under us, or the like: never break training
                self.dropped += 1
                self._warn(f"telemetry send failed: {e}")

    def _pack(self, msg: dict[str, Any]) -> bytes | None:
        try:
            return wire.pack(msg)
        except Exception as e:  # noqa: BLE001 - a bad field must not stop training; say it once
            self._warn(f"telemetry message not packable ({e}); dropped")
            self.dropped += 1
            return None

    def _warn(self, text: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(text, RuntimeWarning, stacklevel=3)

    def publish_decision(self, msg: dict[str, Any]) -> None:
        """One decision: env, step, episode_step, prompt, observation, skills, probs, value, action, action_text,
        overridden, reward, greedy (see ``agent_runtime.sinks``)."""
        if self._pub is None:
            return
        data = self._pack(msg)
        if data is None:
            return
        env = msg.get("env", 0)
        if isinstance(env, int):
            self._last_decision[env] = data
            if env >= self._num_envs:
                self._num_envs = env + 1
        step = msg.get("step")
        self._decisions = step if isinstance(step, int) else self._decisions + 1
        self._send(wire.TOPIC_DECISION, data)

    def publish_stats(self, msg: dict[str, Any]) -> None:
        """Training statistics of one update: update, decisions, losses, kl, entropy, lr, returns, success."""
        if self._pub is None:
            return
        data = self._pack(msg)
        if data is not None:
            self._last_stats = data
            self._send(wire.TOPIC_STATS, data)

    def publish_episode(self, msg: dict[str, Any]) -> None:
        """One finished episode: env, return, length, success, decisions."""
        if self._pub is None:
            return
        data = self._pack(msg)
        if data is not None:
            self._episodes.append([msg.get("decisions", self._decisions), msg.get("return"), msg.get("success")])
            self._send(wire.TOPIC_EPISODE, data)

    def publish_frame(self, msg: dict[str, Any]) -> None:
        """A picture of an environment now: env, w, h, rgb (``w*h*3`` bytes)."""
        if self._pub is None:
            return
        data = self._pack(msg)
        if data is not None:
            self._send(wire.TOPIC_FRAME, data)

    def publish_status(self, state: str, **fields: Any) -> None:
        """What the runtime is doing, carried on the heartbeat and the replies' state as ``status``.

        ``publish_status("updating", done=3, total=8)`` while PPO runs (a TUI shows "updating 3/8"
        instead of looking frozen), ``publish_status("acting")`` when decisions resume. A change is
        published at once (a heartbeat), the same status again costs nothing.
        """
        status = {"state": str(state), **fields}
        if status == self._status:
            return
        with self._cond:
            self._status = status
            if self._pub is not None:
                data = self._pack(self.state())
                if data is not None:
                    self._send(wire.TOPIC_HEARTBEAT, data)

    def set_pending(self, observations: list[dict[str, Any]] | None) -> None:
        """The observations of the coming round, one map per env (``observation``, ``skills``, and the
        policy's ``probs`` and ``value`` for them).

        An entry may carry the policy's scores of that observation, ``probs`` (one per skill) and
        ``value``: a paused TUI then shows them, so that an override is an informed choice.

        Stored by reference (no cost while running); published only while the trainer
        waits in ``wait_while_paused``, so a person can pick an override among the
        skills that are valid next (and an out-of-range override is refused at once).
        """
        self._pending = observations
        self._pending_sent = False

    def poll(self) -> None:
        """Kept for the loop's shape: commands are answered on the service thread as they arrive."""
        return

    def wait_while_paused(self) -> None:
        """Return at once unless paused; while paused block until resume, or let one round through per step."""
        if not self._paused:
            return
        with self._cond:
            self._waiting = True  # the pending observations are exactly what comes next only now
            try:
                while self._paused and not self._closed and not self.stop_requested:
                    if self._credits > 0:
                        self._credits -= 1
                        return
                    if not self._pending_sent:
                        self._publish_pending()
                    self._cond.wait(0.5)
            finally:
                self._waiting = False

    def take_override(self, env: int, num_skills: int) -> int | None:
        """The pending override for ``env``'s next action (consumed), or None.

        An override out of range for the ``num_skills`` valid now is dropped and
        reported in the runtime state (``last_error``).
        """
        if not self._overrides:
            return None
        with self._cond:
            skill = self._overrides.pop(env, None)
            if skill is None:
                return None
            if not 0 <= skill < num_skills:
                self._seq += 1
                self._last_error = (
                    f"override for env {env} dropped: skill {skill} out of range ({num_skills} valid skills)"
                )
                return None
            return skill

    def record_override(self, record: dict[str, Any]) -> None:
        """Append an override to the demonstrations file (when ``demos_path`` was given)."""
        if self._demos is not None:
            record = dict(record)
            record.setdefault("time", time.time())
            self._demos.write(record)

    def close(self) -> None:
        """Stop the service thread and close the sockets and the demonstrations file (idempotent)."""
        if self._closed:
            return
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_sockets()
        if self._demos is not None:
            self._demos.close()

    def __enter__(self) -> Telemetry:  # noqa: PYI034 - Python 3.10: no typing.Self
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: nothing left to report to
            self.close()

    def _close_sockets(self) -> None:
        with self._send_lock:
            for sock in (self._pub, self._ctl):
                if sock is not None:
                    sock.close(0)
            self._pub = self._ctl = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    # ------------------------------------------------------------------ service thread

    def state(self) -> dict[str, Any]:
        """The runtime's control state as sent in replies and heartbeats."""
        return {
            "version": wire.PROTOCOL_VERSION,
            "seq": self._seq,
            "pid": os.getpid(),
            "paused": self._paused,
            "greedy": self.greedy,
            "save_requested": self.save_requested,
            "stop_requested": self.stop_requested,
            "status": self._status,
            "decisions": self._decisions,
            "num_envs": self._num_envs,
            "overrides": [[e, s] for e, s in sorted(self._overrides.items())],
            "dropped": self.dropped,
            "last_error": self._last_error,
            "telemetry": self.pub_addr,
            "control": self.control_addr,
        }

    def _publish_pending(self) -> None:
        pending = self._pending
        if self._pub is None or pending is None:
            return
        for env, obs in enumerate(pending):
            data = self._pack({"env": env, "step": self._decisions, **obs})
            if data is not None:
                self._send(wire.TOPIC_PENDING, data)
        self._pending_sent = True

    def _serve(self) -> None:
        next_beat = 0.0
        poller = zmq.Poller()
        if self._ctl is not None:
            poller.register(self._ctl, zmq.POLLIN)
        while not self._stop.is_set():
            try:
                if self._ctl is not None:
                    if poller.poll(50):
                        self._drain_control()
                else:
                    self._stop.wait(0.05)
                now = time.monotonic()
                if self._pub is not None and now >= next_beat:
                    next_beat = now + self.heartbeat_s
                    with self._cond:
                        state = self.state()
                        self._send(wire.TOPIC_HEARTBEAT, wire.pack(state))
                        if self._waiting:  # not while a round or an update is still running
                            self._publish_pending()
            except zmq.ZMQError:
                if self._stop.is_set():
                    return
                time.sleep(0.05)

    def _drain_control(self) -> None:
        while True:
            try:
                frames = self._ctl.recv_multipart(zmq.NOBLOCK)  # type: ignore[union-attr]
            except zmq.Again:
                return
            # From a REQ client: [identity, b"", request]; anything else gets no reply it could read.
            if len(frames) != 3 or frames[1] != b"":
                continue
            try:
                req = wire.unpack(frames[2])
            except Exception as e:  # noqa: BLE001 - any undecodable frame gets an error reply
                reply = wire.reply_error(f"malformed request (not msgpack): {e}", self.state())
            else:
                reply = self._handle(req)
            try:
                self._ctl.send_multipart([frames[0], b"", wire.pack(reply)], zmq.NOBLOCK)  # type: ignore[union-attr]
            except zmq.ZMQError:
                pass  # the client went away; nothing to do

    def _handle(self, req: Any) -> dict[str, Any]:
        try:
            cmd = wire.validate_command(req)
        except wire.CommandError as e:
            return wire.reply_error(str(e), self.state())
        name = cmd["cmd"]
        with self._cond:
            if name != "status":
                self._seq += 1
            if name == "pause":
                self._paused = True
            elif name == "resume":
                self._paused = False
                self._credits = 0
            elif name == "step":
                self._paused = True
                self._credits += 1
                self._pending_sent = False
            elif name == "mode":
                self.greedy = cmd["greedy"]
            elif name == "save":
                self.save_requested = True
            elif name == "stop":
                self.stop_requested = True  # also releases a paused trainer (wait_while_paused returns)
            elif name == "override":
                error = self._check_override(cmd["env"], cmd["skill"])
                if error:
                    return wire.reply_error(error, self.state())
                self._overrides[cmd["env"]] = cmd["skill"]
            self._cond.notify_all()
            state = self.state()
        if name == "status":
            return wire.reply_ok(state, **self._history())
        return wire.reply_ok(state)

    def _check_override(self, env: int, skill: int) -> str:
        if self._num_envs and env >= self._num_envs:
            return f"override env {env} out of range: the runtime has {self._num_envs} environments"
        pending = self._pending if self._waiting else None  # a running round's observations may be stale
        if pending is not None and env < len(pending):
            n = len(pending[env].get("skills", ()))
            if skill >= n:
                return f"override skill {skill} out of range: env {env} has {n} valid skills now"
        return ""

    def _history(self) -> dict[str, Any]:
        """What a freshly attached TUI needs to fill its panels and learning curve."""
        last = {}
        for env, data in list(self._last_decision.items()):
            last[str(env)] = wire.unpack(data)
        return {
            "episodes": list(self._episodes),
            "last_decisions": last,
            "last_stats": wire.unpack(self._last_stats) if self._last_stats else None,
        }
