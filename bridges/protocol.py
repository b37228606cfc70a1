"""The bridge wire format: msgpack maps over ZeroMQ, one map per frame.

Every message is a map with ``type`` (str), ``v`` (the protocol version, int)
and usually ``id`` (int, chosen by the requester and echoed in the reply).
Requests (runtime -> simulator server):

    hello  {}                                  -> welcome
    reset  {env, seed: int|None, episode: int} -> obs   (seed used: seed + EPISODE_STRIDE*episode)
    step   {env, action: int, autoreset: bool} -> obs   (obs.reset_obs set when it ended and autoreset)
    steps  {envs: [int], actions: [int], autoreset} -> obs_batch  (several envs of one server, one frame)
    ping   {}                                  -> pong  (heartbeat)
    frames {env, record: bool, now: bool}      -> frames (optional: simulators that draw themselves)
    close  {shutdown: bool}                    -> closed

Replies (server -> runtime):

    welcome {version, bridge, task, num_envs, pid, schema}
    obs     {env, obs: Observation.to_wire()}
    obs_batch {results: [{env, obs} | {env, error: {code, message}}]}  (in the request's env order)
    pong    {pid, time}
    frames  {env, frames: [{w, h, rgb: bin}]}  (RGB uint8, row-major, w*h*3 bytes each)
    closed  {}
    error   {code, message, env?}   (id is None when the request could not be read)

``frames`` (for videos, ``agent-runtime eval --video``): ``record: true`` makes environment ``env``
keep one RGB frame before each primitive step (the state the step acts on); each ``frames`` request
returns the frames kept since the last one and clears them; ``record: false`` stops keeping them;
``now: true`` adds a picture of the current state at the end (the TUI's live frame). A
simulator that cannot draw itself answers ``error`` with code ``no_frames``.

Imports only the standard library, msgpack and bridges.spec, so that a simulator
server runs in a virtualenv without the ML stack.  No pickle: msgpack only; ext
types (the timestamp type included) and maps/arrays nested deeper than
``MAX_DEPTH`` are refused.  ``decode_request``/``decode_reply`` raise
``ProtocolError`` and nothing else, whatever the bytes; error messages describe
bad values with ``describe`` (bounded, never a full ``repr``).
"""

from __future__ import annotations

from typing import Any

import msgpack

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 4 * 1024 * 1024  # soft cap: a bigger frame gets an error reply
HARD_FRAME_BYTES = 64 * 1024 * 1024  # zmq MAXMSGSIZE: a bigger message drops the peer
EPISODE_STRIDE = 100_003  # same seed schedule as bridges.local.LocalVecEnv

MAX_DEPTH = 32  # maps/arrays nested deeper than this are refused (the top-level map is depth 1)
MAX_ENVS_PER_SERVER = 65_536  # a welcome claiming more is refused

REQUESTS = ("hello", "reset", "step", "steps", "ping", "close", "frames")
REPLIES = ("welcome", "obs", "obs_batch", "pong", "closed", "error", "frames")
MAX_BATCH = 4096  # envs in one ``steps`` request

# Observation schema, told to the client in the handshake.
OBS_SCHEMA: dict[str, str] = {
    "text": "str",
    "skills": "list[str]",
    "goal": "str",
    "reward": "float",
    "done": "bool",
    "truncated": "bool",
    "k": "int",
    "info": "map",
    "reset_obs": "obs?",
    "dropped": "bool?",
}

# Error codes (``error.code``).
E_MALFORMED = "malformed"  # not a msgpack map / wrong frame count
E_TOO_LARGE = "too_large"  # frame above the cap
E_UNKNOWN_TYPE = "unknown_type"
E_BAD_FIELD = "bad_field"  # missing field or wrong field type
E_VERSION = "version"  # protocol version mismatch
E_ENV_INDEX = "env_index"  # no such environment on this server
E_SKILL = "skill"  # skill index refused (SkillError); state unchanged
E_NOT_READY = "not_ready"  # step before the first reset
E_ENV_FAILED = "env_failed"  # the simulator raised; the episode is lost
E_NO_FRAMES = "no_frames"  # a frames request to a simulator that does not draw itself
E_INTERNAL = "internal"  # the server failed on a request it accepted (a bug); it keeps serving

