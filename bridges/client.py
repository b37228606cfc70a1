"""The runtime side of the bridge: N remote environments as one VecEnv.

One DEALER socket per server; every request carries an id and an env index and
all requests of a batch are in flight together, replies are taken as they come.
A server that dies (its process exits), hangs (no reply within ``timeout``),
answers a request with a frame that breaks the protocol, or says it lost an
episode (``not_ready``) is restarted when we spawned it (``process`` given:
failed starts are retried with backoff, ``max_restarts`` in a row at most), or
reconnected to when we attached to it (until ``reconnect_timeout``). The partial
episodes it held come back as observations with ``dropped=True``,
``truncated=True`` and ``reset_obs`` = the first observation after the restart.
A frame that cannot be read and answers no request is logged and ignored.

Needs only pyzmq, msgpack and the standard library.
"""

from __future__ import annotations

import itertools
import logging
import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import zmq

from bridges import protocol as P
from bridges.spec import Observation, SkillError

log = logging.getLogger("bridges")


class BridgeError(RuntimeError):
    """The bridge cannot go on: a server refused us, or died and cannot be restarted."""


class RestartableServer(Protocol):
    """What the client needs from a server process it may restart (see bridges.launch)."""

    address: str

    def poll(self) -> int | None: ...

    def restart(self) -> str: ...


_ids = itertools.count(1)


def _clip(text: str, limit: int = 300) -> str:
    """A server's text (error code or message) as it goes into our exceptions and logs: bounded."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _new_socket(ctx: zmq.Context, address: str, curve_dir: str | None) -> zmq.Socket:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, P.HARD_FRAME_BYTES)
    # transport-level heartbeats: a dead TCP peer is dropped and reconnected by zmq itself
    sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
    if curve_dir is not None:
        from bridges.keys import load_client_keys

        public, secret, server_public = load_client_keys(curve_dir)
        sock.curve_publickey = public
        sock.curve_secretkey = secret
        sock.curve_serverkey = server_public
    sock.connect(address)
    return sock


_monitor_ids = itertools.count(1)


def _watch(ctx: zmq.Context, sock: zmq.Socket) -> zmq.Socket:
    """A PAIR socket that receives ``sock``'s disconnect events: a dropped connection loses the replies
    in flight on it (the server answers the old connection), so the client need not wait for its timeout."""
    addr = f"inproc://bridge-monitor-{id(ctx)}-{next(_monitor_ids)}"
    sock.monitor(addr, zmq.EVENT_DISCONNECTED)
    mon = ctx.socket(zmq.PAIR)
    mon.setsockopt(zmq.LINGER, 0)
    mon.connect(addr)
    return mon


def _disconnected(mon: zmq.Socket) -> bool:
    """Read every event waiting on a monitor socket; True when one was a disconnect."""
    seen = False
    while True:
        try:
            parts = mon.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return seen
        event = int.from_bytes(parts[0][:2], "little") if parts and len(parts[0]) >= 2 else 0
        seen = seen or event == zmq.EVENT_DISCONNECTED


def request(sock: zmq.Socket, msg: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one request on a DEALER socket and wait for its reply (stale replies skipped)."""
    mid = next(_ids)
    sock.send(P.encode({**msg, "id": mid}))
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not sock.poll(int(left * 1000) + 1):
            raise TimeoutError(f"no reply to {msg.get('type')!r} within {timeout:.1f}s")
        reply = P.decode_reply(sock.recv())
        if reply.get("id") == mid or (reply.get("id") is None and reply["type"] == "error"):
            return reply


