"""The TUI shows the simulator's picture: a real runtime on the salad kitchen (tiny model) with
``telemetry.frames`` publishes env 0's picture after each step; the TUI draws it in half blocks."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _procs import stop_process
from rich.console import Console

from tui.app import RuntimeApp
from tui.frame import half_blocks

ROOT = Path(__file__).resolve().parent.parent


def test_half_blocks_put_two_pixels_in_a_cell() -> None:
    red, green, blue, white = b"\xff\x00\x00", b"\x00\xff\x00", b"\x00\x00\xff", b"\xff\xff\xff"
    text = half_blocks({"w": 2, "h": 2, "rgb": red + green + blue + white})
    assert text is not None and text.plain == "▀▀"
    console = Console(color_system="truecolor", force_terminal=True, width=10)
    styles = [seg.style for seg in text.render(console) if seg.text == "▀"]
    assert [(s.color.triplet.hex, s.bgcolor.triplet.hex) for s in styles] == [("#ff0000", "#0000ff"),
                                                                              ("#00ff00", "#ffffff")]  # fmt: skip
    assert half_blocks({"w": 2, "h": 2, "rgb": red}) is None  # not w*h*3 bytes: not a picture


def test_live_frames_turn_themselves_off_for_a_simulator_without_pictures() -> None:
    from agent_runtime.config import load_config
    from agent_runtime.envs import make_env
    from agent_runtime.video import LiveFrames

    sent: list[dict] = []

    class Tel:
        def publish_frame(self, msg: dict) -> None:
            sent.append(msg)

    toy = LiveFrames(make_env(load_config("toy").env, num_envs=2), Tel())
    salad = LiveFrames(make_env(load_config("overcooked-tomato-salad").env, num_envs=1), Tel())
    try:
        toy.reset([1, 2])
        toy.step([0, 0])
        assert toy.on is False and sent == []
        salad.reset([1])
        salad.step([0])
        assert salad.on is True and len(sent) == 2
        assert sent[-1]["env"] == 0 and sent[-1]["w"] == 168 and len(sent[-1]["rgb"]) == 168 * 168 * 3
    finally:
        toy.close()
        salad.close()


def test_the_tui_shows_the_salad_kitchen_of_a_real_runtime() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ar-frame-", dir="/tmp"))
    pub, ctl = f"ipc://{tmp}/telemetry", f"ipc://{tmp}/control"
    args = ["run", "--config", "overcooked-tomato-salad", "--model", "tiny", "--num-envs", "1",
            "--total-decisions", "1000000", "--set", f"telemetry.pub={pub}", "--set", f"telemetry.control={ctl}",
            "--set", "telemetry.frames=true", "--set", f"run.output_dir={tmp}/runs", "--set", "run.progress=false",
            "--set", "model.dtype=fp32", "--set", "run.num_steps=8"]  # fmt: skip
    log = open(tmp / "runtime.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "agent_runtime.cli", *args], cwd=ROOT, stdout=log, stderr=log)

    async def go() -> str:
        app = RuntimeApp(connect=pub, control=ctl)
        async with app.run_test(size=(120, 40)) as pilot:
            end = time.monotonic() + 120
            while app.frames_seen < 3:
                assert proc.poll() is None, (tmp / "runtime.log").read_text()[-3000:]
                assert time.monotonic() < end, "no pictures within 120 s"
                await pilot.pause(0.2)
            await pilot.pause(0.3)
            assert app.query_one("#frame").display
            return app.export_screenshot()

    try:
        svg = asyncio.run(go())
    finally:
        stop_process(proc, 20)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    # The kitchen's colours (bridges/overcooked/render.py) are on the screen: floor, counter, the agent.
    for colour in ("#ece4d2", "#966f48", "#285ac8"):
        assert colour in svg, colour