_INT = (int,)
_OPT_INT = (int, type(None))


class ProtocolError(ValueError):
    """A frame that breaks the protocol; ``code`` is one of the E_* codes."""

    def __init__(self, code: str, message: str, msg_id: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.msg_id = msg_id


def _refuse_ext(code: int, data: bytes) -> Any:
    raise ProtocolError(E_MALFORMED, f"msgpack ext type {code} is not allowed")


def describe(val: Any, limit: int = 40) -> str:
    """A short, safe description of an untrusted value: type and a clipped repr of scalars only.

    Never recurses into containers (a value nested 1,000 deep would make ``repr`` raise) and never
    builds a long string (a 4 MiB string is clipped before it is formatted)."""
    t = type(val).__name__
    if val is None or isinstance(val, (bool, int, float)):
        return f"{t} {val!r}"[: limit + len(t) + 1]
    if isinstance(val, (str, bytes, bytearray)):
        head = repr(val[:limit])  # \xff-style escapes make a repr up to 4x its input: clip it again
        clipped = len(val) > limit or len(head) > limit + 3
        return f"{t} {head[: limit + 3]}{'...' if clipped else ''} (length {len(val)})"
    if isinstance(val, (list, tuple, dict)):
        return f"{t} of {len(val)}"
    return t


# Bytes that may start an ext (fixext 1..16, ext 8/16/32) or a bin (a possible map key, bin 8/16/32), and
# those that may start a container (fixmap, fixarray, map/array 16/32).
_EXT_BYTES = bytes([0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xC4, 0xC5, 0xC6])
_SUSPECT = set(range(0x80, 0xA0)) | {0xDC, 0xDD, 0xDE, 0xDF} | set(_EXT_BYTES)
_NOT_SUSPECT = bytes(b for b in range(256) if b not in _SUSPECT)


def _plain(frame: bytes) -> bool:
    """True when the frame cannot hold an ext value, a bytes map key, nor nest deeper than MAX_DEPTH (a
    cheap byte scan: fewer container headers than MAX_DEPTH and no ext or bin header byte anywhere)."""
    suspect = frame.translate(None, _NOT_SUSPECT)
    return len(suspect) <= MAX_DEPTH and not any(b in _EXT_BYTES for b in suspect)


def _strict_hooks() -> tuple[Any, Any]:
    """list_hook and object_hook that refuse timestamps (msgpack decodes ext -1 itself, without
    ext_hook), map keys that are not strings (strict_map_key lets bytes through) and nesting deeper
    than MAX_DEPTH. Children are built before their parent, so a
    container's depth is 1 + the deepest of its children's."""
    depth: dict[int, int] = {}
    timestamp = msgpack.Timestamp

    def check(container: Any, values: Any) -> Any:
        d = 0
        for v in values:
            t = type(v)
            if t is list or t is dict:
                d = max(d, depth.get(id(v), 1))
            elif t is timestamp:
                raise ProtocolError(E_MALFORMED, "msgpack ext type -1 (timestamp) is not allowed")
        if d >= MAX_DEPTH:
            raise ProtocolError(E_MALFORMED, f"maps and arrays may be nested at most {MAX_DEPTH} deep")
        depth[id(container)] = d + 1
        return container

    def check_map(m: dict[Any, Any]) -> Any:
        for k in m:
            if type(k) is not str:
                raise ProtocolError(E_MALFORMED, f"map keys must be strings, got {type(k).__name__}")
        return check(m, m.values())

    return (lambda lst: check(lst, lst)), check_map


def _to_builtin(obj: Any) -> Any:
    # numpy scalars and arrays (in a simulator's info) without importing numpy here
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    raise TypeError(f"cannot send a {type(obj).__name__} over the bridge (msgpack types only)")


def encode(msg: dict[str, Any]) -> bytes:
    """Pack a message map (adds ``v`` when missing); numpy values become lists/numbers."""
    if "v" not in msg:
        msg = {**msg, "v": PROTOCOL_VERSION}
    return msgpack.packb(msg, use_bin_type=True, default=_to_builtin)


def unpack(frame: bytes, max_bytes: int = MAX_FRAME_BYTES) -> dict[str, Any]:
    """Bytes -> map, with the size cap; raises ProtocolError (never anything else).

    Refuses ext types (timestamps too), map keys that are not strings and nesting deeper than MAX_DEPTH."""
    if len(frame) > max_bytes:
        raise ProtocolError(E_TOO_LARGE, f"frame of {len(frame)} bytes is over the cap of {max_bytes} bytes")
    try:
        if _plain(frame):  # the common case: no hooks needed (a per-container Python call costs ~3x the decode)
            msg = msgpack.unpackb(frame, raw=False, ext_hook=_refuse_ext, strict_map_key=True, timestamp=0)
        else:
            list_hook, object_hook = _strict_hooks()
            msg = msgpack.unpackb(
                frame,
                raw=False,
                ext_hook=_refuse_ext,
                strict_map_key=True,
                timestamp=0,
                list_hook=list_hook,
                object_hook=object_hook,
            )
    except ProtocolError:
        raise
    except Exception as e:  # noqa: BLE001 - msgpack raises a zoo of types (ExtraData, ValueError, UnicodeDecodeError, ...)
        raise ProtocolError(E_MALFORMED, f"not a msgpack frame ({type(e).__name__}: {str(e)[:200]})") from None
    if isinstance(msg, msgpack.Timestamp):
        raise ProtocolError(E_MALFORMED, "msgpack ext type -1 (timestamp) is not allowed")
    if not isinstance(msg, dict):
        raise ProtocolError(E_MALFORMED, f"a message must be a msgpack map, got {type(msg).__name__}")
    return msg


def check_frame(frame: bytes) -> None:
    """Raise ProtocolError if a peer would refuse this (encoded) frame for its ext types or depth.

    Cheap for ordinary frames (a byte scan); the server runs it on its replies so that it never sends
    what a client must refuse."""
    if not _plain(frame):
        unpack(frame, max_bytes=HARD_FRAME_BYTES)


def msg_id(msg: dict[str, Any]) -> int | None:
    """The request id of a decoded map, or None when it has none (or not an int)."""
    mid = msg.get("id")
    return mid if isinstance(mid, int) and not isinstance(mid, bool) else None


def _type_name(msg: dict[str, Any]) -> str:
    t = msg.get("type")
    return repr(t[:40]) if isinstance(t, str) else describe(t)


def _need(msg: dict[str, Any], key: str, types: tuple[type, ...], what: str) -> Any:
    if key not in msg:
        raise ProtocolError(E_BAD_FIELD, f"{_type_name(msg)} message lacks field {key!r} ({what})", msg_id(msg))
    val = msg[key]
    # bool is an int subclass; a bool where an int is wanted is a mistake.
    if not isinstance(val, types) or (isinstance(val, bool) and bool not in types):
        raise ProtocolError(
            E_BAD_FIELD,
            f"field {key!r} of {_type_name(msg)} must be {what}, got {describe(val)}",
            msg_id(msg),
        )
    return val


def check_header(msg: dict[str, Any], allowed: tuple[str, ...]) -> str:
    """Validate ``type``, ``v`` and ``id``; return the type."""
    mtype = msg.get("type")
    if not isinstance(mtype, str):
        raise ProtocolError(E_BAD_FIELD, f"field 'type' must be a string, got {type(mtype).__name__}", msg_id(msg))
    if mtype not in allowed:
        raise ProtocolError(
            E_UNKNOWN_TYPE, f"unknown message type {describe(mtype)}; expected one of {', '.join(allowed)}", msg_id(msg)
        )
    if "v" not in msg:
        raise ProtocolError(E_BAD_FIELD, f"{mtype!r} message lacks the protocol version field 'v'", msg_id(msg))
    v = msg["v"]
    if not isinstance(v, int) or isinstance(v, bool):  # true == 1 and 1.0 == 1 in Python: not a version
        raise ProtocolError(
            E_BAD_FIELD,
            f"field 'v' must be an int protocol version (this side speaks {PROTOCOL_VERSION}), got {describe(v)}",
            msg_id(msg),
        )
    if v != PROTOCOL_VERSION:
        raise ProtocolError(
            E_VERSION,
            f"protocol version mismatch: peer speaks {v}, this side speaks {PROTOCOL_VERSION}",
            msg_id(msg),
        )
    if "id" in msg:
        _need(msg, "id", _OPT_INT, "an int or nil")
    return mtype


def decode_request(frame: bytes, max_bytes: int = MAX_FRAME_BYTES) -> dict[str, Any]:
    """Decode and validate a request frame (server side); raises ProtocolError and nothing else."""
    return _decode(frame, max_bytes, _validate_request, "request")


def _decode(frame: bytes, max_bytes: int, validate: Any, what: str) -> dict[str, Any]:
    msg = unpack(frame, max_bytes)
    try:
        return validate(msg)
    except ProtocolError:
        raise
    except Exception as e:  # noqa: BLE001 - a validation bug must not take a process down: the frame is refused
        raise ProtocolError(E_MALFORMED, f"{what} could not be validated ({type(e).__name__})", msg_id(msg)) from None


def _validate_request(msg: dict[str, Any]) -> dict[str, Any]:
    mtype = check_header(msg, REQUESTS)
    if mtype in ("reset", "step", "frames"):
        _need(msg, "env", _INT, "an int environment index")
    if mtype == "frames":
        for key in ("record", "now"):
            if key in msg:
                _need(msg, key, (bool,), "a bool")
    if mtype == "reset":
        if msg.get("seed") is not None:
            _need(msg, "seed", _INT, "an int or nil")
        if "episode" in msg:
            _need(msg, "episode", _INT, "a non-negative int")
            if msg["episode"] < 0:
                raise ProtocolError(E_BAD_FIELD, f"field 'episode' must be >= 0, got {msg['episode']}", msg_id(msg))
    elif mtype == "step":
        _need(msg, "action", _INT, "an int skill index")
    elif mtype == "steps":
        envs = _need(msg, "envs", (list,), "a list of int environment indices")
        actions = _need(msg, "actions", (list,), "a list of int skill indices")
        if len(envs) != len(actions) or not 0 < len(envs) <= MAX_BATCH:
            raise ProtocolError(
                E_BAD_FIELD,
                f"'envs' and 'actions' must have the same length in 1..{MAX_BATCH}, got {len(envs)} and {len(actions)}",
                msg_id(msg),
            )
        for key, vals in (("envs", envs), ("actions", actions)):
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in vals):
                raise ProtocolError(E_BAD_FIELD, f"field {key!r} of 'steps' must hold ints only", msg_id(msg))
        if len(set(envs)) != len(envs):
            raise ProtocolError(E_BAD_FIELD, "field 'envs' of 'steps' names an environment twice", msg_id(msg))
    if mtype in ("step", "steps") and "autoreset" in msg:
        _need(msg, "autoreset", (bool,), "a bool")
    elif mtype == "close" and "shutdown" in msg:
        _need(msg, "shutdown", (bool,), "a bool")
    return msg