def handshake(sock: zmq.Socket, address: str, timeout: float) -> dict[str, Any]:
    """``hello`` -> ``welcome``; raises BridgeError naming the address on refusal or silence."""
    try:
        reply = request(sock, {"type": "hello", "v": P.PROTOCOL_VERSION}, timeout)
    except TimeoutError:
        raise BridgeError(
            f"no handshake from bridge server {address} within {timeout:.1f}s "
            "(not running, wrong address, or CURVE keys refused)"
        ) from None
    except P.ProtocolError as e:
        raise BridgeError(f"bridge server {address} answered the handshake with a bad frame: {e}") from None
    if reply["type"] == "error":
        raise BridgeError(
            f"bridge server {address} refused the handshake: {_clip(reply['code'])}: {_clip(reply['message'])}"
        )
    if reply["type"] != "welcome":
        raise BridgeError(f"bridge server {address} answered hello with {reply['type']!r}")
    version = reply.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version != P.PROTOCOL_VERSION:
        raise BridgeError(
            f"protocol version mismatch with {address}: server speaks {P.describe(version)}, "
            f"client speaks {P.PROTOCOL_VERSION}"
        )
    return reply


@dataclass
class _Link:
    """One server as the client sees it."""

    address: str
    sock: zmq.Socket
    welcome: dict[str, Any]
    offset: int
    process: RestartableServer | None = None
    pending: dict[int, list[int]] = field(default_factory=dict)  # request id -> global env indices
    last_seen: float = 0.0
    restarts: int = 0
    monitor: zmq.Socket | None = None  # disconnect events of sock

    def close(self) -> None:
        if self.monitor is not None:
            self.sock.disable_monitor()  # before either socket closes (else the context can stall)
            self.monitor.close(0)
            self.monitor = None
        self.sock.close(0)

    @property
    def num_envs(self) -> int:
        return int(self.welcome["num_envs"])


@dataclass
class _Batch:
    kind: str  # "step" | "reset"
    envs: list[int]
    results: dict[int, Observation] = field(default_factory=dict)
    errors: dict[int, dict[str, Any]] = field(default_factory=dict)
    # envs whose server was restarted mid-step: waiting for the fresh reset
    restarting: set[int] = field(default_factory=set)


