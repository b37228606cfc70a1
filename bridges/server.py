"""A simulator server: N environment instances behind one ZeroMQ ROUTER socket.

Run it as ``python -m bridges.server --bridge toy --bind tcp://127.0.0.1:5555``
(or ``python -m bridges.NAME --bind ...``, or ``agent-runtime serve ...``).
Needs only the standard library, pyzmq, msgpack and the simulator, so it runs
in a virtualenv without torch.  Once bound it prints one line to stdout,
``BRIDGE-READY <endpoint> pid=<pid>``; everything else written to stdout, before
or after (simulators print), goes to stderr, so a pipe nobody reads never fills.

Requests are served one at a time in arrival order; run several servers to step
environments in parallel (``bridges.launch`` does).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import signal
import sys
import time
import traceback
from typing import TYPE_CHECKING, Any

import zmq

if TYPE_CHECKING:
    from zmq.auth.thread import ThreadAuthenticator

from bridges import protocol as P
from bridges.frames import FrameSource
from bridges.spec import Observation, SkillEnv, SkillError

log = logging.getLogger("bridges")

READY_PREFIX = "BRIDGE-READY "
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def parse_option(text: str) -> tuple[str, Any]:
    """``key=value`` -> (key, value); the value is parsed as JSON when it can be."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--option wants key=value, got {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def normalize_endpoint(bind: str) -> str:
    """Accept ``tcp://h:p``, ``ipc://path``, ``inproc://x`` or a bare ``host:port``."""
    if "://" in bind:
        return bind
    if ":" in bind:
        return "tcp://" + bind
    raise ValueError(f"bad bind address {bind!r}: use tcp://HOST:PORT, ipc:///path or HOST:PORT")


def is_public_tcp(endpoint: str) -> bool:
    """True for a tcp endpoint that is reachable from other machines."""
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://") :].rsplit(":", 1)[0]
    return host not in LOOPBACK_HOSTS


def set_parent_death_signal(parent_pid: int | None) -> None:
    """Die with the parent: PR_SET_PDEATHSIG(SIGKILL) on Linux, plus a check for a parent already gone."""
    if parent_pid is None:
        return
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - exotic libc
            log.warning("could not set PR_SET_PDEATHSIG; relying on polling the parent pid")
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)


def _stdout_to_stderr() -> int | None:
    """Send fd 1 and sys.stdout to stderr; return a dup of the real stdout for the ready line."""
    sys.stdout.flush()
    try:
        ready_fd = os.dup(1)
        os.dup2(sys.stderr.fileno(), 1)
    except (OSError, ValueError):  # pragma: no cover - no real fds (embedded)
        return None
    sys.stdout = sys.stderr
    return ready_fd


def _announce(ready_fd: int | None, line: str) -> None:
    if ready_fd is None:  # pragma: no cover
        print(line, flush=True)
        return
    os.write(ready_fd, (line + "\n").encode())
    os.close(ready_fd)


def _request_id(frame: bytes) -> int | None:
    try:
        return P.msg_id(P.unpack(frame))
    except P.ProtocolError:
        return None


def _clip(e: BaseException, limit: int = 500) -> str:
    """str(e), clipped: a simulator's exception text goes into replies and logs."""
    try:
        text = str(e)
    except Exception:  # noqa: BLE001 - a broken __str__
        text = f"<{type(e).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