def _check_obs(obs: Any, msg: dict[str, Any], depth: int = 0) -> None:
    if not isinstance(obs, dict):
        raise ProtocolError(E_BAD_FIELD, f"field 'obs' must be a map, got {type(obs).__name__}", msg_id(msg))
    wrap = {"type": "obs", **obs, "id": msg.get("id")}
    _need(wrap, "text", (str,), "a string")
    skills = _need(wrap, "skills", (list,), "a list of strings")
    if not all(isinstance(s, str) for s in skills):
        raise ProtocolError(E_BAD_FIELD, "field 'skills' must hold strings only", msg_id(msg))
    for key, types, what in (
        ("goal", (str,), "a string"),
        ("reward", (int, float), "a number"),
        ("done", (bool,), "a bool"),
        ("truncated", (bool,), "a bool"),
        ("k", _INT, "an int"),
        ("info", (dict,), "a map"),
        ("dropped", (bool,), "a bool"),
    ):
        if key in obs:
            _need(wrap, key, types, what)
    if obs.get("reset_obs") is not None:
        if depth > 0:
            raise ProtocolError(E_BAD_FIELD, "a reset_obs may not carry its own reset_obs", msg_id(msg))
        _check_obs(obs["reset_obs"], msg, depth + 1)


def decode_reply(frame: bytes, max_bytes: int = HARD_FRAME_BYTES) -> dict[str, Any]:
    """Decode and validate a reply frame (client side); raises ProtocolError and nothing else."""
    return _decode(frame, max_bytes, _validate_reply, "reply")


