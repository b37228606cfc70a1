"""The Unity text side channel's codec (standard library only: runs in any Python)."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridges.unity.side_channel import (
    CHANNEL_ID,
    FORMAT_VERSION,
    AgentMessage,
    SideChannelFormatError,
    decode_message,
    encode_message,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "unity_side_channel.md"

EXAMPLE = AgentMessage(key=7, text="You see a red door. You should", goal="open it",
                       skills=["open the red door", "wait"], k=3, success=False)


def test_example_bytes_are_the_documented_layout():
    b = encode_message(EXAMPLE)
    expected = (
        struct.pack("<ii", 1, 7)
        + struct.pack("<i", 30) + b"You see a red door. You should"
        + struct.pack("<i", 7) + b"open it"
        + struct.pack("<i", 2)
        + struct.pack("<i", 17) + b"open the red door"
        + struct.pack("<i", 4) + b"wait"
        + struct.pack("<i", 3) + b"\x00"
    )
    assert b == expected
    assert decode_message(b) == EXAMPLE


def test_doc_states_the_channel_id_and_the_example_hex():
    doc = DOC.read_text()
    assert str(CHANNEL_ID) in doc
    hex_in_doc = "".join(re.findall(r"^    ([0-9a-f ]+)$", doc.split("<!-- example-hex -->")[1], re.M)).replace(" ", "")
    assert hex_in_doc == encode_message(EXAMPLE).hex()


@given(
    key=st.integers(0, 2**24 - 1),
    text=st.text(max_size=200),
    goal=st.text(max_size=50),
    skills=st.lists(st.text(max_size=40), max_size=12),
    k=st.integers(0, 2**31 - 1),
    success=st.booleans(),
)
def test_round_trip(key, text, goal, skills, k, success):
    m = AgentMessage(key=key, text=text, skills=skills, goal=goal, k=k, success=success)
    assert decode_message(encode_message(m)) == m


@given(cut=st.integers(0, len(encode_message(EXAMPLE)) - 1))
def test_any_truncation_is_reported(cut):
    with pytest.raises(SideChannelFormatError, match=f"malformed message on side channel {CHANNEL_ID}: truncated"):
        decode_message(encode_message(EXAMPLE)[:cut])


@pytest.mark.parametrize(
    "data,pattern",
    [
        (encode_message(EXAMPLE) + b"\x00", r"1 unexpected trailing bytes"),
        (encode_message(EXAMPLE, version=2),
         rf"format version 2 from Unity, this bridge speaks version {FORMAT_VERSION}"),
        (encode_message(EXAMPLE)[:-1] + b"\x02", r"success is byte 2, expected 0 or 1"),
        (struct.pack("<ii", 1, 7) + struct.pack("<i", -5), r"length of text is -5"),
        (struct.pack("<ii", 1, 7) + struct.pack("<i", 2) + b"\xff\xfe", r"text is not valid UTF-8"),
        (struct.pack("<ii", 1, 7) + struct.pack("<i", 0) * 2 + struct.pack("<i", 99999), r"number of skills is 99999"),
        (encode_message(AgentMessage(key=1, text="", k=0))[:-5] + struct.pack("<i?", -1, False), r"k is -1"),
    ],
)
def test_malformed_messages_name_the_fault(data, pattern):
    with pytest.raises(SideChannelFormatError, match=pattern):
        decode_message(data)


def test_csharp_ascii_strings_decode():
    # C# OutgoingMessage.WriteString writes ASCII: a subset of what we accept.
    raw = struct.pack("<ii", 1, 0) + struct.pack("<i", 3) + "abc".encode("ascii") + struct.pack("<iii?", 0, 0, 1, True)
    m = decode_message(raw)
    assert (m.text, m.goal, m.skills, m.k, m.success) == ("abc", "", [], 1, True)


def test_env_module_outside_its_venv_says_how_to_get_it():
    import importlib.util
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", "import bridges.unity.env"], capture_output=True, text=True,
                       cwd=DOC.parent.parent)
    if importlib.util.find_spec("mlagents_envs") is None:
        assert r.returncode != 0 and "bash bridges/unity/setup_venv.sh" in r.stderr, r.stderr
    else:
        assert r.returncode == 0, r.stderr
