"""A simulator's picture in the terminal: two pixels per character cell (``▀``, top pixel as the
foreground colour, bottom pixel as the background), scaled by nearest neighbour. Works in any terminal
with true colour and in the browser; standard library and rich only."""

from __future__ import annotations

from typing import Any

from rich.color import Color
from rich.style import Style
from rich.text import Text

MAX_COLS = 40  # the picture's width in character cells


def half_blocks(frame: dict[str, Any], max_cols: int = MAX_COLS) -> Text | None:
    """A telemetry ``frame`` map ``{w, h, rgb}`` as rich Text; None when the map is not a picture."""
    w, h, rgb = frame.get("w"), frame.get("h"), frame.get("rgb")
    if not (isinstance(w, int) and isinstance(h, int) and isinstance(rgb, bytes)) or w < 1 or h < 1:
        return None
    if len(rgb) != w * h * 3:
        return None
    cols = min(max_cols, w)
    rows = max(1, round(h * cols / w / 2))  # character rows; each holds two pixel rows

    def pixel(x: int, y: int) -> Color:
        sx, sy = min(w - 1, x * w // cols), min(h - 1, y * h // (2 * rows))
        i = 3 * (sy * w + sx)
        return Color.from_rgb(rgb[i], rgb[i + 1], rgb[i + 2])

    text = Text(no_wrap=True, overflow="crop")
    for r in range(rows):
        for c in range(cols):
            text.append("▀", Style(color=pixel(c, 2 * r), bgcolor=pixel(c, 2 * r + 1)))
        if r < rows - 1:
            text.append("\n")
    return text