class RemoteVecEnv:
    """N environments on one or more bridge servers, as a ``bridges.spec.VecEnv``.

    servers: addresses (attach) or process handles with ``.address``, ``.poll()``,
    ``.restart()`` (spawned by us; restarted on death).
    """

    def __init__(
        self,
        servers: Sequence[str | RestartableServer],
        seeds: Sequence[int | None] | None = None,
        curve_dir: str | None = None,
        timeout: float = 10.0,
        handshake_timeout: float = 30.0,
        max_restarts: int = 3,
        restart_backoff: float = 0.5,
        reconnect_timeout: float = 60.0,
    ):
        """``max_restarts``: start attempts (spawned) or reconnections (attached) in a row, without a
        good reply in between, before BridgeError; ``restart_backoff``: seconds before the second
        attempt, doubled for each further one (at most 30 s); ``reconnect_timeout``: seconds an
        attached server may take to come back at its address."""
        if not servers:
            raise ValueError("RemoteVecEnv needs at least one server address")
        if max_restarts < 0 or restart_backoff < 0 or reconnect_timeout <= 0:
            raise ValueError(
                "max_restarts and restart_backoff must be >= 0 and reconnect_timeout > 0, got "
                f"{max_restarts}, {restart_backoff}, {reconnect_timeout}"
            )
        self.ctx = zmq.Context()
        self.curve_dir = curve_dir
        self.timeout = timeout
        self.handshake_timeout = handshake_timeout
        self.max_restarts = max_restarts
        self.restart_backoff = restart_backoff
        self.reconnect_timeout = reconnect_timeout
        self.bad_frames = 0  # frames that could not be read and answered no pending request (ignored)
        self.links: list[_Link] = []
        self._env_link: list[tuple[_Link, int]] = []
        sock = None
        try:
            for s in servers:
                process = None if isinstance(s, str) else s
                address = s if isinstance(s, str) else s.address
                sock = _new_socket(self.ctx, address, curve_dir)
                welcome = handshake(sock, address, handshake_timeout)
                link = _Link(address, sock, welcome, len(self._env_link), process, last_seen=time.monotonic())
                link.monitor = _watch(self.ctx, sock)
                self.links.append(link)
                self._env_link.extend((link, j) for j in range(link.num_envs))
        except BaseException:
            if sock is not None:
                sock.close(0)  # the one that failed its handshake is not in self.links yet
            self._close_sockets()
            self.ctx.destroy(linger=0)
            raise
        self.num_envs = len(self._env_link)
        self.bridge = self.links[0].welcome["bridge"]
        self.task = self.links[0].welcome["task"]
        self._seeds: list[int | None] = list(seeds) if seeds is not None else [None] * self.num_envs
        if len(self._seeds) != self.num_envs:
            raise ValueError(f"got {len(self._seeds)} seeds for {self.num_envs} environments")
        self._episodes = [0] * self.num_envs
        self._last: list[Observation | None] = [None] * self.num_envs
        self._batch: _Batch | None = None
        self.dropped_episodes = 0

    # ------------------------------------------------------------- public API
    def reset(self, seeds: list[int] | None = None) -> list[Observation]:
        """Reset every environment (env i gets ``seeds[i]``); returns the first observations."""
        if seeds is not None:
            if len(seeds) != self.num_envs:
                raise ValueError(f"expected {self.num_envs} seeds, got {len(seeds)}")
            self._seeds = list(seeds)
        self._episodes = [0] * self.num_envs
        return self._run(self._start("reset", range(self.num_envs)))

    def step(self, actions: Sequence[int]) -> list[Observation]:
        """One skill per environment; ended episodes are reset automatically (``reset_obs``)."""
        self.step_async(actions)
        return self.step_wait()

    def step_async(self, actions: Sequence[int]) -> None:
        """Send one step per environment and return at once (collect with ``step_wait``)."""
        if len(actions) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} actions, got {len(actions)}")
        self._start("step", range(self.num_envs), [self._check_action(i, a) for i, a in enumerate(actions)])

    def step_wait(self) -> list[Observation]:
        if self._batch is None or self._batch.kind != "step":
            raise RuntimeError("step_wait() without step_async()")
        return self._run(self._batch)

    def reset_env(self, i: int, seed: int | None = None) -> Observation:
        """Reset environment ``i`` alone (used by the gymnasium wrapper)."""
        self._seeds[i] = seed
        self._episodes[i] = 0
        return self._run(self._start("reset", [i]))[0]

    def step_env(self, i: int, action: int, autoreset: bool = False) -> Observation:
        """Step environment ``i`` alone; without autoreset an ended env must be reset by the caller."""
        batch = self._start("step", [i], [self._check_action(i, action)], autoreset=autoreset)
        return self._run(batch)[0]

    def ping(self) -> list[float]:
        """Heartbeat every server; round-trip seconds per server, NaN for one that did not answer.

        A server that does not answer is not restarted here: the next step notices and restarts it.
        """
        if self._batch is not None:
            raise RuntimeError("ping() while a step is in flight: call step_wait() first")
        out = []
        for link in self.links:
            t0 = time.perf_counter()
            try:
                reply = request(link.sock, {"type": "ping", "v": P.PROTOCOL_VERSION}, self.timeout)
            except TimeoutError:
                log.warning("bridge server %s did not answer a heartbeat within %.1fs", link.address, self.timeout)
                out.append(float("nan"))
                continue
            except P.ProtocolError as e:
                log.warning("bridge server %s answered a heartbeat with a bad frame: %s", link.address, e)
                out.append(float("nan"))
                continue
            if reply["type"] != "pong":
                raise BridgeError(f"server {link.address} answered ping with {reply}")
            link.last_seen = time.monotonic()
            out.append(time.perf_counter() - t0)
        return out

    def frames(self, i: int, record: bool = True, now: bool = False) -> list[dict[str, Any]]:
        """The frames environment ``i`` kept since the last call (``{w, h, rgb}``, one before each primitive
        step), then its picture now when ``now``; ``record`` keeps recording on (or turns it on) or off.
        BridgeError when its simulator draws none."""
        if self._batch is not None:
            raise RuntimeError("frames() while a step is in flight: call step_wait() first")
        link, j = self._env_link[i]
        try:
            msg = {"type": "frames", "v": P.PROTOCOL_VERSION, "env": j, "record": record, "now": now}
            reply = request(link.sock, msg, self.timeout)
        except (TimeoutError, P.ProtocolError) as e:
            raise BridgeError(f"bridge server {link.address}: no frames ({e})") from None
        if reply["type"] != "frames":
            raise BridgeError(f"bridge server {link.address}: no frames: {_clip(str(reply.get('message', reply)))}")
        return list(reply["frames"])

    def close(self) -> None:
        """Close the sockets (servers we spawned are stopped by their owner, bridges.launch)."""
        if self.ctx.closed:
            return
        self._close_sockets()
        self.ctx.destroy(linger=0)

    def __enter__(self) -> RemoteVecEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- internals
    def _close_sockets(self) -> None:
        for link in self.links:
            link.close()

    def _check_action(self, i: int, a: Any) -> int:
        try:
            a = operator.index(a)
        except TypeError:
            raise SkillError(
                f"environment {i}: action must be an int skill index, got {type(a).__name__} {a!r}"
            ) from None
        last = self._last[i]
        if last is None:
            raise RuntimeError(f"environment {i} must be reset before it is stepped")
        if not 0 <= a < len(last.skills):
            raise SkillError(f"environment {i}: skill index {a} out of range: {len(last.skills)} skills are valid")
        return a

    def _send(self, link: _Link, i: int, msg: dict[str, Any]) -> None:
        mid = next(_ids)
        link.sock.send(P.encode({**msg, "id": mid, "env": self._env_link[i][1]}))
        link.pending[mid] = [i]

    def _send_steps(self, link: _Link, envs: list[int], actions: list[int], autoreset: bool) -> None:
        """All of one server's steps in one frame (fewer messages, fewer wake-ups)."""
        if len(envs) == 1:
            self._send(
                link, envs[0], {"type": "step", "v": P.PROTOCOL_VERSION, "action": actions[0], "autoreset": autoreset}
            )
            return
        mid = next(_ids)
        link.sock.send(
            P.encode(
                {
                    "type": "steps",
                    "v": P.PROTOCOL_VERSION,
                    "id": mid,
                    "autoreset": autoreset,
                    "envs": [self._env_link[i][1] for i in envs],
                    "actions": actions,
                }
            )
        )
        link.pending[mid] = list(envs)

    def _send_reset(self, i: int) -> None:
        link = self._env_link[i][0]
        self._send(
            link, i, {"type": "reset", "v": P.PROTOCOL_VERSION, "seed": self._seeds[i], "episode": self._episodes[i]}
        )

    def _start(
        self, kind: str, envs: Sequence[int], actions: Sequence[int] | None = None, autoreset: bool = True
    ) -> _Batch:
        if self._batch is not None:
            raise RuntimeError("a step is already in flight: call step_wait() first")
        batch = _Batch(kind, list(envs))
        now = time.monotonic()
        for link in self.links:
            link.last_seen = now  # the hang clock starts when the server gets work
            if link.monitor is not None:
                _disconnected(link.monitor)  # a drop between two batches lost nothing: forget it
        if kind == "reset":
            for i in batch.envs:
                self._send_reset(i)
        else:
            per_link: dict[int, tuple[_Link, list[int], list[int]]] = {}
            if actions is None:
                raise ValueError("a step needs actions")
            for n, i in enumerate(batch.envs):
                link = self._env_link[i][0]
                entry = per_link.setdefault(id(link), (link, [], []))
                entry[1].append(i)
                entry[2].append(actions[n])
            for link, envs_, acts in per_link.values():
                self._send_steps(link, envs_, acts, autoreset)
        self._batch = batch
        return batch

    def _run(self, batch: _Batch) -> list[Observation]:
        try:
            self._collect(batch)
        finally:
            self._batch = None
            for link in self.links:
                link.pending.clear()
        if batch.errors:
            self._raise_errors(batch)
        out = [batch.results[i] for i in batch.envs]
        for i, obs in zip(batch.envs, out):
            self._last[i] = obs.reset_obs if (obs.ended and obs.reset_obs is not None) else obs
        return out

    def _raise_errors(self, batch: _Batch) -> None:
        lines = [f"env {i}: {_clip(e['code'])}: {_clip(e['message'])}" for i, e in sorted(batch.errors.items())]
        text = f"bridge {batch.kind} failed for {len(lines)} environment(s): " + "; ".join(lines)
        if all(e["code"] == P.E_SKILL for e in batch.errors.values()):
            raise SkillError(text)
        raise BridgeError(text)

    def _collect(self, batch: _Batch) -> None:
        poller = zmq.Poller()

        def watch(link: _Link, on: bool) -> None:
            for sock in (link.sock, link.monitor):
                if sock is not None and not sock.closed:  # closed when a revival failed: the error ends the batch
                    if on:
                        poller.register(sock, zmq.POLLIN)
                    else:
                        poller.unregister(sock)

        for link in self.links:
            watch(link, True)

        def revive(link: _Link, why: str) -> None:
            watch(link, False)
            try:
                self._dead(link, why, batch)
            finally:
                watch(link, True)

        last_check = time.monotonic()
        while any(link.pending for link in self.links):
            events = dict(poller.poll(50))
            for link in self.links:
                if events.get(link.sock):
                    why = self._drain(link, batch)
                    if why is not None:
                        revive(link, why)
                elif link.monitor is not None and events.get(link.monitor) and _disconnected(link.monitor):
                    why = self._drain(link, batch)  # what arrived before the drop still counts
                    if why is None and link.pending:
                        why = "its connection dropped (the replies in flight are lost)"
                    if why is not None:
                        revive(link, why)
            now = time.monotonic()
            if now - last_check >= 0.05 or not events:
                last_check = now
                for link in self.links:
                    if not link.pending:
                        continue
                    why = None
                    if link.process is not None and link.process.poll() is not None:
                        why = f"its process exited with code {link.process.poll()}"
                    elif now - link.last_seen > self.timeout:
                        why = f"no reply for {now - link.last_seen:.1f}s (timeout {self.timeout:.1f}s)"
                    if why is not None:
                        revive(link, why)

    def _drain(self, link: _Link, batch: _Batch) -> str | None:
        """Handle every frame waiting on ``link``; returns why the server must be restarted, or None.

        A frame that breaks the protocol while answering a pending request means the server is broken
        (its reply is lost): restart or reconnect. One that answers nothing we wait for is ignored."""
        while True:
            try:
                frame = link.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return None
            try:
                reply = P.decode_reply(frame)
            except P.ProtocolError as e:
                if e.msg_id is not None and e.msg_id in link.pending:
                    return f"it answered request {e.msg_id} with a bad frame ({e})"
                self._ignored(link, str(e))
                continue
            mid = reply.get("id")
            envs = link.pending.get(mid) if isinstance(mid, int) else None
            if envs is None or not isinstance(mid, int):
                if reply["type"] == "error" and mid is None:
                    log.warning(
                        "server %s reported: %s: %s", link.address, _clip(reply["code"]), _clip(reply["message"])
                    )
                    link.last_seen = time.monotonic()
                elif reply["type"] == "pong":
                    link.last_seen = time.monotonic()  # a heartbeat during a long batch
                continue  # a stale reply from before a timeout or restart
            expected = "obs_batch" if len(envs) > 1 else "obs"
            if reply["type"] not in ("error", expected):
                return f"it answered request {mid} with {reply['type']!r} instead of {expected!r}"
            del link.pending[mid]
            link.last_seen = time.monotonic()
            link.restarts = 0
            if reply["type"] != "obs_batch":
                for i in envs:
                    self._on_reply(link, i, reply, batch)
                continue
            results = {r["env"]: r for r in reply["results"]}
            for i in envs:
                r = results.get(self._env_link[i][1])
                if r is None:
                    one = {"type": "error", "code": P.E_BAD_FIELD, "message": "no result for this env in obs_batch"}
                elif "error" in r:
                    one = {"type": "error", **r["error"]}
                else:
                    one = {"type": "obs", "obs": r["obs"]}
                self._on_reply(link, i, one, batch)

    def _ignored(self, link: _Link, why: str) -> None:
        self.bad_frames += 1
        if self.bad_frames <= 5 or self.bad_frames % 1000 == 0:
            log.warning("bad frame from %s ignored (%d so far): %s", link.address, self.bad_frames, why[:300])

    def _on_reply(self, link: _Link, i: int, reply: dict[str, Any], batch: _Batch) -> None:
        if reply["type"] == "error":
            last = self._last[i]
            if (
                reply["code"] == P.E_NOT_READY
                and batch.kind == "step"
                and i not in batch.restarting
                and last is not None
                and not last.ended
            ):
                # we had reset it and its episode was running: the server lost it (an attached server
                # that restarted between two steps). Same as a restart: drop the episode, reset the env.
                log.warning(
                    "bridge: environment %d on %s has no episode any more (server restarted?); "
                    "its episode is dropped and it is reset",
                    i,
                    link.address,
                )
                self._drop(i, batch, reason=f"server lost the episode: {_clip(reply['message'])}")
                self._send_reset(i)
                return
            if reply["code"] == P.E_ENV_FAILED and batch.kind == "step" and i not in batch.restarting:
                log.warning(
                    "bridge: environment %d on %s failed (%s); its episode is dropped and it is reset",
                    i,
                    link.address,
                    _clip(reply["message"]),
                )
                self._drop(i, batch, reason=_clip(reply["message"]))
                self._send_reset(i)
                return
            batch.errors[i] = reply
            return
        if reply["type"] != "obs":
            batch.errors[i] = {"code": P.E_BAD_FIELD, "message": f"unexpected reply type {reply['type']!r}"}
            return
        obs = Observation.from_wire(reply["obs"])
        if i in batch.restarting:
            batch.restarting.discard(i)
            batch.results[i].reset_obs = obs
            return
        if batch.kind == "step" and obs.ended and obs.reset_obs is not None:
            self._episodes[i] += 1
        batch.results[i] = obs

    def _drop(self, i: int, batch: _Batch, reason: str) -> None:
        """Replace env i's result by a dropped observation; the fresh reset fills reset_obs."""
        last = self._last[i]
        self._episodes[i] += 1
        self.dropped_episodes += 1
        batch.results[i] = Observation(
            text=last.text if last else "",
            skills=list(last.skills) if last else [],
            goal=last.goal if last else "",
            truncated=True,
            info={"dropped": reason},
            dropped=True,
        )
        batch.restarting.add(i)

    def _backoff(self, attempt: int) -> float:
        """Seconds to wait before start attempt ``attempt`` (1-based) of a streak: 0, b, 2b, 4b, ... <= 30."""
        return 0.0 if attempt <= 1 else min(30.0, self.restart_backoff * 2 ** (attempt - 2))

    def _revive(self, link: _Link, why: str) -> tuple[str, zmq.Socket, dict[str, Any]]:
        """A fresh, handshaken socket to ``link``'s server: restart it (spawned) or reconnect (attached).

        Failed starts count: each attempt adds to ``link.restarts`` (reset by the next good reply) and
        waits its backoff; the attempt past ``max_restarts`` raises BridgeError."""
        last = why
        while True:
            link.restarts += 1
            if link.restarts > self.max_restarts:
                what = "restarts" if link.process is not None else "reconnections"
                raise BridgeError(
                    f"bridge server {link.address} failed {link.restarts - 1} {what} in a row "
                    f"(max_restarts={self.max_restarts}); giving up. Last: {last}"
                )
            pause = self._backoff(link.restarts)
            if pause:
                log.warning(
                    "bridge server %s: attempt %d of %d in %.1fs", link.address, link.restarts, self.max_restarts, pause
                )
                time.sleep(pause)
            if link.process is None:
                return self._reconnect(link, last)  # its own window (reconnect_timeout); past it, BridgeError
            try:
                return self._restart(link)
            except (BridgeError, OSError) as e:
                last = str(e)
                log.warning(
                    "bridge server %s: attempt %d of %d failed: %s",
                    link.address,
                    link.restarts,
                    self.max_restarts,
                    last,
                )

    def _restart(self, link: _Link) -> tuple[str, zmq.Socket, dict[str, Any]]:
        assert link.process is not None
        address = link.process.restart()
        sock = _new_socket(self.ctx, address, self.curve_dir)
        try:
            return address, sock, handshake(sock, address, self.handshake_timeout)
        except BaseException:
            sock.close(0)
            raise

    def _reconnect(self, link: _Link, why: str) -> tuple[str, zmq.Socket, dict[str, Any]]:
        """Wait up to ``reconnect_timeout`` for an attached server to answer a handshake at its address."""
        log.warning(
            "attached bridge server %s is not answering (%s); waiting up to %.0fs for it to come back",
            link.address,
            why,
            self.reconnect_timeout,
        )
        deadline = time.monotonic() + self.reconnect_timeout
        last = why
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BridgeError(
                    f"attached bridge server {link.address} did not come back within "
                    f"{self.reconnect_timeout:.0f}s (reconnect_timeout); last: {last}"
                )
            sock = _new_socket(self.ctx, link.address, self.curve_dir)
            try:
                # zmq keeps reconnecting underneath: the hello waits in the queue until a server is there
                return link.address, sock, handshake(sock, link.address, min(left, 5.0))
            except BridgeError as e:
                sock.close(0)
                last = str(e)
                time.sleep(min(max(self.restart_backoff, 0.05), max(0.0, deadline - time.monotonic())))
            except BaseException:
                sock.close(0)
                raise

    def _dead(self, link: _Link, why: str, batch: _Batch) -> None:
        log.warning(
            "bridge server %s is dead (%s); %s it and dropping its partial episodes",
            link.address,
            why,
            "restarting" if link.process is not None else "reconnecting to",
        )
        waiting = sorted({i for envs in link.pending.values() for i in envs})
        link.pending.clear()
        link.close()
        address, sock, welcome = self._revive(link, why)
        link.address = address
        link.sock = sock
        link.monitor = _watch(self.ctx, sock)
        if welcome["num_envs"] != link.num_envs:
            raise BridgeError(f"restarted server {address} hosts {welcome['num_envs']} envs, expected {link.num_envs}")
        link.welcome = welcome
        link.last_seen = time.monotonic()
        envs = range(link.offset, link.offset + link.num_envs)
        for i in envs:
            if i not in batch.envs:  # (per-env calls only) its episode is gone too; it must be reset
                if self._last[i] is not None:
                    log.warning("environment %d lost its episode in the restart; reset it before stepping", i)
                    self._last[i] = None
                    self.dropped_episodes += 1
                continue
            if batch.kind == "reset":
                if i in waiting or i in batch.results:
                    batch.results.pop(i, None)
                    self._send_reset(i)
                continue
            done = batch.results.get(i)
            if done is not None and (done.dropped or done.ended):
                # already dropped (its reset was lost), or the episode finished before the crash:
                # keep it, only its next start is redone
                batch.restarting.add(i)
            else:
                self._drop(i, batch, reason=f"server restarted: {why}")
            self._send_reset(i)
        log.warning(
            "bridge server restarted at %s; %d partial episode(s) dropped",
            address,
            sum(1 for i in envs if i in batch.results and batch.results[i].dropped),
        )
