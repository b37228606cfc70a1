"""The agent-runtime text side channel: Unity -> Python agent messages (standard library only).

One message per agent decision, laid out with ML-Agents' side-channel primitives
(little-endian, as C# ``OutgoingMessage`` writes them):

    int32   format version            (FORMAT_VERSION)
    int32   agent key                 (== element 0 of the agent's vector observation)
    string  text                      (prompt-ready observation text)
    string  goal                      (task / mission in words; may be empty)
    int32   number of skills S
    S x string  skill texts           (the skills valid now; action i+1 runs skill i)
    int32   k                         (primitive steps the last skill took; 0 at episode start)
    bool    success                   (read at episode end only)

``string`` is an int32 byte count followed by that many bytes (C# ``WriteString``
writes ASCII; UTF-8 is accepted too).  ``bool`` is one byte (0 or 1).  Nothing may
follow the last field.  See docs/unity_side_channel.md for the whole contract.

This module has no dependency on ``mlagents_envs`` so that the codec can be tested
(and a Unity developer's bytes checked) from any Python.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field

CHANNEL_ID = uuid.UUID("cc9c9a80-971e-4c57-9bb3-acd1dee0c2a1")
FORMAT_VERSION = 1

# Bounds that catch garbage lengths before they allocate anything.
MAX_STRING_BYTES = 1 << 20
MAX_SKILLS = 4096


class SideChannelFormatError(ValueError):
    """A message on the agent-runtime text channel does not follow the contract."""


@dataclass
class AgentMessage:
    """One agent's decision-time report, as sent by the Unity side."""

    key: int
    text: str
    skills: list[str] = field(default_factory=list)
    goal: str = ""
    k: int = 0
    success: bool = False


class _Reader:
    """Strict little-endian reader: running off the end is an error, not a default."""

    def __init__(self, data: bytes):
        self.data = bytes(data)
        self.offset = 0

    def _fail(self, what: str) -> SideChannelFormatError:
        head = self.data[:32].hex(" ")
        return SideChannelFormatError(
            f"malformed message on side channel {CHANNEL_ID}: {what} at byte {self.offset} "
            f"(message is {len(self.data)} bytes; first bytes: {head})"
        )

    def _take(self, n: int, what: str) -> bytes:
        if self.offset + n > len(self.data):
            raise self._fail(f"truncated {what} (needs {n} bytes, {len(self.data) - self.offset} left)")
        chunk = self.data[self.offset : self.offset + n]
        self.offset += n
        return chunk

    def int32(self, what: str) -> int:
        return struct.unpack("<i", self._take(4, what))[0]

    def bool(self, what: str) -> bool:
        b = self._take(1, what)[0]
        if b not in (0, 1):
            raise self._fail(f"{what} is byte {b}, expected 0 or 1")
        return b == 1

    def string(self, what: str) -> str:
        n = self.int32(f"length of {what}")
        if not 0 <= n <= MAX_STRING_BYTES:
            raise self._fail(f"length of {what} is {n}, expected 0..{MAX_STRING_BYTES}")
        raw = self._take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise self._fail(f"{what} is not valid UTF-8/ASCII ({e.reason})") from None

    def end(self) -> None:
        if self.offset != len(self.data):
            raise self._fail(f"{len(self.data) - self.offset} unexpected trailing bytes")


def decode_message(data: bytes) -> AgentMessage:
    """Parse one message; raise SideChannelFormatError naming what is wrong and where."""
    r = _Reader(data)
    version = r.int32("format version")
    if version != FORMAT_VERSION:
        raise SideChannelFormatError(
            f"side channel {CHANNEL_ID}: message format version {version} from Unity, "
            f"this bridge speaks version {FORMAT_VERSION}"
        )
    key = r.int32("agent key")
    text = r.string("text")
    goal = r.string("goal")
    n = r.int32("number of skills")
    if not 0 <= n <= MAX_SKILLS:
        raise r._fail(f"number of skills is {n}, expected 0..{MAX_SKILLS}")
    skills = [r.string(f"skill {i}") for i in range(n)]
    k = r.int32("k")
    if k < 0:
        raise r._fail(f"k is {k}, expected >= 0")
    success = r.bool("success")
    r.end()
    return AgentMessage(key=key, text=text, skills=skills, goal=goal, k=k, success=success)


def _string(s: str) -> bytes:
    raw = s.encode("utf-8")
    return struct.pack("<i", len(raw)) + raw


def encode_message(msg: AgentMessage, version: int = FORMAT_VERSION) -> bytes:
    """The bytes the Unity side must send for ``msg`` (reference encoder, used by tests)."""
    out = bytearray()
    out += struct.pack("<ii", version, msg.key)
    out += _string(msg.text)
    out += _string(msg.goal)
    out += struct.pack("<i", len(msg.skills))
    for s in msg.skills:
        out += _string(s)
    out += struct.pack("<i?", msg.k, msg.success)
    return bytes(out)
