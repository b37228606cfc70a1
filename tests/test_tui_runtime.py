"""The TUI (Pilot) against the real runtime: ``agent-runtime run`` on the tiny model and the toy task.

The toy task asks for the door the prompt names, one decision per episode, so an
override's effect on the simulator is visible in the episode's return: the named
door gives 1, any other 0.
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

from bridges import telemetry_wire as wire
from tui.app import RuntimeApp

ROOT = Path(__file__).resolve().parent.parent


class Recorder:
    """Subscribes to a runtime's telemetry and keeps every decision and episode."""

    def __init__(self, pub: str) -> None:
        self.pub = pub
        self.decisions: dict[tuple[int, int], dict] = {}
        self.episodes: list[dict] = []
        self.pid: int | None = None  # the runtime's process, from its heartbeat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._record, daemon=True)
        self._thread.start()

    def _record(self) -> None:
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, wire.TOPIC_DECISION)
        sub.setsockopt(zmq.SUBSCRIBE, wire.TOPIC_EPISODE)
        sub.setsockopt(zmq.SUBSCRIBE, wire.TOPIC_HEARTBEAT)
        sub.connect(self.pub)
        while not self._stop.is_set():
            if sub.poll(50):
                topic, data = sub.recv_multipart()
                msg = wire.unpack(data)
                if topic == wire.TOPIC_DECISION:
                    self.decisions[(msg["env"], msg["step"])] = msg
                elif topic == wire.TOPIC_EPISODE:
                    self.episodes.append(msg)
                else:
                    self.pid = msg.get("pid")
        sub.close(0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


class RealRuntime:
    """The runtime in a subprocess, plus a subscriber recording decisions and episodes."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ar-rt-", dir="/tmp"))
        self.pub = f"ipc://{self.dir}/telemetry"
        self.control = f"ipc://{self.dir}/control"
        self.demos = self.dir / "demos.jsonl"
        args = [
            "run", "--config", "toy", "--model", "tiny", "--num-envs", "2", "--in-process", "--total-decisions", "1000000",
            "--set", f"telemetry.pub={self.pub}", "--set", f"telemetry.control={self.control}",
            "--set", f"telemetry.demos={self.demos}", "--set", "run.num_steps=4",
            "--set", "env.options={num_candidates: 4, steps: 1}",  # one decision an episode: return = hit the named door
            "--set", f"run.output_dir={self.dir}/runs", "--set", "run.progress=false",
        ]  # fmt: skip
        self.log = open(self.dir / "runtime.log", "w")
        # agent-runtime run ... (the module, so that an uninstalled checkout works too)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent_runtime.cli", *args], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.recorder = Recorder(self.pub)
        self.decisions = self.recorder.decisions
        self.episodes = self.recorder.episodes

    def output(self) -> str:
        self.log.flush()
        return (self.dir / "runtime.log").read_text()[-3000:]

    def stop(self) -> None:
        self.recorder.stop()
        stop_process(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def runtime():
    rt = RealRuntime()
    yield rt
    rt.stop()


async def until(pilot, cond, rt: RealRuntime, timeout: float = 90.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        if rt.proc.poll() is not None:
            raise AssertionError(f"the runtime exited ({rt.proc.returncode}) while waiting for {what}:\n{rt.output()}")
        await pilot.pause(0.1)
    raise AssertionError(f"timed out waiting for {what}; runtime output:\n{rt.output()}")


def named_door(text: str, skills: list[str]) -> int:
    colour = re.search(r"The key is behind the (\w+) door", text).group(1)
    return skills.index(f"open the {colour} door")


def test_tui_against_the_real_runtime(runtime):
    rt = runtime

    async def go():
        app = RuntimeApp(connect=rt.pub, control=rt.control, timeout=30.0)
        async with app.run_test(size=(120, 50)) as pilot:
            await until(
                pilot, lambda: len(app.panels) == 2 and all(p.decision for p in app.panels.values()), rt, what="both env panels"
            )

            # probabilities: shown == published, summing to 1, per environment
            checked = 0
            end = time.monotonic() + 60
            while checked < 4 and time.monotonic() < end:
                await pilot.pause(0.3)
                for env, panel in app.panels.items():
                    published = rt.decisions.get((env, panel.decision["step"]))
                    if published is None:
                        continue
                    shown = panel.shown_probs()
                    assert abs(sum(shown) - 1.0) < 1e-5
                    assert shown == pytest.approx(published["probs"], abs=1e-12)
                    assert panel.decision["value"] == published["value"]
                    checked += 1
            assert checked >= 4, f"only {checked} decisions compared"

            # pause; override env 1 on the observation it will decide on next
            await pilot.press("p")
            await until(pilot, lambda: app.runtime_state.get("paused") is True, rt, what="paused")
            panel = app.panels[1]
            await until(pilot, panel.showing_pending, rt, what="pending observation of env 1")
            await pilot.pause(1.0)  # a round in flight when the pause arrived finishes, then the pending is re-sent
            await until(pilot, panel.showing_pending, rt, what="pending observation of env 1")
            pending = dict(panel.pending)
            last_step = max(s for _, s in rt.decisions)
            n_episodes = len(rt.episodes)

            for wrong_then_right in (False, True):
                target = named_door(pending["observation"], pending["skills"])
                choice = target if wrong_then_right else (target + 1) % len(pending["skills"])
                panel.focus()
                await pilot.press(str(choice + 1), "enter")
                await until(pilot, lambda: panel.queued == choice, rt, what="override queued")
                await pilot.press("s")
                await until(
                    pilot,
                    lambda: any(e == 1 and s > last_step for (e, s) in rt.decisions)
                    and len([x for x in rt.episodes[n_episodes:] if x["env"] == 1]) >= 1,
                    rt, what="the stepped decision and its episode",
                )  # fmt: skip
                await pilot.pause(0.5)
                new = [m for (e, s), m in rt.decisions.items() if s > last_step]
                assert len(new) == 2, "one step lets exactly one decision round through"
                mine = [m for m in new if m["env"] == 1][0]
                assert mine["overridden"] is True and mine["action"] == choice
                assert mine["skills"] == pending["skills"]
                assert [m for m in new if m["env"] == 0][0]["overridden"] is False
                ep = [x for x in rt.episodes[n_episodes:] if x["env"] == 1][-1]
                assert ep["return"] == (1.0 if wrong_then_right else 0.0), "the simulator did not execute the override"
                assert ep["success"] is wrong_then_right

                demos = [json.loads(x) for x in rt.demos.read_text().splitlines()]
                d = demos[-1]
                assert (d["env"], d["step"], d["action"]) == (1, mine["step"], choice)
                assert d["action_text"] == pending["skills"][choice]
                assert d["probs"] == pytest.approx(mine["probs"])
                assert d["prompt"] == mine["observation"]

                # next round's pending observation: the one published after this decision (its text may repeat
                # the last one: the toy names one of 10 colours)
                last_step = max(s for _, s in rt.decisions)
                n_episodes = len(rt.episodes)
                await until(
                    pilot, lambda: panel.showing_pending() and panel.pending["step"] >= mine["step"],
                    rt, what="next pending observation",
                )  # fmt: skip
                pending = dict(panel.pending)

            assert len(rt.demos.read_text().splitlines()) == 2
            await pilot.press("p")
            await until(pilot, lambda: app.runtime_state.get("paused") is False, rt, what="resumed")
            await until(pilot, lambda: max(s for _, s in rt.decisions) > last_step + 4, rt, what="running again")

    asyncio.run(go())


def make_screenshot(path: Path = ROOT / "docs" / "tui.svg", warmup_s: float = 40.0) -> None:
    """Regenerate the screenshot in docs/: ``python tests/test_tui_runtime.py``."""
    rt = RealRuntime()

    async def go():
        app = RuntimeApp(connect=rt.pub, control=rt.control, timeout=30.0)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: len(app.panels) == 2 and all(p.decision for p in app.panels.values()), rt, what="panels")
            await pilot.pause(warmup_s)
            app.panels[1].focus()
            await pilot.press("3")
            await pilot.pause(0.5)
            app.save_screenshot(filename=path.name, path=str(path.parent))

    try:
        asyncio.run(go())
    finally:
        rt.stop()


if __name__ == "__main__":
    make_screenshot()
