"""The Textual app: watch a running runtime and steer it (pause, step, override, greedy, save).

``python -m tui --connect tcp://127.0.0.1:5560`` (or ``agent-runtime tui --connect ...``).
It subscribes to the runtime's telemetry socket and sends commands to its control
socket; attaching or quitting never disturbs the run. Standard library, pyzmq,
msgpack and textual only: no torch, no ``agent_runtime``.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
from collections import deque
from typing import Any, ClassVar

import zmq
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Footer, Sparkline, Static

from bridges import telemetry_wire as wire
from tui.frame import half_blocks

BAR_WIDTH = 20
APPLY_INTERVAL_S = 0.25  # telemetry is applied to the screen at most 4 times a second
CURVE_POINTS = 400
CURVE_INTERVAL_S = 1.0
# shown first, in this order, when the runtime's stats have them (both the runtime's and common names)
STATS_KEYS = (
    "update", "pg_loss", "policy_loss", "v_loss", "value_loss", "approx_kl", "kl", "entropy",
    "lr_actor", "lr", "episode_return_mean", "success_rate",
)  # fmt: skip
STATS_LABELS = {
    "pg_loss": "pg loss", "policy_loss": "pg loss", "v_loss": "v loss", "value_loss": "v loss", "approx_kl": "kl",
    "lr_actor": "lr", "episode_return_mean": "return", "success_rate": "success",
}  # fmt: skip


def prob_bar(p: float, width: int = BAR_WIDTH) -> str:
    """A bar of ``width`` cells, filled in eighths of a cell."""
    p = min(max(float(p), 0.0), 1.0)
    eighths = round(p * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return bar + "·" * (width - len(bar))


class EnvPanel(Vertical, can_focus=True):
    """One environment: observation, a bar per valid skill, value, last reward; picks overrides."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "skill", key_display="↑↓"),
        Binding("down", "move(1)", "next skill", show=False),
        Binding("1", "pick(0)", "pick", key_display="1-9"),
        *[Binding(str(d), f"pick({d - 1})", show=False) for d in range(2, 10)],
        Binding("enter", "confirm", "override"),
        Binding("escape", "cancel", "clear pick", show=False),
    ]

    def __init__(self, env: int):
        super().__init__(id=f"env-{env}", classes="env")
        self.env = env
        self.decision: dict[str, Any] | None = None
        self.pending: dict[str, Any] | None = None
        self.paused = False
        self.selected: int | None = None
        self.queued: int | None = None  # an override the runtime has accepted and not used yet
        self._heights: dict[str, int] = {}
        self._width = 0
        self._drawn: tuple[Any, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static(id=f"title-{self.env}", classes="env-title")
        yield Static(id=f"obs-{self.env}", classes="obs")
        yield Static(id=f"skills-{self.env}", classes="skills")
        yield Static(id=f"meta-{self.env}", classes="meta")

    # what the panel is about: the pending observation while paused, else the last decision
    def showing_pending(self) -> bool:
        if not (self.paused and self.pending):
            return False
        return self.decision is None or self.pending.get("step", 0) >= self.decision.get("step", 0)

    def current(self) -> dict[str, Any]:
        if self.showing_pending():
            return self.pending or {}
        return self.decision or {}

    def skills(self) -> list[str]:
        return list(self.current().get("skills") or [])

    def shown_probs(self) -> list[float] | None:
        """The probabilities drawn on screen (None when the shown observation is not scored yet)."""
        probs = self.current().get("probs")
        return [float(p) for p in probs] if probs else None

    def refresh_view(self, force: bool = False) -> None:
        key = (id(self.decision), id(self.pending), self.paused, self.selected, self.queued, self._width)
        if key == self._drawn and not force:
            return  # nothing new to draw (heartbeats arrive every second)
        self._drawn = key
        cur = self.current()
        pending = self.showing_pending()
        d = self.decision or {}
        if pending:
            scored = "scored" if cur.get("probs") else "not scored yet"
            title = f"env {self.env} · next decision (paused) · {scored} · after step {cur.get('step', '?')}"
        elif d:
            mode = "greedy" if d.get("greedy") else "sampled"
            title = f"env {self.env} · step {d.get('step', '?')} · episode step {d.get('episode_step', '?')} · {mode}"
        else:
            title = f"env {self.env} · waiting for a decision"
        self._put("title", Text(title, style="bold", no_wrap=True, overflow="ellipsis"), 1)
        obs = Text(str(cur.get("observation", "")))
        self._put("obs", obs, self._lines(obs))

        skills = self.skills()
        probs = self.shown_probs()
        action = None if pending else cur.get("action")
        # Plain Text with fixed columns: one line per skill keeps the height fixed, and it is far
        # cheaper to render than a rich Table at several updates a second.
        width = self.content_size.width or 80
        name_w = max(8, width - (2 + 3 + 1 + 1 + BAR_WIDTH + 7))
        rows = Text(no_wrap=True, overflow="ellipsis")
        for i, name in enumerate(skills):
            mark, style = "  ", ""
            if i == action:
                mark = "★ " if cur.get("overridden") else "✓ "
                style = "bold yellow" if cur.get("overridden") else "bold green"
            if i == self.queued:
                mark, style = "⇒ ", "bold magenta"
            if i == self.selected:
                style = (style + " reverse").strip()
            shown = name if len(name) <= name_w else name[: name_w - 1] + "…"
            p = probs[i] if probs and i < len(probs) else None
            if i:
                rows.append("\n")
            rows.append(f"{mark}{i + 1:>3} ")
            rows.append(shown.ljust(name_w), style=style)
            rows.append(" ")
            if p is None:
                rows.append("not scored", style="dim")
            else:
                rows.append(prob_bar(p), style="cyan")
                rows.append(f" {100 * p:5.1f}%")
        self._put("skills", rows, len(skills))

        meta = Text()
        if d and pending:
            a = d.get("action")
            ds = d.get("skills") or []
            dp = d.get("probs") or []
            if isinstance(a, int) and a < len(ds):
                pct = f" (p {100 * float(dp[a]):.1f}%)" if a < len(dp) else ""
                flag = " ★ overridden" if d.get("overridden") else ""
                meta.append(f"last decision (step {d.get('step', '?')}): {a + 1} {ds[a]}{pct}{flag}\n", style="dim")
        if pending:
            value = cur.get("value")
            if isinstance(value, (int, float)):  # the runtime scored the coming decision: its value estimate
                meta.append(f"V(next) = {value:+.3f}   ", style="bold")
        if d:
            value = d.get("value")
            meta.append(f"V = {value:+.3f}" if isinstance(value, (int, float)) else "V = ?", style="bold")
            reward = d.get("reward")
            meta.append(f"   last reward {reward:+.2f}" if isinstance(reward, (int, float)) else "   last reward ?")
            if d.get("overridden"):
                meta.append("   OVERRIDDEN", style="bold yellow")
        if self.queued is not None:
            meta.append(f"   override queued: skill {self.queued + 1}", style="bold magenta")
        elif self.selected is not None:
            hint = "" if pending else " (applies to the next decision)"
            meta.append(f"   picked skill {self.selected + 1}: Enter to override{hint}", style="magenta")
        self._put("meta", meta, self._lines(meta))

    def on_resize(self) -> None:
        width = self.content_size.width
        if width != self._width:  # the columns and the wrapping depend on the width
            self._width = width
            self._heights.clear()
            self.refresh_view()

    def _lines(self, text: Text) -> int:
        width = self.content_size.width
        if width <= 0:
            return -1
        return len(text.wrap(self.app.console, width))

    def _put(self, part: str, renderable: Any, lines: int) -> None:
        """Update one part; re-layout the screen only when its height may change (layout is the costly bit).

        Text parts never shrink (padded to the most lines they had), so panels do not jump either.
        """
        before = self._heights.get(part)
        if isinstance(renderable, Text) and before is not None and 0 <= lines < before:
            renderable.append("\n" * (before - lines))
            lines = before
        layout = lines < 0 or before != lines
        self._heights[part] = lines
        self.query_one(f"#{part}-{self.env}", Static).update(renderable, layout=layout)

    def action_move(self, delta: int) -> None:
        n = len(self.skills())
        if n == 0:
            return
        if self.selected is None:
            self.selected = 0 if delta > 0 else n - 1
        else:
            self.selected = (self.selected + delta) % n
        self.refresh_view()

    def action_pick(self, index: int) -> None:
        if index < len(self.skills()):
            self.selected = index
            self.refresh_view()
        else:
            self.app.notify(f"env {self.env} has {len(self.skills())} skills; no skill {index + 1}", severity="warning")

    def action_cancel(self) -> None:
        self.selected = None
        self.refresh_view()

    def action_confirm(self) -> None:
        if self.selected is None:
            self.app.notify("pick a skill first (arrow or number keys)", severity="warning")
            return
        self.app.send_command({"cmd": "override", "env": self.env, "skill": self.selected})  # type: ignore[attr-defined]


class RuntimeApp(App):
    """Attach to a runtime's telemetry/control sockets."""

    CSS_PATH = "app.tcss"
    TITLE = "agent-runtime"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_pause", "pause"),
        Binding("s", "step", "step"),
        Binding("g", "toggle_greedy", "greedy"),
        Binding("c", "save", "save"),
        Binding("tab", "focus_next", "next env", show=False),
        Binding("q", "ask_quit", "quit"),
    ]

    def __init__(self, connect: str = wire.DEFAULT_TELEMETRY_ADDR, control: str | None = None, timeout: float = 3.0):
        super().__init__()
        self.connect = connect
        self.control = control or _derived_control(connect)  # "" until the runtime announces it
        self._control_explicit = control is not None
        self.timeout = timeout
        self.runtime_state: dict[str, Any] = {}
        self.stats: dict[str, Any] = {}
        self.episodes: deque[tuple[float, float, Any]] = deque(maxlen=5000)  # (decisions, return, success)
        self.panels: dict[int, EnvPanel] = {}
        self.connected = False
        self.last_message = 0.0
        self.replies: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (command, reply), for tests and logs
        self.messages_seen = 0
        self.frames_seen = 0  # pictures shown (telemetry.frames)
        self._touched = False
        self._curve_at = 0.0
        self._banner = ""
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._quitting = False  # the person confirmed q: the TUI exits once the stop is answered

    def compose(self) -> ComposeResult:
        yield Static(id="banner")
        yield Static(id="status")
        yield Static(id="frame")  # env 0's picture (telemetry.frames), docked right; hidden until one comes
        yield VerticalScroll(id="envs")
        with Vertical(id="curve-box"):
            yield Static(id="curve-title")
            yield Sparkline([], id="curve", summary_function=max)
            yield Static(id="stats")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#curve-box").border_title = "learning curve: episode return"
        self._refresh_status()
        self._refresh_curve()
        self.set_interval(0.5, self._check_alive)
        self.run_worker(self._receive, thread=True, name="telemetry", exit_on_error=False)

    def on_unmount(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ telemetry in

    # Timer and thread callbacks can land while the app is shutting down and its widgets are gone.
    @contextlib.contextmanager
    def _quiet_on_teardown(self):
        try:
            yield
        except NoMatches:
            if not (
                self._stop.is_set() or self._exit or self._closing or self._closed or not self.screen.query("#status")
            ):
                raise

    def _check_alive(self) -> None:
        with self._quiet_on_teardown():
            self._check_alive_now()

    def _apply(self, batch: _Batch) -> None:
        with self._quiet_on_teardown():
            self._apply_now(batch)

    def _on_reply(self, cmd: dict[str, Any], reply: dict[str, Any], quiet: bool) -> None:
        with self._quiet_on_teardown():
            self._on_reply_now(cmd, reply, quiet)

    def _receive(self) -> None:
        """Worker thread: read telemetry, fold it into a batch, hand the batch over at most 4 times a second."""
        ctx: zmq.Context = zmq.Context.instance()
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 1000)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(self.connect)
        batch = _Batch()
        last_apply = 0.0
        try:
            while not self._stop.is_set():
                if sock.poll(50, zmq.POLLIN):
                    for _ in range(2000):
                        try:
                            topic, data = sock.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        except ValueError:
                            continue  # not two frames: not ours
                        try:
                            batch.add(topic, wire.unpack(data))
                        except Exception:  # noqa: BLE001, S112 - not msgpack: not ours either
                            continue
                now = time.monotonic()
                if batch.count and now - last_apply >= APPLY_INTERVAL_S:
                    last_apply = now
                    ready, batch = batch, _Batch()
                    if self._stop.is_set():
                        break
                    self.call_from_thread(self._apply, ready)
        finally:
            sock.close(0)

    def _apply_now(self, batch: _Batch) -> None:
        was_connected = self.connected
        self.last_message = time.monotonic()
        self.connected = True
        self.messages_seen += batch.count
        if batch.state is not None and self._newer(batch.state):
            self.runtime_state = batch.state
            if not self._control_explicit and batch.state.get("control"):
                self.control = wire.connectable(batch.state["control"], wire.host_of(self.connect))
        if batch.stats is not None:
            self.stats = batch.stats
        for ep in batch.episodes:
            self.episodes.append((float(ep.get("decisions") or 0), float(ep.get("return") or 0.0), ep.get("success")))
        if batch.frame is not None:
            self._show_frame(batch.frame)
        for env, msg in batch.pending.items():
            self._panel(env).pending = msg
        for env, msg in batch.decisions.items():
            panel = self._panel(env)
            panel.decision = msg
            if panel.queued is not None and msg.get("overridden"):
                panel.queued = None
                panel.selected = None
        if not was_connected:
            self._refresh_banner()
            self.send_command({"cmd": "status"}, quiet=True)
        self._sync_panels()
        self._refresh_status()
        now = time.monotonic()
        if (batch.episodes or batch.stats is not None) and now - self._curve_at >= CURVE_INTERVAL_S:
            self._curve_at = now
            self._refresh_curve()

    def _show_frame(self, frame: dict[str, Any]) -> None:
        picture = half_blocks(frame)
        if picture is None:
            return
        box = self.query_one("#frame", Static)
        box.border_title = f"env {frame.get('env', 0)}"
        box.update(picture)
        box.display = True
        self.frames_seen += 1

    def _newer(self, state: dict[str, Any]) -> bool:
        """Heartbeats and replies travel on two sockets: keep the state with the latest command (seq)."""
        if state.get("pid") != self.runtime_state.get("pid"):
            return True  # another runtime (restarted): start over
        return (state.get("seq") or 0) >= (self.runtime_state.get("seq") or 0)

    def _panel(self, env: int) -> EnvPanel:
        panel = self.panels.get(env)
        if panel is None:
            panel = EnvPanel(env)
            self.panels[env] = panel
            envs = self.query_one("#envs")
            later = [p for e, p in sorted(self.panels.items()) if e > env and p.parent is not None]
            envs.mount(panel, before=later[0] if later else None)
            self.call_after_refresh(self._focus_first)
        return panel

    def _focus_first(self) -> None:
        # the lowest env has the focus until the person presses a key (panels may appear in any order)
        if self.panels and (not self._touched or not isinstance(self.focused, EnvPanel)):
            self.panels[min(self.panels)].focus()

    def on_key(self) -> None:
        self._touched = True

    def _sync_panels(self) -> None:
        paused = bool(self.runtime_state.get("paused"))
        queued = {e: s for e, s in self.runtime_state.get("overrides", [])}
        state_step = self.runtime_state.get("decisions") or 0
        for env, panel in self.panels.items():
            panel.paused = paused
            # a state older than the panel's decision may list an override that decision already used
            fresh = panel.decision is None or state_step >= (panel.decision.get("step") or 0)
            if "overrides" in self.runtime_state and fresh:
                panel.queued = queued.get(env)
            if panel.is_mounted:
                panel.refresh_view()

    def _check_alive_now(self) -> None:
        since = self.last_message or self._started
        if self.connected and time.monotonic() - since > self.timeout:
            self.connected = False
        self._refresh_banner()
        self._refresh_status()

    # ------------------------------------------------------------------ drawing

    def banner_text(self) -> str:
        if self.connected:
            return ""
        if time.monotonic() - (self.last_message or self._started) <= self.timeout:
            return ""
        return f"no runtime at {self.connect} (no telemetry for {self.timeout:g} s) — retrying…"

    def _refresh_banner(self) -> None:
        text = self.banner_text()
        if text == self._banner:
            return
        self._banner = text
        banner = self.query_one("#banner", Static)
        banner.update(text)
        banner.display = bool(text)

    def status_text(self) -> str:
        st = self.runtime_state
        if not self.connected:
            link = "waiting" if not self.last_message else "lost"
            return f"{self.connect}: {link}"
        run = "PAUSED" if st.get("paused") else activity(st.get("status"))
        if st.get("stop_requested"):
            run = "stopping: saving a checkpoint"
        greedy = st.get("greedy")
        mode = "greedy" if greedy else ("sampling" if greedy is False else "sampling (default)")
        steps = [p.decision.get("step", 0) for p in self.panels.values() if p.decision]
        decisions = max([st.get("decisions") or 0, *steps])
        parts = [
            f"{self.connect}",
            run,
            mode,
            f"decisions {decisions}",
            f"envs {max(st.get('num_envs') or 0, len(self.panels))}",
        ]
        if st.get("save_requested"):
            parts.append("checkpoint requested")
        if st.get("last_error"):
            parts.append(f"! {st['last_error']}")
        return " · ".join(parts)

    def _refresh_status(self) -> None:
        self.query_one("#status", Static).update(
            Text(self.status_text(), style="bold", no_wrap=True, overflow="ellipsis"), layout=False
        )

    def _refresh_curve(self) -> None:
        returns = [r for _, r, _ in self.episodes]
        smooth = _moving_average(returns, window=max(1, len(returns) // 50))[-CURVE_POINTS:]
        self.query_one("#curve", Sparkline).data = smooth or [0.0]
        if returns:
            recent = returns[-20:]
            wins = [s for _, _, s in list(self.episodes)[-20:] if s is not None]
            title = (
                f"{len(returns)} episodes over {int(self.episodes[-1][0])} decisions · "
                f"mean return (last {len(recent)}) {sum(recent) / len(recent):+.3f}"
                + (f" · success {100 * sum(map(bool, wins)) / len(wins):.0f}%" if wins else "")
                + f" · range [{min(returns):+.2f}, {max(returns):+.2f}]"
            )
        else:
            title = "no finished episode yet"
        self.query_one("#curve-title", Static).update(Text(title, no_wrap=True, overflow="ellipsis"), layout=False)
        s = self.stats
        if s:
            keys = [k for k in STATS_KEYS if s.get(k) is not None]
            keys += [k for k in s if k not in keys and isinstance(s[k], (int, float)) and k != "decisions"][:4]
            line = "  ".join(f"{STATS_LABELS.get(k, k)} {_fmt(s[k])}" for k in keys)
            self.query_one("#stats", Static).update(Text(line, no_wrap=True, overflow="ellipsis"), layout=False)

    # ------------------------------------------------------------------ control out

    def send_command(self, cmd: dict[str, Any], quiet: bool = False) -> None:
        """Send a control command on a worker thread; the reply is shown as a notification."""
        if not self.control:
            self.notify(
                f"no control address known for {self.connect}: start the TUI with --control ADDR", severity="error"
            )
            return
        client = wire.ControlClient(self.control, timeout=2.0)

        def work() -> None:
            reply = client.request(cmd)
            if not self._stop.is_set():
                self.call_from_thread(self._on_reply, cmd, reply, quiet)

        self.run_worker(work, thread=True, name=f"control-{cmd.get('cmd')}", exit_on_error=False)

    def _on_reply_now(self, cmd: dict[str, Any], reply: dict[str, Any], quiet: bool) -> None:
        self.replies.append((cmd, reply))
        if reply.get("state") and self._newer(reply["state"]):
            self.runtime_state = reply["state"]
        name = cmd.get("cmd")
        if name == "stop" and self._quitting:
            self.exit(result="stopped" if reply.get("ok") else "no runtime")
            return
        if not reply.get("ok"):
            self.notify(f"{name}: {reply.get('error', 'refused')}", severity="error")
        else:
            if name == "status":
                self._load_history(reply)
            if name == "override":
                panel = self.panels.get(cmd["env"])
                if panel is not None:
                    panel.queued = cmd["skill"]
            if not quiet:
                self.notify(_describe(cmd))
        self._sync_panels()
        self._refresh_status()

    def _load_history(self, reply: dict[str, Any]) -> None:
        if not self.episodes:
            for dec, ret, succ in reply.get("episodes") or []:
                self.episodes.append((float(dec or 0), float(ret or 0.0), succ))
        for env, msg in (reply.get("last_decisions") or {}).items():
            panel = self._panel(int(env))
            if panel.decision is None:
                panel.decision = msg
        if reply.get("last_stats") and not self.stats:
            self.stats = reply["last_stats"]
        self._refresh_curve()

    def action_toggle_pause(self) -> None:
        self.send_command({"cmd": "resume" if self.runtime_state.get("paused") else "pause"})

    def action_step(self) -> None:
        self.send_command({"cmd": "step"})

    def action_toggle_greedy(self) -> None:
        self.send_command({"cmd": "mode", "greedy": not bool(self.runtime_state.get("greedy"))})

    def action_save(self) -> None:
        self.send_command({"cmd": "save"})

    def action_ask_quit(self) -> None:
        """q: ask first; yes sends ``stop`` (the run saves a checkpoint and ends), then the TUI quits."""
        if isinstance(self.screen, ConfirmStop):
            return

        def answered(stop: bool | None) -> None:
            if stop:
                self._quitting = True
                self.send_command({"cmd": "stop"})

        self.push_screen(ConfirmStop(), answered)


class ConfirmStop(ModalScreen[bool]):
    """Stop training? y: the run saves a checkpoint and stops, and the TUI quits; n / Esc: back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "stop training"),
        Binding("n", "answer(False)", "keep training"),
        Binding("escape", "answer(False)", "keep training", show=False),
        Binding("q", "answer(False)", "keep training", show=False),
    ]
    DEFAULT_CSS = """
    ConfirmStop { align: center middle; }
    ConfirmStop > Static { width: 64; height: auto; border: thick $warning; padding: 1 2; background: $surface; }
    """

    def compose(self) -> ComposeResult:
        yield Static(
            "Stop training?\n\nThe run saves a checkpoint and ends; continue it later with --resume.\n\n"
            "[b]y[/b] stop and quit    [b]n[/b] / [b]Esc[/b] keep training",
            id="confirm-stop",
        )

    def action_answer(self, stop: bool) -> None:
        self.dismiss(stop)


class _Batch:
    """Telemetry folded between two screen updates: the latest per env, every episode."""

    def __init__(self) -> None:
        self.count = 0
        self.decisions: dict[int, dict[str, Any]] = {}
        self.pending: dict[int, dict[str, Any]] = {}
        self.episodes: list[dict[str, Any]] = []
        self.stats: dict[str, Any] | None = None
        self.state: dict[str, Any] | None = None
        self.frame: dict[str, Any] | None = None

    def add(self, topic: bytes, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        self.count += 1
        env = msg.get("env", 0)
        if topic == wire.TOPIC_DECISION and isinstance(env, int):
            self.decisions[env] = msg
        elif topic == wire.TOPIC_PENDING and isinstance(env, int):
            self.pending[env] = msg
        elif topic == wire.TOPIC_EPISODE:
            self.episodes.append(msg)
        elif topic == wire.TOPIC_STATS:
            self.stats = msg
        elif topic == wire.TOPIC_HEARTBEAT:
            self.state = msg
        elif topic == wire.TOPIC_FRAME:
            self.frame = msg


def _derived_control(connect: str) -> str:
    try:
        return wire.control_address_for(connect)
    except ValueError:
        return ""


def _describe(cmd: dict[str, Any]) -> str:
    name = cmd.get("cmd")
    if name == "override":
        return f"override queued: env {cmd['env']} → skill {cmd['skill'] + 1}"
    if name == "mode":
        return "greedy decisions" if cmd.get("greedy") else "sampled decisions"
    if name == "save":
        return "checkpoint requested"
    if name == "stop":
        return "stop requested: the run saves a checkpoint and ends"
    return {"pause": "paused", "resume": "resumed", "step": "one decision round"}.get(str(name), str(name))


def activity(status: Any) -> str:
    """The runtime's status for the status line: "running", or e.g. "updating 3/8" while PPO runs."""
    if not isinstance(status, dict) or status.get("state") in (None, "acting", "running"):
        return "running"
    text = str(status["state"])
    done, total = status.get("done"), status.get("total")
    if isinstance(done, int) and isinstance(total, int):
        text += f" {done}/{total}"
    return text


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
    return str(v)


def _moving_average(xs: list[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for i, x in enumerate(xs):
        acc += x
        if i >= window:
            acc -= xs[i - window]
        out.append(acc / min(i + 1, window))
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agent-runtime tui", description="Attach to a running agent-runtime.")
    p.add_argument(
        "--connect",
        default=wire.DEFAULT_TELEMETRY_ADDR,
        metavar="ADDR",
        help="the runtime's telemetry address (default %(default)s)",
    )
    p.add_argument(
        "--control",
        default=None,
        metavar="ADDR",
        help="the runtime's control address (default: the telemetry port + 1, or what the runtime announces)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        metavar="S",
        help="seconds without telemetry before 'no runtime' is shown (default %(default)s)",
    )
    p.add_argument("--web", action="store_true", help="serve the TUI to a web browser (needs the 'web' extra)")
    p.add_argument(
        "--bind",
        default=None,
        metavar="HOST:PORT",
        help="with --web: where to listen (default 127.0.0.1:8560; port 0 = any free port)",
    )
    p.add_argument(
        "--public",
        action="store_true",
        help="with --web: allow a non-loopback --bind; the page then needs a token (printed in its URL)",
    )
    p.add_argument("--headless", action="store_true", help=argparse.SUPPRESS)  # benchmarks: run without a terminal
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``agent-runtime tui`` and ``python -m tui``."""
    args = build_parser().parse_args(argv)
    if args.timeout <= 0:
        raise SystemExit(f"--timeout must be > 0, got {args.timeout}")
    if args.web:
        from tui import web

        try:
            return web.serve(args.connect, args.control, args.timeout, args.bind or web.DEFAULT_BIND, args.public)
        except web.WebError as e:
            raise SystemExit(f"agent-runtime tui: {e}") from None
    if args.bind or args.public:
        raise SystemExit("agent-runtime tui: --bind and --public go with --web")
    app = RuntimeApp(connect=args.connect, control=args.control, timeout=args.timeout)
    app.run(headless=args.headless, size=(120, 50) if args.headless else None)
    return 0