class BridgeServer:
    """Hosts environments and answers protocol requests on one ROUTER socket."""

    def __init__(
        self,
        bridge: str,
        bind: str = "tcp://127.0.0.1:5555",
        num_envs: int = 1,
        task: str | None = None,
        seed: int | None = None,
        options: dict[str, Any] | None = None,
        curve_dir: str | None = None,
        insecure: bool = False,
        parent_pid: int | None = None,
        max_frame: int = P.MAX_FRAME_BYTES,
        envs: list[SkillEnv] | None = None,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.bridge = bridge
        self.endpoint = normalize_endpoint(bind)
        self.max_frame = max_frame
        self.parent_pid = parent_pid
        if is_public_tcp(self.endpoint) and curve_dir is None:
            if not insecure:
                raise ValueError(
                    f"refusing to bind {self.endpoint} (reachable from other machines) without CURVE keys: "
                    "pass --curve-dir DIR (make keys with `python -m bridges.keys make DIR`) "
                    "or --insecure if this network is trusted"
                )
            log.warning(
                "binding %s without authentication (--insecure): anyone who can reach it can drive it", self.endpoint
            )
        if envs is None:
            envs = self._make_envs(bridge, task, seed, options or {}, num_envs)
        self.envs = envs
        self.task = task if task is not None else getattr(envs[0], "task", "")
        self._seeds: list[int | None] = [None] * len(envs)
        self._episodes = [0] * len(envs)
        self._ready = [False] * len(envs)
        self.ctx = zmq.Context()
        self._auth: ThreadAuthenticator | None = None
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, P.HARD_FRAME_BYTES)
        self.sock.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a reconnecting client with the same identity takes over
        if curve_dir is not None:
            self._setup_curve(curve_dir)
        self.sock.bind(self.endpoint)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.requests_served = 0
        self._envelope: list[bytes] | None = None  # of the request being served
        self.heartbeat_s = 1.0

    @staticmethod
    def _make_envs(bridge: str, task: str | None, seed: int | None, options: dict[str, Any], n: int) -> list[SkillEnv]:
        from bridges.registry import env_factory

        make_env = env_factory(bridge)
        kw = dict(options)
        if task is not None:
            kw["task"] = task
        return [make_env(seed=None if seed is None else seed + i, **kw) for i in range(n)]

    def _setup_curve(self, curve_dir: str) -> None:
        from zmq.auth.thread import ThreadAuthenticator

        from bridges.keys import load_server_keys

        public, secret, authorized = load_server_keys(curve_dir)
        auth = self._auth = ThreadAuthenticator(self.ctx)
        auth.start()
        auth.configure_curve(domain="*", location=authorized)
        self.sock.curve_secretkey = secret
        self.sock.curve_publickey = public
        self.sock.curve_server = True
        log.info("CURVE on: clients whose public keys are in %s may connect", authorized)

    # ------------------------------------------------------------------ serving
    def handle(self, frame: bytes) -> dict[str, Any]:
        """One request frame -> one reply map (never raises for bad input)."""
        try:
            msg = P.decode_request(frame, self.max_frame)
        except P.ProtocolError as e:
            log.info("bad request: %s", e)
            return P.error_msg(e.code, e.message, e.msg_id)
        mid = msg.get("id")
        mtype = msg["type"]
        if mtype == "ping":
            return {"type": "pong", "v": P.PROTOCOL_VERSION, "id": mid, "pid": os.getpid(), "time": time.time()}
        if mtype == "hello":
            return self._welcome(mid)
        if mtype == "close":
            return {"type": "closed", "v": P.PROTOCOL_VERSION, "id": mid}
        if mtype == "steps":
            return self._steps(mid, msg["envs"], msg["actions"], msg.get("autoreset", True))
        env_i = msg["env"]
        if not 0 <= env_i < len(self.envs):
            return P.error_msg(
                P.E_ENV_INDEX, f"environment {env_i} does not exist: this server hosts {len(self.envs)}", mid, env_i
            )
        if mtype == "reset":
            return self._reset(mid, env_i, msg.get("seed"), msg.get("episode", 0))
        if mtype == "frames":
            return self._frames(mid, env_i, msg.get("record", True), msg.get("now", False))
        return self._step(mid, env_i, msg["action"], msg.get("autoreset", True))

    def _welcome(self, mid: int | None) -> dict[str, Any]:
        return {
            "type": "welcome",
            "v": P.PROTOCOL_VERSION,
            "id": mid,
            "version": P.PROTOCOL_VERSION,
            "bridge": self.bridge,
            "task": str(self.task),
            "num_envs": len(self.envs),
            "pid": os.getpid(),
            "schema": {"observation": P.OBS_SCHEMA, "action": "int index into obs.skills"},
        }

    def _seed_for(self, i: int) -> int | None:
        base = self._seeds[i]
        return None if base is None else base + P.EPISODE_STRIDE * self._episodes[i]

    def _obs_reply(self, mid: int | None, env_i: int, obs: Observation) -> dict[str, Any]:
        return {"type": "obs", "v": P.PROTOCOL_VERSION, "id": mid, "env": env_i, "obs": obs.to_wire()}

    def _failed(self, mid: int | None, env_i: int, what: str, e: BaseException) -> dict[str, Any]:
        self._ready[env_i] = False
        log.error("environment %d failed in %s: %s\n%s", env_i, what, _clip(e), traceback.format_exc())
        return P.error_msg(
            P.E_ENV_FAILED, f"environment {env_i} raised in {what}: {type(e).__name__}: {_clip(e)}", mid, env_i
        )

    def _reset(self, mid: int | None, env_i: int, seed: int | None, episode: int) -> dict[str, Any]:
        self._seeds[env_i] = seed
        self._episodes[env_i] = episode
        try:
            obs = self.envs[env_i].reset(self._seed_for(env_i))
        except Exception as e:  # noqa: BLE001 - a simulator may raise anything
            return self._failed(mid, env_i, "reset", e)
        self._ready[env_i] = True
        return self._obs_reply(mid, env_i, obs)

    def _step(self, mid: int | None, env_i: int, action: int, autoreset: bool) -> dict[str, Any]:
        if not self._ready[env_i]:
            return P.error_msg(P.E_NOT_READY, f"environment {env_i} must be reset before it is stepped", mid, env_i)
        env = self.envs[env_i]
        try:
            obs = env.step(action)
        except SkillError as e:
            return P.error_msg(P.E_SKILL, f"environment {env_i}: {e}", mid, env_i)
        except Exception as e:  # noqa: BLE001 - a simulator may raise anything
            return self._failed(mid, env_i, "step", e)
        if obs.ended and autoreset:
            self._episodes[env_i] += 1
            try:
                obs.reset_obs = env.reset(self._seed_for(env_i))
            except Exception as e:  # noqa: BLE001 - a simulator may raise anything
                return self._failed(mid, env_i, "reset after the episode ended", e)
        elif obs.ended:
            self._ready[env_i] = False
        return self._obs_reply(mid, env_i, obs)

    def _frames(self, mid: int | None, env_i: int, record: bool, now: bool) -> dict[str, Any]:
        """The frames environment ``env_i`` kept since the last request (and its picture now, when ``now``);
        ``record`` turns keeping on or off."""
        env = self.envs[env_i]
        if not isinstance(env, FrameSource):
            return P.error_msg(P.E_NO_FRAMES, f"environment {env_i} ({self.bridge}) does not draw frames", mid, env_i)
        frames = env.take_frames()
        env.record_frames(record)
        if now:
            try:
                frames.append(env.frame_now())
            except Exception as e:  # noqa: BLE001 - nothing to draw yet (before a reset) or a drawing bug
                return P.error_msg(P.E_NO_FRAMES, f"environment {env_i} cannot draw now: {_clip(e)}", mid, env_i)
        return {"type": "frames", "v": P.PROTOCOL_VERSION, "id": mid, "env": env_i, "frames": frames}

    def _steps(self, mid: int | None, envs: list[int], actions: list[int], autoreset: bool) -> dict[str, Any]:
        bad = [i for i in envs if not 0 <= i < len(self.envs)]
        if bad:  # refuse the whole request before stepping anything
            shown = ", ".join(map(str, bad[:8])) + (f" and {len(bad) - 8} more" if len(bad) > 8 else "")
            return P.error_msg(
                P.E_ENV_INDEX, f"environment(s) {shown} do not exist: this server hosts {len(self.envs)}", mid
            )
        results = []
        last_beat = time.monotonic()
        for i, a in zip(envs, actions):
            if time.monotonic() - last_beat > self.heartbeat_s:
                self._beat()  # a long batch: tell the client we are alive, not hung
                last_beat = time.monotonic()
            r = self._step(mid, i, a, autoreset)
            if r["type"] == "obs":
                results.append({"env": i, "obs": r["obs"]})
            else:
                results.append({"env": i, "error": {"code": r["code"], "message": r["message"]}})
        return {"type": "obs_batch", "v": P.PROTOCOL_VERSION, "id": mid, "results": results}

    def _beat(self) -> None:
        if self._envelope is not None:
            beat = {"type": "pong", "v": P.PROTOCOL_VERSION, "id": None, "pid": os.getpid(), "time": time.time()}
            self.sock.send_multipart([*self._envelope, P.encode(beat)])

    def _parent_alive(self) -> bool:
        return self.parent_pid is None or os.getppid() == self.parent_pid

    def serve_forever(self, poll_ms: int = 500) -> None:
        """Answer requests until a ``close`` with ``shutdown`` or the parent dies."""
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while True:
            if not poller.poll(poll_ms):
                if not self._parent_alive():
                    log.warning("parent process %s is gone; server exits", self.parent_pid)
                    return
                continue
            frames = self.sock.recv_multipart()
            envelope, reply, shutdown = self._serve_one(frames)
            self.requests_served += 1
            self.sock.send_multipart([*envelope, self._encode_reply(reply)])
            if shutdown:
                return

    def _serve_one(self, frames: list[bytes]) -> tuple[list[bytes], dict[str, Any], bool]:
        """One received message -> (envelope, reply, shutdown?). Never raises (but for SystemExit and
        KeyboardInterrupt): whatever a peer sends gets a reply, and the server goes on serving."""
        # ROUTER prefix: [identity, (empty delimiter if the peer is a REQ socket), payload...]
        if len(frames) >= 3 and frames[1] == b"":
            envelope, payload = frames[:2], frames[2:]
        else:
            envelope, payload = frames[:1], frames[1:]
        if len(payload) != 1:
            return envelope, P.error_msg(P.E_MALFORMED, f"a request is exactly one frame, got {len(payload)}"), False
        self._envelope = envelope
        try:
            reply = self.handle(payload[0])
        except Exception as e:  # noqa: BLE001 - a bug on our side, not the peer's: answer, log, keep serving
            log.error("request failed inside the server: %s\n%s", _clip(e), traceback.format_exc())
            reply = P.error_msg(
                P.E_INTERNAL,
                f"the server failed on this request: {type(e).__name__}: {_clip(e)}",
                _request_id(payload[0]),
            )
        finally:
            self._envelope = None
        return envelope, reply, reply.get("type") == "closed" and self._shutdown_requested(payload)

    def _encode_reply(self, reply: dict[str, Any], split: bool = True) -> bytes:
        """Encode a reply; one a client would refuse (non-msgpack value, ext type, deep nesting in a
        simulator's info) becomes an ``env_failed`` error instead."""
        try:
            out = P.encode(reply)
            P.check_frame(out)
            return out
        except Exception as e:  # noqa: BLE001 - e.g. an env put a non-msgpack value in info
            if reply.get("type") == "obs_batch" and split:  # fail only the envs at fault
                return self._encode_reply(
                    {**reply, "results": [self._sendable(r) for r in reply["results"]]}, split=False
                )
            mid, env = reply.get("id"), reply.get("env")
            err = P.error_msg(
                P.E_ENV_FAILED,
                f"reply could not be encoded: {type(e).__name__}: {_clip(e)}",
                mid if isinstance(mid, int) else None,
                env if isinstance(env, int) else None,
            )
            return P.encode(err)

    def _sendable(self, result: dict[str, Any]) -> dict[str, Any]:
        """One ``obs_batch`` result, or an ``env_failed`` error in its place when it cannot be sent."""
        try:
            P.check_frame(P.encode({"type": "obs_batch", "results": [result]}))
            return result
        except Exception as e:  # noqa: BLE001 - any value msgpack or the checks refuse
            self._ready[result["env"]] = False
            return {
                "env": result["env"],
                "error": {
                    "code": P.E_ENV_FAILED,
                    "message": f"observation could not be sent: {type(e).__name__}: {_clip(e)}",
                },
            }

    def _shutdown_requested(self, payload: list[bytes]) -> bool:
        try:
            return P.unpack(payload[0]).get("shutdown", False) is True
        except P.ProtocolError:
            return False

    def close(self) -> None:
        for env in self.envs:
            try:
                env.close()
            except Exception as e:  # noqa: BLE001 - closing must not mask the reason we stop
                log.warning("closing an environment raised %s", e)
        self.sock.close(0)
        if self._auth is not None:
            self._auth.stop()
        self.ctx.destroy(linger=0)