def _validate_reply(msg: dict[str, Any]) -> dict[str, Any]:
    mtype = check_header(msg, REPLIES)
    if mtype == "obs":
        _need(msg, "env", _INT, "an int environment index")
        _check_obs(msg.get("obs"), msg)
    elif mtype == "obs_batch":
        results = _need(msg, "results", (list,), "a list of per-environment results")
        for r in results:
            if not isinstance(r, dict):
                raise ProtocolError(E_BAD_FIELD, "each of 'results' must be a map", msg_id(msg))
            _need({"type": "obs_batch", **r}, "env", _INT, "an int environment index")
            if "error" in r:
                err = r["error"]
                if not (
                    isinstance(err, dict) and isinstance(err.get("code"), str) and isinstance(err.get("message"), str)
                ):
                    raise ProtocolError(
                        E_BAD_FIELD, "a result's 'error' must be {code: str, message: str}", msg_id(msg)
                    )
            else:
                _check_obs(r.get("obs"), msg)
    elif mtype == "welcome":
        n = _need(msg, "num_envs", _INT, "an int")
        if not 1 <= n <= MAX_ENVS_PER_SERVER:
            raise ProtocolError(
                E_BAD_FIELD, f"field 'num_envs' of 'welcome' must be in 1..{MAX_ENVS_PER_SERVER}, got {n}", msg_id(msg)
            )
        _need(msg, "version", _INT, "an int protocol version")
        _need(msg, "bridge", (str,), "a string")
        _need(msg, "task", (str,), "a string")
    elif mtype == "error":
        _need(msg, "code", (str,), "a string")
        _need(msg, "message", (str,), "a string")
    elif mtype == "frames":
        _need(msg, "env", _INT, "an int environment index")
        for f in _need(msg, "frames", (list,), "a list of {w, h, rgb} maps"):
            ok = isinstance(f, dict) and all(isinstance(f.get(k), int) and f[k] > 0 for k in ("w", "h"))
            if not ok or not isinstance(f.get("rgb"), bytes) or len(f["rgb"]) != f["w"] * f["h"] * 3:
                raise ProtocolError(E_BAD_FIELD, "each frame must be {w: int, h: int, rgb: w*h*3 bytes}", msg_id(msg))
    return msg


def error_msg(code: str, message: str, msg_id: int | None = None, env: int | None = None) -> dict[str, Any]:
    """An ``error`` reply map."""
    msg: dict[str, Any] = {"type": "error", "v": PROTOCOL_VERSION, "id": msg_id, "code": code, "message": message}
    if env is not None:
        msg["env"] = env
    return msg
