"""Frames of a simulator that draws itself: one RGB picture before each primitive step (for videos).

A ``SkillEnv`` that can draw itself mixes in ``FrameRecorder``, implements ``render_rgb()`` (an
``(h, w, 3)`` uint8 array) and calls ``self._capture()`` just before each primitive step. The server
answers the protocol's ``frames`` request with ``record_frames`` / ``take_frames``; frames travel as
``{w, h, rgb}`` maps (``rgb``: ``w*h*3`` bytes, row-major). Standard library only (the array's own
``tobytes``).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class FrameSource(Protocol):
    """A simulator that can keep a frame before each primitive step."""

    def record_frames(self, on: bool) -> None: ...

    def take_frames(self) -> list[dict[str, Any]]: ...

    def frame_now(self) -> dict[str, Any]: ...


def encode_frame(rgb: Any) -> dict[str, Any]:
    """An ``(h, w, 3)`` uint8 array -> ``{w, h, rgb: bytes}``."""
    h, w, c = rgb.shape
    if c != 3:
        raise ValueError(f"a frame must have 3 channels (RGB), got {c}")
    return {"w": int(w), "h": int(h), "rgb": bytes(rgb.astype("uint8").tobytes())}


class FrameRecorder:
    """Keeps ``render_rgb()`` before each primitive step while recording is on."""

    _frames: list[dict[str, Any]] | None = None

    def render_rgb(self) -> Any:
        raise NotImplementedError

    def record_frames(self, on: bool) -> None:
        """Start (keeping what is already kept) or stop keeping frames."""
        if not on:
            self._frames = None
        elif self._frames is None:
            self._frames = []

    def take_frames(self) -> list[dict[str, Any]]:
        """The frames kept since the last call (and forget them)."""
        out = self._frames or []
        if self._frames is not None:
            self._frames = []
        return out

    def frame_now(self) -> dict[str, Any]:
        """The current state's picture, as a wire frame."""
        return encode_frame(self.render_rgb())

    def _capture(self) -> None:
        if self._frames is not None:
            self._frames.append(encode_frame(self.render_rgb()))
