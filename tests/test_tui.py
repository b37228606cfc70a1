"""The Textual app driven by Pilot against a real runtime-shaped process.

The process is ``benchmarks/telemetry.py serve``: the trainer's per-decision
telemetry calls on the toy task through the real ``Telemetry`` class, with real
sockets; it logs every skill index the simulator executes.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import zmq
from _procs import stop_process
from textual.geometry import Region

from bridges import telemetry_wire as wire
from tui.app import EnvPanel, RuntimeApp

ROOT = Path(__file__).resolve().parent.parent
SERVE = ROOT / "benchmarks" / "telemetry.py"


class FakeRuntime:
    """``benchmarks/telemetry.py serve`` in a subprocess, plus a subscriber recording every decision."""

    def __init__(self, work_ms: float = 60.0, envs: int = 2, addr_dir: str | None = None, control_name: str = "rt-control"):
        self.dir = Path(addr_dir or tempfile.mkdtemp(prefix="ar-tui-", dir="/tmp"))
        self.pub = f"ipc://{self.dir}/rt-telemetry"
        self.control = f"ipc://{self.dir}/{control_name}"
        self.demos = self.dir / "demos.jsonl"
        self.actions = self.dir / "actions.jsonl"
        self.ckpt = self.dir / "ckpt"
        self.work_ms = work_ms
        self.envs = envs
        self.decisions: dict[tuple[int, int], dict] = {}
        self._stop = threading.Event()
        self.proc: subprocess.Popen | None = None

    def start(self) -> FakeRuntime:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(SERVE),
                "serve",
                "--pub",
                self.pub,
                "--control",
                self.control,
                "--demos",
                str(self.demos),
                "--actions-log",
                str(self.actions),
                "--ckpt-dir",
                str(self.ckpt),
                "--envs",
                str(self.envs),
                "--work-ms",
                str(self.work_ms),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "READY"
        self._thread = threading.Thread(target=self._record, daemon=True)
        self._thread.start()
        return self

    def _record(self) -> None:
        ctx = zmq.Context.instance()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, wire.TOPIC_DECISION)
        sub.connect(self.pub)
        while not self._stop.is_set():
            if sub.poll(50):
                _, data = sub.recv_multipart()
                msg = wire.unpack(data)
                self.decisions[(msg["env"], msg["step"])] = msg
        sub.close(0)

    def stop(self) -> None:
        self._stop.set()
        if self.proc is not None:
            stop_process(self.proc, 5)
        self._thread_join()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _thread_join(self) -> None:
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(2)


@pytest.fixture
def runtime():
    rt = FakeRuntime().start()
    yield rt
    rt.stop()


async def until(pilot, cond, timeout: float = 15.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rendered_percentages(panel: EnvPanel) -> list[float]:
    """The percentages as drawn on screen in the panel's skill table."""
    return [float(x) for x in re.findall(r"(\d+\.\d)%", screen_text(panel.query_one(f"#skills-{panel.env}")))]


def screen_text(widget) -> str:
    """The text a widget has drawn (its rendered lines)."""
    lines = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return "\n".join(line.text for line in lines)


def test_probabilities_shown_sum_to_one_and_match_the_runtime(runtime):
    async def go():
        app = RuntimeApp(connect=runtime.pub, control=runtime.control)
        async with app.run_test(size=(120, 50)) as pilot:
            await until(
                pilot, lambda: len(app.panels) == 2 and all(p.decision for p in app.panels.values()), what="both env panels"
            )
            checked = 0
            for _ in range(5):
                await pilot.pause(0.3)
                for env, panel in app.panels.items():
                    shown = panel.shown_probs()
                    step = panel.decision["step"]
                    assert shown is not None
                    assert abs(sum(shown) - 1.0) < 1e-9
                    published = runtime.decisions.get((env, step))
                    if published is None:
                        continue  # the recorder joined after this one
                    assert shown == pytest.approx(published["probs"], abs=1e-12)
                    assert panel.decision["value"] == published["value"]
                    pct = rendered_percentages(panel)
                    assert len(pct) == len(published["skills"])
                    assert pct == pytest.approx([100 * p for p in published["probs"]], abs=0.051)
                    assert abs(sum(pct) - 100.0) <= 0.05 * len(pct) + 1e-9
                    checked += 1
            assert checked >= 5

    asyncio.run(go())


