"""The TUI in a real terminal (tmux): start it, send keys, read the pane."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_tui import ROOT, FakeRuntime
from test_tui_runtime import Recorder, named_door


def _tmux() -> str:
    """The tmux binary, installing it with apt-get when missing and possible."""
    found = shutil.which("tmux")
    if found:
        return found
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "install", "-y", "-q", "tmux"], ["sh", "-c", "apt-get update -q && apt-get install -y -q tmux"]):
            try:
                subprocess.run(cmd, check=False, env=env, capture_output=True, timeout=300)
            except (OSError, subprocess.TimeoutExpired):
                continue
            found = shutil.which("tmux")
            if found:
                return found
    pytest.skip("tmux is not installed and could not be installed with apt-get (needs root and a package mirror)")


@pytest.fixture
def tmux():
    binary = _tmux()
    socket = f"ar-test-{uuid.uuid4().hex[:8]}"  # a private tmux server: never touches anyone else's sessions

    def run(*args: str, check: bool = True) -> str:
        out = subprocess.run([binary, "-L", socket, *args], check=False, capture_output=True, text=True, timeout=30)
        if check and out.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {out.stderr}")
        return out.stdout

    yield run
    run("kill-server", check=False)


def wait_pane(tmux, pred, timeout: float = 20.0, what: str = "") -> str:
    end = time.monotonic() + timeout
    text = ""
    while time.monotonic() < end:
        text = tmux("capture-pane", "-p", "-t", "tui")
        if pred(text):
            return text
        time.sleep(0.2)
    size = tmux("display", "-p", "-t", "tui", "#{window_width}x#{window_height}").strip()
    raise AssertionError(f"timed out waiting for {what}; pane ({size}) was:\n{text}")


def test_tui_in_a_real_terminal(tmux):
    rt = FakeRuntime(work_ms=60.0).start()
    try:
        # COLUMNS/LINES may leak in from the test runner; they would override the pane's real size.
        cmd = f"cd {ROOT} && exec env -u COLUMNS -u LINES {sys.executable} -m tui --connect {rt.pub} --control {rt.control}"
        tmux("new-session", "-d", "-s", "tui", "-x", "120", "-y", "50", cmd)
        pane = wait_pane(tmux, lambda t: "env 0 · step" in t and "env 1 · step" in t and "running" in t, what="both env panels")
        assert "open the" in pane and "%" in pane
        assert "learning curve" in pane
        pane = wait_pane(
            tmux,
            lambda t: all(k in t for k in ("pause", "step", "greedy", "save", "override", "quit")),
            what="the footer's bindings",
        )

        tmux("send-keys", "-t", "tui", "p")
        pane = wait_pane(tmux, lambda t: "PAUSED" in t and "next decision (paused)" in t, what="paused with pending observations")
        # env 0 has the focus (first panel): pick skill 2, confirm, step once
        tmux("send-keys", "-t", "tui", "2")
        tmux("send-keys", "-t", "tui", "Enter")
        pane = wait_pane(tmux, lambda t: "override queued: skill 2" in t, what="override queued")
        tmux("send-keys", "-t", "tui", "s")
        pane = wait_pane(tmux, lambda t: "★ overridden" in t or "OVERRIDDEN" in t, what="overridden decision shown")

        demos = [json.loads(x) for x in Path(rt.demos).read_text().splitlines()]
        assert len(demos) == 1 and demos[0]["env"] == 0 and demos[0]["action"] == 1
        executed = [json.loads(x) for x in Path(rt.actions).read_text().splitlines()]
        assert {"env": 0, "step": demos[0]["step"], "skill": 1} in executed

        tmux("send-keys", "-t", "tui", "p")
        wait_pane(tmux, lambda t: "running" in t and "PAUSED" not in t, what="resumed")
        tmux("send-keys", "-t", "tui", "C-q")  # leave the TUI only (q would ask to stop the run)
        end = time.monotonic() + 10
        while time.monotonic() < end and "tui" in tmux("list-sessions", "-F", "#S", check=False).split():
            time.sleep(0.2)
        assert "tui" not in tmux("list-sessions", "-F", "#S", check=False).split(), "ctrl+q did not quit"
        assert rt.proc.poll() is None, "leaving the TUI must not stop the runtime"
    finally:
        rt.stop()


def _panel_lines(pane: str, env: int) -> list[str]:
    """The lines of env ``env``'s panel in a captured pane."""
    lines = pane.splitlines()
    start = next(i for i, line in enumerate(lines) if f"env {env} ·" in line)
    out = []
    for line in lines[start:]:
        if line.lstrip().startswith(("╰", "┗")):
            break
        out.append(line.strip("│┃ "))
    return out


