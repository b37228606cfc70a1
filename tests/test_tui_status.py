"""The TUI (Pilot) against the real ``Telemetry`` sockets: the updating state, the scored paused decision,
and ``q`` asking before it stops the run.

The runtime side is the real ``Telemetry`` class in this process, driven by a thread the way the
trainer drives it (publish_status around an update, set_pending + wait_while_paused each round).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from agent_runtime.telemetry import Telemetry
from bridges import telemetry_wire as wire
from tui.app import ConfirmStop, RuntimeApp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_tui import screen_text, until

SKILLS = ["open the red door", "open the blue door", "open the green door"]
PROBS = [0.125, 0.625, 0.25]


@pytest.fixture
def tel():
    d = Path(tempfile.mkdtemp(prefix="ar-st-", dir="/tmp"))
    t = Telemetry(f"ipc://{d}/telemetry", f"ipc://{d}/control", heartbeat_s=0.2)
    yield t
    t.close()
    shutil.rmtree(d, ignore_errors=True)


class Loop(threading.Thread):
    """A trainer-shaped loop: rounds of one decision (scored pending first), until stopped."""

    def __init__(self, tel: Telemetry, scored: bool = True):
        super().__init__(daemon=True)
        self.tel, self.scored, self.step = tel, scored, 0
        self.halt = threading.Event()
        self.stopped_by_request = False

    def run(self) -> None:
        while not self.halt.is_set():
            entry = {"observation": f"The key is behind the blue door. (round {self.step})", "skills": SKILLS}
            if self.scored:
                entry.update(probs=PROBS, value=0.375)
            self.tel.set_pending([entry])
            self.tel.wait_while_paused()
            if self.tel.stop_requested:
                self.stopped_by_request = True
                return
            self.tel.publish_decision({"env": 0, "step": self.step, "observation": entry["observation"], "skills": SKILLS,
                                       "probs": PROBS, "value": 0.25, "action": 1, "overridden": False,
                                       "reward": 0.0, "greedy": False})  # fmt: skip
            self.step += 1
            time.sleep(0.05)


def test_updating_state_with_progress_is_shown(tel):
    async def go():
        app = RuntimeApp(connect=tel.pub_addr, control=tel.control_addr, timeout=5)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.connected, what="connected")
            assert "running" in app.status_text() and "updating" not in app.status_text()
            tel.publish_status("updating", done=3, total=8)
            await until(pilot, lambda: "updating 3/8" in app.status_text(), what="updating 3/8")
            await pilot.pause(0.3)
            assert "updating 3/8" in screen_text(app.query_one("#status"))
            tel.publish_status("updating", done=8, total=8)
            await until(pilot, lambda: "updating 8/8" in app.status_text(), what="updating 8/8")
            tel.publish_status("acting")
            await until(pilot, lambda: "running" in app.status_text(), what="running again")
            assert "updating" not in app.status_text()

    asyncio.run(go())


def test_paused_pending_decision_is_shown_scored(tel):
    loop = Loop(tel, scored=True)

    async def go():
        app = RuntimeApp(connect=tel.pub_addr, control=tel.control_addr, timeout=5)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: 0 in app.panels and app.panels[0].decision, what="env 0 decisions")
            await pilot.press("p")
            panel = app.panels[0]
            await until(pilot, panel.showing_pending, what="the pending decision")
            await pilot.pause(0.5)
            assert panel.shown_probs() == PROBS
            skills = screen_text(panel.query_one("#skills-0"))
            assert "not scored" not in skills
            assert [float(x) for x in re.findall(r"(\d+\.\d)%", skills)] == [12.5, 62.5, 25.0]
            title = screen_text(panel.query_one("#title-0"))
            assert "next decision (paused)" in title and "scored" in title and "not scored" not in title
            assert "V(next) = +0.375" in screen_text(panel.query_one("#meta-0"))
            await pilot.press("p")

    loop.start()
    try:
        asyncio.run(go())
    finally:
        loop.halt.set()
        tel.close()
        loop.join(5)


def test_unscored_pending_still_says_so(tel):
    loop = Loop(tel, scored=False)

    async def go():
        app = RuntimeApp(connect=tel.pub_addr, control=tel.control_addr, timeout=5)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: 0 in app.panels and app.panels[0].decision, what="env 0 decisions")
            await pilot.press("p")
            panel = app.panels[0]
            await until(pilot, panel.showing_pending, what="the pending decision")
            await pilot.pause(0.5)
            assert panel.shown_probs() is None
            assert "not scored" in screen_text(panel.query_one("#skills-0"))

    loop.start()
    try:
        asyncio.run(go())
    finally:
        loop.halt.set()
        tel.close()
        loop.join(5)


def test_q_asks_then_stops_the_run(tel):
    loop = Loop(tel)

    async def go():
        app = RuntimeApp(connect=tel.pub_addr, control=tel.control_addr, timeout=5)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.connected and app.panels, what="connected")
            await pilot.press("q")
            await until(pilot, lambda: isinstance(app.screen, ConfirmStop), what="the confirmation")
            assert "Stop training?" in screen_text(app.screen.query_one("#confirm-stop"))
            await pilot.press("n")  # no: nothing sent, the TUI stays
            await until(pilot, lambda: not isinstance(app.screen, ConfirmStop), what="back to the runtime view")
            await pilot.pause(0.5)
            assert not tel.stop_requested and not any(c["cmd"] == "stop" for c, _ in app.replies)
            assert app.is_running
            step = loop.step
            await pilot.press("p")  # a paused run stops too (the stop releases the wait)
            await until(pilot, lambda: app.runtime_state.get("paused") is True, what="paused")
            await pilot.press("q")
            await until(pilot, lambda: isinstance(app.screen, ConfirmStop), what="the confirmation again")
            await pilot.press("y")
            await until(pilot, lambda: tel.stop_requested, what="stop_requested on the runtime")
            await until(pilot, lambda: not app.is_running, what="the TUI quit")
            assert [c for c, _ in app.replies if c["cmd"] == "stop"] == [{"cmd": "stop"}]
            assert loop.step <= step + 1
        assert app.return_value == "stopped"

    loop.start()
    try:
        asyncio.run(go())
        loop.join(5)
        assert loop.stopped_by_request, "the trainer-shaped loop did not see the stop"
        assert wire.validate_command({"cmd": "stop"}) == {"cmd": "stop"}
    finally:
        loop.halt.set()
        tel.close()
        loop.join(5)