def test_override_chosen_in_the_tui_is_executed_flagged_and_recorded(runtime):
    async def go():
        app = RuntimeApp(connect=runtime.pub, control=runtime.control)
        async with app.run_test(size=(120, 50)) as pilot:
            await until(pilot, lambda: 1 in app.panels and app.panels[1].decision, what="env 1 panel")
            await pilot.press("p")
            await until(pilot, lambda: app.runtime_state.get("paused") is True, what="paused")
            panel = app.panels[1]
            await until(pilot, panel.showing_pending, what="the pending observation of env 1")
            pending = panel.pending
            steps_before = max(s for _, s in runtime.decisions)
            await pilot.pause(0.5)
            assert max(s for _, s in runtime.decisions) == steps_before, "decisions while paused"

            panel.focus()
            await pilot.press("down", "down", "down", "down", "up")  # arrows: 1, 2, 3, 4, back to 3
            assert panel.selected == 2
            await pilot.press("4", "3")  # number keys: skill 3
            assert panel.selected == 2
            await pilot.press("enter")
            await until(pilot, lambda: any(c["cmd"] == "override" for c, _ in app.replies), what="override reply")
            cmd, reply = [(c, r) for c, r in app.replies if c["cmd"] == "override"][-1]
            assert reply["ok"], reply
            assert cmd == {"cmd": "override", "env": 1, "skill": 2}
            assert reply["state"]["overrides"] == [[1, 2]]

            await pilot.press("s")
            new = lambda: [m for (e, s), m in runtime.decisions.items() if e == 1 and s > steps_before]  # noqa: E731
            await until(pilot, lambda: new(), what="the stepped decision of env 1")
            await pilot.pause(0.5)
            got = new()
            assert len(got) == 1, "one step lets exactly one decision round through"
            dec = got[0]
            assert dec["action"] == 2 and dec["overridden"] is True
            assert dec["observation"] == pending["observation"] and dec["skills"] == pending["skills"]
            others = [m for (e, s), m in runtime.decisions.items() if e == 0 and s > steps_before]
            assert len(others) == 1 and others[0]["overridden"] is False

            # what the simulator executed
            executed = [json.loads(x) for x in runtime.actions.read_text().splitlines()]
            mine = [x for x in executed if x["env"] == 1 and x["step"] == dec["step"]]
            assert mine == [{"env": 1, "step": dec["step"], "skill": 2}]
            # the demonstrations file
            demos = [json.loads(x) for x in runtime.demos.read_text().splitlines()]
            assert len(demos) == 1
            d = demos[0]
            assert (d["env"], d["step"], d["action"]) == (1, dec["step"], 2)
            assert d["action_text"] == pending["skills"][2] and d["prompt"] == pending["observation"]
            assert d["probs"] == dec["probs"]
            # and the TUI shows it as overridden once the decision arrives
            await until(pilot, lambda: panel.decision and panel.decision["step"] == dec["step"], what="TUI got the decision")
            assert panel.decision["overridden"] is True and panel.queued is None

            await pilot.press("p")
            await until(pilot, lambda: app.runtime_state.get("paused") is False, what="resumed")
            await until(pilot, lambda: max(s for _, s in runtime.decisions) > dec["step"] + 4, what="running again")

    asyncio.run(go())


def test_greedy_toggle_and_save_key(runtime):
    async def go():
        app = RuntimeApp(connect=runtime.pub, control=runtime.control)
        async with app.run_test(size=(120, 50)) as pilot:
            await until(pilot, lambda: app.connected and app.panels, what="connected")
            await pilot.press("g")
            await until(pilot, lambda: app.runtime_state.get("greedy") is True, what="greedy on")
            mark = max(s for _, s in runtime.decisions)
            await until(pilot, lambda: sum(1 for (_, s) in runtime.decisions if s > mark + 1) >= 4, what="greedy decisions")
            for (_, s), m in list(runtime.decisions.items()):
                if s > mark + 1:  # the round in flight when the mode changed may still be sampled
                    assert m["greedy"] is True
                    assert m["action"] == max(range(len(m["probs"])), key=m["probs"].__getitem__)
            await pilot.press("g")
            await until(pilot, lambda: app.runtime_state.get("greedy") is False, what="greedy off")
            assert "sampling" in app.status_text()
            await pilot.press("c")
            await until(pilot, lambda: runtime.ckpt.exists() and any(runtime.ckpt.iterdir()), what="checkpoint saved")

    asyncio.run(go())


def test_no_runtime_message_then_attach_and_detach():
    rt = FakeRuntime()

    async def go():
        app = RuntimeApp(connect=rt.pub, control=rt.control, timeout=0.5)
        async with app.run_test(size=(120, 40)) as pilot:
            banner = app.query_one("#banner")
            await until(pilot, lambda: banner.display, what="no-runtime banner")
            await pilot.pause(0.1)
            assert screen_text(banner).strip().startswith(f"no runtime at {rt.pub} (no telemetry for 0.5 s)")
            rt.start()  # the runtime comes up later: the TUI keeps retrying
            await until(pilot, lambda: app.connected and app.panels, what="attached")
            await until(pilot, lambda: not banner.display, what="banner gone")
            assert app.banner_text() == ""
        first = app.messages_seen
        assert first > 0

        # detach, and the run goes on undisturbed; attach again, it picks up state and history
        before = wire.ControlClient(rt.control)("status")["state"]["decisions"]
        await asyncio.sleep(1.0)
        after = wire.ControlClient(rt.control)("status")["state"]["decisions"]
        assert after > before
        app2 = RuntimeApp(connect=rt.pub, control=rt.control)
        async with app2.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: any(c["cmd"] == "status" for c, _ in app2.replies), what="status on attach")
            assert app2.episodes, "history of episodes on attach"
            assert not app2.runtime_state.get("paused")

    try:
        asyncio.run(go())
    finally:
        rt.stop()


def test_a_command_nobody_answers_is_reported(runtime):
    async def go():
        wrong = f"ipc://{runtime.dir}/nobody-control"
        app = RuntimeApp(connect=runtime.pub, control=wrong)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.connected, what="telemetry")
            await pilot.press("p")
            await until(pilot, lambda: any(c["cmd"] == "pause" for c, _ in app.replies), timeout=10, what="the pause reply")
            reply = [r for c, r in app.replies if c["cmd"] == "pause"][0]
            assert reply["ok"] is False and f"no runtime answered at {wrong}" in reply["error"]
        assert wire.ControlClient(runtime.control)("status")["state"]["paused"] is False

    asyncio.run(go())


def test_control_address_comes_from_the_heartbeat():
    runtime = FakeRuntime(control_name="elsewhere").start()

    async def go():
        app = RuntimeApp(connect=runtime.pub)  # not the derived default: only the heartbeat says where it is
        assert app.control != runtime.control
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.control == runtime.control, what="the announced control address")
            await pilot.press("g")
            await until(pilot, lambda: app.runtime_state.get("greedy") is True, what="greedy via the announced address")
            await pilot.press("g")
            await until(pilot, lambda: app.runtime_state.get("greedy") is False, what="greedy off")

    try:
        asyncio.run(go())
    finally:
        runtime.stop()