def build_parser(bridge: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"python -m bridges.{bridge}" if bridge else "python -m bridges.server",
        description="Serve simulator environments over the agent-runtime ZeroMQ bridge.",
    )
    p.add_argument("--bridge", default=bridge, required=bridge is None, help="simulator name (bridges.registry)")
    p.add_argument(
        "--bind",
        default="tcp://127.0.0.1:5555",
        help="endpoint: tcp://HOST:PORT (PORT may be * for any), ipc:///path, or HOST:PORT",
    )
    p.add_argument("--num-envs", type=int, default=1, help="environment instances hosted by this server")
    p.add_argument("--task", default=None, help="task name passed to make_env (default: the bridge's default)")
    p.add_argument("--seed", type=int, default=None, help="construction seed; env i gets seed+i")
    p.add_argument(
        "--option",
        action="append",
        type=parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="extra make_env keyword (value parsed as JSON when possible); repeatable",
    )
    p.add_argument("--curve-dir", default=None, help="directory made by `python -m bridges.keys make` (CURVE on)")
    p.add_argument("--insecure", action="store_true", help="allow binding a non-loopback TCP address without CURVE")
    p.add_argument(
        "--parent-pid", type=int, default=None, help="exit when this process (the runtime that spawned us) dies"
    )
    p.add_argument("--max-frame", type=int, default=P.MAX_FRAME_BYTES, help="request frame size cap in bytes")
    p.add_argument("--log-level", default="WARNING", help="logging level (DEBUG, INFO, WARNING, ...)")
    return p


def main(argv: list[str] | None = None, bridge: str | None = None) -> int:
    """Command-line entry: parse argv, serve until told to stop."""
    args = build_parser(bridge).parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format=f"%(asctime)s bridge[{os.getpid()}] %(levelname)s %(message)s",
    )
    set_parent_death_signal(args.parent_pid)
    # simulators may print while they are built: keep stdout clean for the ready line
    ready_fd = _stdout_to_stderr()

    def _terminate(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminate)
    try:
        server = BridgeServer(
            args.bridge,
            args.bind,
            args.num_envs,
            args.task,
            args.seed,
            dict(args.option),
            curve_dir=args.curve_dir,
            insecure=args.insecure,
            parent_pid=args.parent_pid,
            max_frame=args.max_frame,
        )
    except Exception as e:  # noqa: BLE001 - bad options, unknown bridge, missing simulator, address in use
        print(f"bridge server could not start: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    _announce(ready_fd, f"{READY_PREFIX}{server.endpoint} pid={os.getpid()}")
    log.info("serving %d %s/%s environments on %s", len(server.envs), server.bridge, server.task, server.endpoint)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
