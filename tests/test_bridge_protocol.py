"""The wire format alone: encoding, validation messages, and a fuzzed decoder."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridges import protocol as P
from bridges.spec import Observation


def test_round_trip_of_every_request() -> None:
    for msg in (
        {"type": "hello", "id": 1},
        {"type": "reset", "id": 2, "env": 0, "seed": 5, "episode": 3},
        {"type": "reset", "id": 2, "env": 0, "seed": None},
        {"type": "step", "id": 3, "env": 1, "action": 2, "autoreset": False},
        {"type": "steps", "id": 3, "envs": [1, 0], "actions": [2, 0], "autoreset": True},
        {"type": "ping", "id": 4},
        {"type": "close", "id": 5, "shutdown": True},
    ):
        out = P.decode_request(P.encode(msg))
        assert out == {**msg, "v": P.PROTOCOL_VERSION}


def test_obs_reply_round_trip_with_nested_reset_obs() -> None:
    obs = Observation("t", ["a", "b"], goal="g", reward=1.0, done=True, k=3, info={"success": True, "vector": [1, 2.5]},
                      reset_obs=Observation("t2", ["c"]))
    frame = P.encode({"type": "obs", "id": 7, "env": 0, "obs": obs.to_wire()})
    msg = P.decode_reply(frame)
    assert Observation.from_wire(msg["obs"]) == obs


@pytest.mark.parametrize(
    "msg, code, words",
    [
        ({"type": "teleport", "v": 1}, P.E_UNKNOWN_TYPE, "teleport"),
        ({"type": "step", "v": 1, "env": 0}, P.E_BAD_FIELD, "'action'"),
        ({"type": "step", "v": 1, "env": 0, "action": "2"}, P.E_BAD_FIELD, "'action'"),
        ({"type": "step", "v": 1, "env": 0, "action": True}, P.E_BAD_FIELD, "bool"),
        ({"type": "reset", "v": 1, "env": "zero"}, P.E_BAD_FIELD, "'env'"),
        ({"type": "reset", "v": 1, "env": 0, "episode": -1}, P.E_BAD_FIELD, "episode"),
        ({"type": "ping"}, P.E_BAD_FIELD, "'v'"),
        ({"type": "ping", "v": 99}, P.E_VERSION, "99"),
        ({"v": 1}, P.E_BAD_FIELD, "'type'"),
    ],
)
def test_validation_names_what_is_wrong(msg: dict, code: str, words: str) -> None:
    with pytest.raises(P.ProtocolError) as ei:
        P.decode_request(msgpack.packb(msg))
    assert ei.value.code == code
    assert words in ei.value.message


def test_version_mismatch_names_both_versions() -> None:
    with pytest.raises(P.ProtocolError) as ei:
        P.decode_request(msgpack.packb({"type": "hello", "v": 7}))
    assert "7" in ei.value.message and str(P.PROTOCOL_VERSION) in ei.value.message


def test_request_id_is_kept_in_errors() -> None:
    with pytest.raises(P.ProtocolError) as ei:
        P.decode_request(msgpack.packb({"type": "step", "v": 1, "id": 41, "env": 0}))
    assert ei.value.msg_id == 41


def test_size_cap_and_non_map_and_ext_types() -> None:
    with pytest.raises(P.ProtocolError) as ei:
        P.unpack(b"\x00" * 101, max_bytes=100)
    assert ei.value.code == P.E_TOO_LARGE and "101" in ei.value.message
    with pytest.raises(P.ProtocolError) as ei:
        P.unpack(msgpack.packb([1, 2]))
    assert ei.value.code == P.E_MALFORMED and "list" in ei.value.message
    with pytest.raises(P.ProtocolError) as ei:
        P.unpack(msgpack.packb({"type": "ping", "x": msgpack.ExtType(5, b"evil")}))
    assert ei.value.code == P.E_MALFORMED and "ext" in ei.value.message
    with pytest.raises(P.ProtocolError) as ei:
        P.unpack(b"\xc1")  # never-used msgpack byte
    assert ei.value.code == P.E_MALFORMED


def test_bad_observation_in_reply_is_refused() -> None:
    bad = {"type": "obs", "v": 1, "id": 1, "env": 0, "obs": {"text": "x", "skills": ["a", 3]}}
    with pytest.raises(P.ProtocolError, match="strings"):
        P.decode_reply(msgpack.packb(bad))


GOOD_FRAMES = [
    P.encode({"type": "step", "id": 3, "env": 1, "action": 2}),
    P.encode({"type": "steps", "id": 3, "envs": [1, 2], "actions": [2, 0]}),
    P.encode({"type": "obs_batch", "id": 3, "results": [{"env": 0, "obs": Observation("t", ["a"]).to_wire()},
                                                        {"env": 1, "error": {"code": "skill", "message": "no"}}]}),
    P.encode({"type": "reset", "id": 2, "env": 0, "seed": 5, "episode": 3}),
    P.encode({"type": "obs", "id": 7, "env": 0, "obs": Observation("t", ["a"], info={"x": [1]}).to_wire()}),
]

msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=20) | st.binary(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)


def _check_decoders(frame: bytes) -> None:
    for decode in (P.decode_request, P.decode_reply):
        try:
            out = decode(frame)
        except P.ProtocolError as e:
            assert e.code in {P.E_MALFORMED, P.E_TOO_LARGE, P.E_UNKNOWN_TYPE, P.E_BAD_FIELD, P.E_VERSION}
        else:
            assert isinstance(out, dict) and isinstance(out["type"], str)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_decoder_survives_random_bytes(frame: bytes) -> None:
    _check_decoders(frame)


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(GOOD_FRAMES), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       st.integers(0, 64))
def test_decoder_survives_mutated_frames(frame: bytes, flips: list, cut: int) -> None:
    b = bytearray(frame)
    for pos, val in flips:
        b[pos % len(b)] = val
    _check_decoders(bytes(b[: len(b) - cut] if cut < len(b) else b))


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(["type", "v", "id", "env", "action", "seed", "episode", "obs", "code", "envs",
                                       "actions", "results"]),
                       msgpack_values, max_size=7))
def test_decoder_survives_random_maps(msg: dict) -> None:
    _check_decoders(msgpack.packb(msg, use_bin_type=True))


# ------------------------------------------------------------------ what the docs say is refused
@pytest.mark.parametrize("v", [True, False, 1.0, "1", None, [1], {"v": 1}])
def test_a_version_that_is_not_an_int_is_refused_naming_both(v) -> None:
    for decode, msg in ((P.decode_request, {"type": "ping", "v": v}), (P.decode_reply, {"type": "pong", "v": v})):
        with pytest.raises(P.ProtocolError) as ei:
            decode(msgpack.packb(msg))
        assert ei.value.code == P.E_BAD_FIELD
        assert "'v' must be an int" in ei.value.message and f"speaks {P.PROTOCOL_VERSION}" in ei.value.message
        assert type(v).__name__ in ei.value.message


@pytest.mark.parametrize("value", [
    msgpack.Timestamp(0, 0), msgpack.Timestamp(2**34, 5), msgpack.Timestamp(-1, 0),  # the 32-, 64- and 96-bit forms
    msgpack.ExtType(5, b"x"), msgpack.ExtType(0, b""),
])
@pytest.mark.parametrize("where", ["field", "list", "map", "deep", "top"])
def test_ext_values_and_timestamps_are_refused_anywhere_in_a_frame(value, where: str) -> None:
    inner = {"field": value, "list": [1, value], "map": {"a": value}, "deep": [[[[{"x": [value]}]]]]}.get(where)
    frame = msgpack.packb(value if where == "top" else {"type": "ping", "v": 1, "extra": inner})
    for decode in (P.decode_request, P.decode_reply, P.unpack):
        with pytest.raises(P.ProtocolError) as ei:
            decode(frame)
        assert ei.value.code == P.E_MALFORMED and "ext type" in ei.value.message


def _nested(depth: int, kind: str) -> bytes:
    """A ping map with one field nested so that the whole frame is ``depth`` containers deep."""
    head = b"\x91" if kind == "array" else b"\x81\xa1k"
    return b"\x83\xa4type\xa4ping\xa1v\x01\xa1x" + head * (depth - 1) + b"\xc0"


@pytest.mark.parametrize("kind", ["array", "map"])
def test_nesting_is_refused_past_max_depth_without_recursing(kind: str) -> None:
    assert P.decode_request(_nested(P.MAX_DEPTH, kind))["type"] == "ping"
    for depth in (P.MAX_DEPTH + 1, 1000, 1023, 1024, 1025, 100_000):  # 1,000: the frame that crashed the server
        with pytest.raises(P.ProtocolError) as ei:
            P.decode_request(_nested(depth, kind))
        assert ei.value.code == P.E_MALFORMED


def test_bad_values_are_described_briefly_and_safely() -> None:
    huge = "x" * 1_000_000
    deep_value = msgpack.unpackb(b"\x91" * 1000 + b"\xc0")  # repr() of this raises RecursionError
    for val in (huge, deep_value, b"\xff" * 100_000, list(range(100_000)), {str(i): i for i in range(1000)}):
        text = P.describe(val)
        assert len(text) < 120, text
    assert P.describe(huge).endswith("(length 1000000)") and P.describe(deep_value) == "list of 1"
    # in a real error message, too
    with pytest.raises(P.ProtocolError) as ei:
        P.decode_request(msgpack.packb({"type": "step", "v": 1, "env": 0, "action": huge}))
    assert len(ei.value.message) < 200 and "length 1000000" in ei.value.message


@pytest.mark.parametrize("welcome, words", [
    ({"num_envs": 0}, "num_envs"), ({"num_envs": 10**9}, "num_envs"), ({"num_envs": True}, "num_envs"),
    ({"version": True}, "version"), ({"version": None}, "version"), ({"bridge": 3}, "bridge"),
])
def test_a_welcome_that_cannot_be_right_is_refused(welcome: dict, words: str) -> None:
    good = {"type": "welcome", "v": 1, "id": 1, "version": 1, "bridge": "toy", "task": "t", "num_envs": 2}
    assert P.decode_reply(msgpack.packb(good))["num_envs"] == 2
    with pytest.raises(P.ProtocolError, match=words):
        P.decode_reply(msgpack.packb({**good, **welcome}))


def test_check_frame_agrees_with_the_decoder() -> None:
    P.check_frame(P.encode({"type": "obs", "info": {"a": [[1, 2], {"b": 3}]}}))
    with pytest.raises(P.ProtocolError):
        P.check_frame(_nested(P.MAX_DEPTH + 1, "array"))
    with pytest.raises(P.ProtocolError):
        P.check_frame(msgpack.packb({"t": msgpack.Timestamp(1, 0)}))


@pytest.mark.parametrize("frame", [
    b"\x83\xa4type\xa4ping\xa1v\x01\xc4\x01k\x01",  # a bytes key
    b"\x83\xa4type\xa4ping\xa1v\x01\x01\x01",  # an int key
    b"\x83\xa4type\xa4ping\xa1v\x01\xa1x\x81\xc4\x01k\x01",  # a bytes key in a nested map
    b"\x83\xa4type\xa4ping\xa1v\x01\xc0\x01",  # a nil key
])
def test_map_keys_that_are_not_strings_are_refused(frame: bytes) -> None:
    with pytest.raises(P.ProtocolError) as ei:
        P.decode_request(frame)
    assert ei.value.code == P.E_MALFORMED
