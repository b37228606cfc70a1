"""The TUI in a real headless Chromium: ``agent-runtime tui --web`` against ``agent-runtime run`` (tiny model, toy task).

The page is textual-serve's xterm.js terminal; it draws on a canvas, so the test reads the text from
xterm.js's own screen buffer (the page's script is served with one line added that keeps the terminal
object on ``window``; nothing else changes). Keys go to the page as a person's would.

Regenerate docs/images/tui-web.png with ``python tests/test_tui_web.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import zmq

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]
from _procs import stop_process  # noqa: E402
from test_tui_runtime import RealRuntime, named_door  # noqa: E402

from bridges import telemetry_wire as wire  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = ROOT / "docs" / "images" / "tui-web.png"
HOOK = ("this.terminal.open(e)", "this.terminal.open(e),window.__xterm=this.terminal")
READ_SCREEN = """() => { const b = window.__xterm && window.__xterm.buffer.active; if (!b) return "";
  const out = []; for (let y = 0; y < b.length; y++) out.push(b.getLine(y).translateToString(true)); return out.join("\\n"); }"""
ROW = re.compile(r"^\s*[│┃|]?\s*(?:[✓★⇒]\s)?\s*(\d+) (open the \w+ door)\s+[█▏▎▍▌▋▊▉·]+\s+(\d+\.\d)%", re.M)


def _missing() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    if not os.access(CHROMIUM, os.X_OK):
        return "chromium is not installed (apt-get install chromium)"
    return ""


needs_browser = pytest.mark.skipif(bool(_missing()), reason=_missing() or "-")


class Pending:
    """The runtime's pending (paused) decisions as published, per environment."""

    def __init__(self, pub: str) -> None:
        self.latest: dict[int, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(pub,), daemon=True)
        self._thread.start()

    def _run(self, pub: str) -> None:
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, wire.TOPIC_PENDING)
        sub.connect(pub)
        while not self._stop.is_set():
            if sub.poll(50):
                _, data = sub.recv_multipart()
                msg = wire.unpack(data)
                self.latest[msg["env"]] = msg
        sub.close(0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


class WebTUI:
    """``agent-runtime tui --web --bind 127.0.0.1:0`` in a subprocess; ``url`` is what it printed."""

    def __init__(self, rt: RealRuntime) -> None:
        args = [
            "tui",
            "--web",
            "--bind",
            "127.0.0.1:0",
            "--connect",
            rt.pub,
            "--control",
            rt.control,
            "--timeout",
            "30",
        ]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent_runtime.cli", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.printed: list[str] = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.printed.append(line)
            if m := re.search(r"open (http://\S+)", line):
                self.url = m.group(1)
                break
        else:
            raise AssertionError(f"the web TUI did not start:\n{''.join(self.printed)}")
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.printed.append(line)

    def stop(self) -> None:
        stop_process(self.proc)


def wait_for(cond, rt: RealRuntime, what: str, timeout: float = 90.0, page=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        if rt.proc.poll() is not None:
            raise AssertionError(f"the runtime exited while waiting for {what}:\n{rt.output()}")
        time.sleep(0.2)
    screen = page.evaluate(READ_SCREEN) if page is not None else ""
    raise AssertionError(f"timed out waiting for {what}\npage:\n{screen}\nruntime:\n{rt.output()}")


def panel_text(screen: str, env: int) -> str:
    """The lines of one environment's panel on the page (from its title to the next panel or the curve)."""
    start = screen.find(f"env {env} ·")
    if start < 0:
        return ""
    nxt = [i for i in (screen.find(f"env {env + 1} ·", start), screen.find("learning curve", start)) if i > 0]
    return screen[start : min(nxt) if nxt else len(screen)]


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def click_text(page, screen: str, text: str) -> None:
    """Click the middle of the last occurrence of ``text`` on the terminal (cell size from the screen's box)."""
    lines = screen.split("\n")
    row = max(i for i, line in enumerate(lines) if text in line)
    col = lines[row].index(text) + len(text) // 2
    box = page.locator(".xterm-screen").bounding_box()
    cols, rows = page.evaluate("() => [window.__xterm.cols, window.__xterm.rows]")
    page.mouse.click(box["x"] + (col + 0.5) * box["width"] / cols, box["y"] + (row + 0.5) * box["height"] / rows)


def drive(screenshot: Path, warmup_s: float = 0.0) -> None:
    """Open the web TUI on a real runtime in Chromium, check what it shows, override through the page.

    ``warmup_s``: let the run train that long first (the docs' picture: a learning curve with something on it).
    """
    from playwright.sync_api import sync_playwright

    rt = RealRuntime()
    pending = Pending(rt.pub)
    web: WebTUI | None = None
    try:
        web = WebTUI(rt)
        assert web.url.startswith("http://127.0.0.1:") and "token" not in web.url
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            hooked: list[bool] = []

            def expose_terminal(route) -> None:
                body = route.fetch().text()
                hooked.append(HOOK[0] in body)
                route.fulfill(body=body.replace(HOOK[0], HOOK[1], 1), content_type="application/javascript")

            page.route("**/static/js/textual.js", expose_terminal)
            page.goto(web.url)
            screen = lambda: page.evaluate(READ_SCREEN)  # noqa: E731
            wait_for(
                lambda: "env 0 · step" in screen() and "env 1 · step" in screen(), rt, "both env panels", page=page
            )
            assert hooked == [True], "textual-serve's script changed: the terminal object could not be exposed"
            text = screen()
            assert "learning curve" in text and "V = " in text and "last reward" in text
            time.sleep(warmup_s)
            page.focus(".xterm-helper-textarea")

            page.keyboard.press("p")  # pause: the focused panel (env 0) shows its next decision, scored
            wait_for(lambda: "PAUSED" in screen(), rt, "PAUSED on the page", page=page)
            time.sleep(1.0)  # a round in flight when the pause arrived finishes; its pending is sent again

            def shown_pending():
                msg = pending.latest.get(0)
                panel = panel_text(screen(), 0)
                if not msg or not msg.get("probs") or f"after step {msg['step']}" not in panel:
                    return None
                return msg, panel

            msg, panel = wait_for(shown_pending, rt, "env 0's scored pending decision on the page", page=page)
            assert "next decision (paused) · scored" in panel
            rows = ROW.findall(panel)
            assert [name for _, name in [(r[0], r[1]) for r in rows]] == msg["skills"], panel
            assert [int(r[0]) for r in rows] == list(range(1, len(msg["skills"]) + 1))
            shown = [float(r[2]) for r in rows]
            assert shown == [round(100 * float(q), 1) for q in msg["probs"]], (panel, msg["probs"])
            assert abs(sum(shown) - 100.0) < 0.1 * len(shown)
            assert f"V(next) = {msg['value']:+.3f}" in panel

            # override: the least likely skill, picked with its number key, confirmed with Enter, one step
            choice = min(range(len(shown)), key=lambda i: (shown[i], i))
            last_step = max(s for _, s in rt.decisions)
            n_episodes = len(rt.episodes)
            page.keyboard.press(str(choice + 1))
            wait_for(lambda: f"picked skill {choice + 1}" in panel_text(screen(), 0), rt, "the pick", page=page)
            time.sleep(5.5 if warmup_s else 0.3)  # the docs' picture: after the "paused" notice has gone
            page.screenshot(path=str(screenshot))
            page.keyboard.press("Enter")
            wait_for(lambda: f"override queued: skill {choice + 1}" in panel_text(screen(), 0), rt, "queued", page=page)
            page.keyboard.press("s")
            wait_for(
                lambda: (
                    any(e == 0 and s > last_step for e, s in rt.decisions)
                    and any(x["env"] == 0 for x in rt.episodes[n_episodes:])
                ),
                rt,
                "the stepped decision and its episode",
                page=page,
            )
            mine = next(m for (e, s), m in rt.decisions.items() if e == 0 and s > last_step)
            assert mine["overridden"] is True and mine["action"] == choice
            assert mine["skills"] == msg["skills"] and mine["observation"] == msg["observation"]
            episode = next(x for x in rt.episodes[n_episodes:] if x["env"] == 0)
            target = named_door(msg["observation"], msg["skills"])
            assert episode["return"] == (1.0 if choice == target else 0.0), "the simulator did not execute the override"
            demo = json.loads(rt.demos.read_text().splitlines()[-1])
            assert (demo["env"], demo["step"], demo["action"]) == (0, mine["step"], choice)
            # the page shows it: the last decision, overridden
            wait_for(lambda: "★ overridden" in panel_text(screen(), 0), rt, "★ overridden on the page", page=page)
            # the mouse works too: a click on the footer's "pause" key resumes the run
            click_text(page, screen(), " pause")
            wait_for(lambda: max(s for _, s in rt.decisions) > mine["step"] + 4, rt, "running again", page=page)
            assert "PAUSED" not in screen().splitlines()[0]
            assert children(web.proc.pid), "no TUI process behind the page"
            browser.close()
        # closing the browser ends its TUI process (never the run)
        wait_for(lambda: not children(web.proc.pid), rt, "the TUI process to end with its page")
        assert rt.proc.poll() is None
    finally:
        if web is not None:
            web.stop()
        pending.stop()
        rt.stop()


@needs_browser
def test_web_tui_in_chromium(tmp_path):
    shot = tmp_path / "tui-web.png"
    drive(shot)
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1280, 900)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 20, "the screenshot is (nearly) one colour"


def test_non_loopback_bind_needs_public_and_public_needs_the_token():
    """Refusals need no browser: a plain HTTP client against the real server."""
    import urllib.error
    import urllib.request

    bad = subprocess.run(
        [sys.executable, "-m", "tui", "--web", "--bind", "0.0.0.0:0"], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "--public" in bad.stderr
    d = Path(tempfile.mkdtemp(prefix="ar-web-", dir="/tmp"))
    run = subprocess.run(
        [sys.executable, "-m", "agent_runtime.cli", "run", "--config", "toy", "--model", "tiny", "--tui-web", "0.0.0.0:0",
         "--set", f"run.output_dir={d}/runs"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2 and "--tui-public" in run.stderr and not (d / "runs").exists(), run.stderr
    shutil.rmtree(d, ignore_errors=True)

    env = {**os.environ, "AGENT_RUNTIME_TUI_TOKEN": "a-token-for-this-test-only"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "--web", "--bind", "0.0.0.0:0", "--public"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed = [proc.stdout.readline(), proc.stdout.readline()]
        assert "BEYOND LOCALHOST" in printed[0], printed
        port = int(re.search(r":(\d+)/\?token=a-token-for-this-test-only", printed[1]).group(1))
        base = f"http://127.0.0.1:{port}"

        def status(path: str, **headers: str) -> int:
            try:
                with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers), timeout=10) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code

        assert status("/") == 403
        assert status("/?token=wrong-token-wrong-token") == 403
        assert status("/static/js/textual.js") == 403
        assert status("/", Cookie=f"agent_runtime_tui_{port}=wrong-token-wrong-token") == 403
        assert status("/", Cookie=f"agent_runtime_tui_{port}=a-token-for-this-test-only") == 200
        # the websocket: refused from another site even with the cookie
        ws = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Cookie": f"agent_runtime_tui_{port}=a-token-for-this-test-only"}  # fmt: skip
        assert status("/ws", Origin="http://evil.example", **ws) == 403
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(base + "/?token=a-token-for-this-test-only", timeout=10) as r:  # 303 + cookie, then the page
            assert r.status == 200 and r.url == base + "/" and "textual-terminal" in r.read().decode()
        with opener.open(base + "/static/js/textual.js", timeout=10) as r:
            assert r.status == 200
    finally:
        stop_process(proc)


@pytest.mark.parametrize(
    ("argv", "child"),
    [
        (["--config", "toy", "--tui-web"], ["--config", "toy"]),
        (["--tui-web", "127.0.0.1:0", "--config", "toy"], ["--config", "toy"]),
        (["--tui-web=0.0.0.0:9", "--tui-public", "--seed", "3"], ["--seed", "3"]),
        (["--tui", "--config", "toy"], ["--config", "toy"]),
    ],
)
def test_the_training_child_gets_the_run_arguments_without_the_tui_flags(argv, child):
    from agent_runtime.cli import TUI_FLAGS, _without_flags

    assert _without_flags(argv, TUI_FLAGS) == child


def test_loopback_names():
    from tui.web import is_loopback

    assert all(map(is_loopback, ["127.0.0.1", "127.9.9.9", "localhost", "::1", "[::1]", "LOCALHOST"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "example.com", "localhost.example.com", ""]))


def test_guard_refusals():
    from tui.web import Guard

    local = Guard(public=False, token=None, cookie="c")
    assert local.refusal("127.0.0.1:8560", None, False, None, None) == ""
    assert local.refusal("localhost:8560", "http://localhost:8560", True, None, None) == ""
    assert "localhost only" in local.refusal("evil.example:8560", None, False, None, None)  # DNS rebinding
    assert "another site" in local.refusal("127.0.0.1:8560", "http://evil.example", True, None, None)
    assert local.refusal("[::1]:8560", None, False, None, None) == ""
    assert local.refusal('127.0.0.1:8560"><script>', None, False, None, None) == "bad Host header"
    public = Guard(public=True, token="t" * 20, cookie="c")
    assert public.refusal("10.0.0.5:8560", "http://10.0.0.5:8560", True, "t" * 20, None) == ""
    assert public.refusal("10.0.0.5:8560", None, False, None, "t" * 20) == ""
    for cookie, query in ((None, None), ("t" * 19, None), (None, "é" * 20), ("", "")):
        assert "token" in public.refusal("10.0.0.5:8560", None, False, cookie, query)
    assert "another site" in public.refusal("10.0.0.5:8560", "http://evil.example", True, "t" * 20, None)


def test_run_with_tui_web_serves_and_ctrl_c_stops_the_run_with_a_checkpoint():
    """``agent-runtime run ... --tui-web``: the page is served while the run trains; Ctrl+C saves and stops both."""
    import urllib.request

    from test_tui_runtime import Recorder

    d = Path(tempfile.mkdtemp(prefix="ar-web-", dir="/tmp"))
    pub, ctl = f"ipc://{d}/telemetry", f"ipc://{d}/control"
    rec = Recorder(pub)
    args = [
        "run", "--config", "toy", "--model", "tiny", "--num-envs", "2", "--in-process", "--total-decisions", "1000000",
        "--set", f"run.output_dir={d}/runs", "--set", f"telemetry.pub={pub}", "--set", f"telemetry.control={ctl}",
        "--set", "env.options={num_candidates: 4, steps: 1}", "--tui-web", "127.0.0.1:0",
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_runtime.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed = []
        for line in proc.stdout:
            printed.append(line)
            if m := re.search(r"open (http://127\.0\.0\.1:\d+/)$", line.strip()):
                break
        else:
            raise AssertionError("".join(printed))
        with urllib.request.urlopen(m.group(1), timeout=10) as r:
            assert r.status == 200 and "textual-terminal" in r.read().decode()
        end = time.monotonic() + 120
        while time.monotonic() < end and not (rec.decisions and rec.pid):
            assert proc.poll() is None, "".join(printed) + proc.stdout.read()
            time.sleep(0.2)
        assert rec.decisions and rec.pid and rec.pid != proc.pid, "the run did not train in its own process"
        proc.send_signal(signal.SIGINT)  # Ctrl+C: the server stops, then the run saves a checkpoint and ends
        rest, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, "".join(printed) + rest
        assert "stopping: the run saves a checkpoint" in rest
        runs = list((d / "runs").iterdir())
        assert len(runs) == 1 and (runs[0] / "run.log").exists()
        assert list((runs[0] / "checkpoints").glob("step-*/trainer_state.pt")), "Ctrl+C did not leave a checkpoint"
        with pytest.raises(ProcessLookupError):
            os.kill(rec.pid, 0)  # the training process has ended too
    finally:
        rec.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if rec.pid is not None:  # a training child orphaned by a failure above must not run on
            with contextlib.suppress(ProcessLookupError):
                os.kill(rec.pid, signal.SIGTERM)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    drive(SCREENSHOT, warmup_s=60.0)
    print(SCREENSHOT)