def test_agent_runtime_run_with_tui_in_a_real_terminal(tmux):
    """``agent-runtime run ... --tui``: the real trainer in the background, the TUI in the terminal."""
    d = Path(tempfile.mkdtemp(prefix="ar-cli-", dir="/tmp"))
    pub, ctl, demos = f"ipc://{d}/telemetry", f"ipc://{d}/control", d / "demos.jsonl"
    rec = Recorder(pub)
    args = [
        "run", "--config", "toy", "--model", "tiny", "--num-envs", "2", "--in-process", "--total-decisions", "1000000",
        "--set", f"run.output_dir={d}/runs", "--set", f"telemetry.pub={pub}", "--set", f"telemetry.control={ctl}",
        "--set", f"telemetry.demos={demos}", "--set", "env.options={num_candidates: 4, steps: 1}", "--tui",
    ]  # fmt: skip
    cmd = f"cd {ROOT} && exec env -u COLUMNS -u LINES {sys.executable} -m agent_runtime.cli {shlex.join(args)}"
    try:
        tmux("new-session", "-d", "-s", "tui", "-x", "120", "-y", "50", cmd)
        pane = wait_pane(
            tmux,
            lambda t: "env 0 · step" in t and "env 1 · step" in t and "running" in t,
            timeout=120,
            what="the runtime's panels",
        )
        assert "%" in pane and "learning curve" in pane

        tmux("send-keys", "-t", "tui", "p")
        pane = wait_pane(tmux, lambda t: "PAUSED" in t and t.count("next decision (paused)") == 2, what="paused")
        time.sleep(1.0)  # a round in flight when the pause arrived may still finish: read the final pending view
        pane = wait_pane(tmux, lambda t: "PAUSED" in t and t.count("next decision (paused)") == 2, what="paused")
        panel = _panel_lines(pane, 0)
        text = next(line for line in panel if "The key is behind" in line)
        skills = [
            re.sub(r"^[✓★⇒ ]*\d+ ", "", line).split("  ")[0].strip() for line in panel if re.match(r"^[✓★⇒ ]*\d+ open the", line)
        ]
        assert len(skills) == 4, panel
        choice = named_door(text, skills)
        # env 0 has the focus: pick the named door by its number, confirm, one step
        tmux("send-keys", "-t", "tui", str(choice + 1))
        tmux("send-keys", "-t", "tui", "Enter")
        wait_pane(tmux, lambda t: f"override queued: skill {choice + 1}" in t, what="override queued")
        tmux("send-keys", "-t", "tui", "s")
        wait_pane(tmux, lambda t: "★ overridden" in t or "OVERRIDDEN" in t, what="the overridden decision")

        end = time.monotonic() + 30
        while time.monotonic() < end and not [m for m in rec.decisions.values() if m["overridden"]]:
            time.sleep(0.2)
        over = [m for m in rec.decisions.values() if m["overridden"]]
        assert len(over) == 1 and over[0]["env"] == 0 and over[0]["action"] == choice
        ep = [e for e in rec.episodes if e["env"] == 0 and e["decisions"] > over[0]["step"]]
        assert ep and ep[0]["return"] == 1.0, "the simulator did not execute the override (named door gives 1)"
        lines = [json.loads(x) for x in demos.read_text().splitlines()]
        assert len(lines) == 1 and lines[0]["env"] == 0 and lines[0]["action"] == choice
        assert lines[0]["action_text"] == skills[choice]

        tmux("send-keys", "-t", "tui", "q")  # asks first; y stops the run with a checkpoint
        wait_pane(tmux, lambda t: "Stop training?" in t, what="the stop confirmation")
        tmux("send-keys", "-t", "tui", "y")
        end = time.monotonic() + 60
        while time.monotonic() < end and "tui" in tmux("list-sessions", "-F", "#S", check=False).split():
            time.sleep(0.2)
        assert "tui" not in tmux("list-sessions", "-F", "#S", check=False).split(), "q, y did not end agent-runtime run --tui"
        runs = list((d / "runs").iterdir())
        assert len(runs) == 1 and (runs[0] / "run.log").exists(), "the training log goes into the run folder"
        assert list((runs[0] / "checkpoints").glob("step-*/trainer_state.pt")), "stopping from the TUI saves a checkpoint"
    finally:
        rec.stop()
        tmux("kill-server", check=False)
        if rec.pid is not None:  # a training child orphaned by a failure above must not run on
            try:
                os.kill(rec.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
        shutil.rmtree(d, ignore_errors=True)
