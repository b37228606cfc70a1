"""The TUI in a web browser: ``agent-runtime tui --web [--bind 127.0.0.1:8560] [--public]``.

``textual-serve`` (the ``web`` extra) serves a page with a terminal (xterm.js) and, for each browser
that opens it, starts the same Textual app (``python -m tui --connect ...``) and relays its screen and
keys over a websocket. Everything the terminal TUI does works in the page.

Who may connect: whoever reaches the page can steer the run (pause, override, stop), so

- by default it binds a loopback address and answers only requests whose ``Host`` is a loopback name
  (a web page elsewhere cannot reach it through DNS rebinding);
- a non-loopback bind needs ``--public`` and a token: the printed URL carries ``?token=...``, the page
  trades it for a cookie (HttpOnly, SameSite=Strict) and every request, the websocket included, must
  carry the cookie (or the token);
- the websocket must come from the page itself (its ``Origin`` names the same host and port), so a page
  from another site open in the same browser cannot drive it.

Imports no torch and no ``agent_runtime``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import os
import re
import secrets
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_BIND = "127.0.0.1:8560"
TOKEN_ENV = "AGENT_RUNTIME_TUI_TOKEN"  # a token of your own for --public (default: a fresh random one)
TOKEN_QUERY = "token"
HOST_RE = re.compile(r"([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?")  # goes into the page
MISSING = "the web TUI needs textual-serve: pip install 'agent-runtime[web]'"


class WebError(ValueError):
    """A bind or flag that cannot be served (the message says what to change)."""


def parse_bind(bind: str, flag: str = "--bind") -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6; port 0 = any free port) -> (host, port)."""
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise WebError(f"{flag} wants HOST:PORT (e.g. {DEFAULT_BIND}), got {bind!r}")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_of(host_header: str) -> str:
    """The host of a ``Host`` header value (``name:port``, ``[v6]:port``)."""
    return urlsplit(f"//{host_header}").hostname or ""


def tui_command(connect: str, control: str | None, timeout: float) -> str:
    """The shell command textual-serve runs for each browser: this Python, ``-m tui``, the same sockets."""
    args = [sys.executable, "-m", "tui", "--connect", connect, "--timeout", f"{timeout:g}"]
    if control:
        args += ["--control", control]
    return shlex.join(args)


class Guard:
    """Who may use the page and its websocket (see the module's docstring)."""

    def __init__(self, public: bool, token: str | None, cookie: str) -> None:
        self.public = public
        self.token = token
        self.cookie = cookie

    def refusal(
        self, host: str, origin: str | None, websocket: bool, cookie: str | None, query_token: str | None
    ) -> str:
        """Why a request is refused ("" = allowed)."""
        if not HOST_RE.fullmatch(host):
            return "bad Host header"
        if not self.public and not is_loopback(_host_of(host)):
            return f"this TUI answers on localhost only (the request named host {host!r})"
        if websocket and origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            return f"websocket from another site ({origin}) refused"
        if self.token is not None and not (self._same(cookie) or self._same(query_token)):
            return "this TUI needs its token: open the URL with ?token=... that was printed when it started"
        return ""

    def _same(self, given: str | None) -> bool:
        if given is None or self.token is None:
            return False
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode())  # bytes: any text compares


def build_server(
    command: str, guard: Guard, host: str, port: int, title: str = "agent-runtime"
) -> Any:  # textual_serve.server.Server
    """textual-serve's server with per-request URLs (any bind, port 0) and the guard in front of every route."""
    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server, to_int

    class GuardedServer(Server):
        async def on_startup(self, app: web.Application) -> None:
            """Quiet: ``serve`` prints where it listens."""

        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            """textual-serve's page, its URLs taken from the request (the address the browser used)."""
            base = f"{request.scheme}://{request.host}"
            static = base + str(request.app.router["static"].url_for(filename="/")).rstrip("/") + "/"
            ws = ("wss:" if request.scheme == "https" else "ws:") + f"//{request.host}/ws"
            return {
                "font_size": to_int(request.query.get("fontsize", "16"), 16),
                "app_websocket_url": ws,
                "config": {"static": {"url": static}},
                "application": {"name": self.title},
            }

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(_middleware(guard))
            return app

    return GuardedServer(command, host=host, port=port, title=title)


def _middleware(guard: Guard) -> Callable[..., Awaitable[Any]]:
    from aiohttp import web

    @web.middleware
    async def check(request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        query_token = request.query.get(TOKEN_QUERY)
        why = guard.refusal(
            request.host, request.headers.get("Origin"), websocket, request.cookies.get(guard.cookie), query_token
        )
        if why:
            return web.Response(status=403, text=why + "\n")
        if query_token is not None and request.path == "/" and not websocket:
            # trade the token for a cookie and drop it from the address bar (history, Referer)
            rest = {k: v for k, v in request.query.items() if k != TOKEN_QUERY}
            target = request.rel_url.with_query(rest) if rest else request.rel_url.with_query(None)
            response = web.HTTPSeeOther(location=str(target))
            response.set_cookie(guard.cookie, query_token, httponly=True, samesite="Strict", path="/")
            return response
        return await handler(request)

    return check


def check(bind: str, public: bool, flags: tuple[str, str] = ("--bind", "--public")) -> tuple[str, int]:
    """Everything that can be refused before serving: the bind, --public, the extra. Returns (host, port)."""
    host, port = parse_bind(bind, flags[0])
    if not is_loopback(host) and not public:
        raise WebError(
            f"{flags[0]} {bind} serves beyond localhost: anyone who reaches it can steer the run. "
            f"Add {flags[1]} to do so (a token is then required), or bind 127.0.0.1"
        )
    try:
        import textual_serve  # noqa: F401
    except ImportError:
        raise WebError(MISSING) from None
    return host, port


def serve(
    connect: str,
    control: str | None,
    timeout: float = 3.0,
    bind: str = DEFAULT_BIND,
    public: bool = False,
    should_stop: Callable[[], bool] | None = None,
    out: Any = None,
) -> int:
    """Serve the TUI until Ctrl+C (or ``should_stop()`` turns true); prints the URL to open first."""
    out = out or sys.stdout
    host, port = check(bind, public)
    token = (os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)) if public else None
    if token is not None and len(token) < 16:
        raise WebError(f"${TOKEN_ENV} is too short for a token (16 characters at least)")
    guard = Guard(public=public, token=token, cookie="agent_runtime_tui")
    # the TUI processes import tui/ and bridges/ from where this one did (an uninstalled checkout too)
    root = str(Path(__file__).resolve().parent.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    server = build_server(tui_command(connect, control, timeout), guard, host, port)
    try:
        asyncio.run(_run(server, guard, host, port, public, should_stop, out))
    except KeyboardInterrupt:
        pass
    return 0


async def _run(
    server: Any, guard: Guard, host: str, port: int, public: bool, should_stop: Callable[[], bool] | None, out: Any
) -> None:
    from aiohttp import web

    runner = web.AppRunner(await server._make_app(), handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        sockets = site._server.sockets if site._server is not None else []  # type: ignore[attr-defined]
        bound = sockets[0].getsockname()[1] if sockets else port
        guard.cookie = f"agent_runtime_tui_{bound}"  # one per port: two servers on one host keep their tokens apart
        shown = f"[{host}]" if ":" in host else host
        if public:
            shown = shown if host not in ("0.0.0.0", "::") else _hostname()
            url = f"http://{shown}:{bound}/?{TOKEN_QUERY}={guard.token}"
            print(
                f"web TUI: serving BEYOND LOCALHOST on {host}:{bound} (--public). Anyone with the token can watch and "
                f"steer the run (pause, override, stop). Plain HTTP: use it on a network you trust.",
                file=out,
            )
        else:
            url = f"http://{shown}:{bound}/"
            print(f"web TUI: serving on {host}:{bound} (this machine only)", file=out)
        print(f"web TUI: open {url}", file=out, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a clean stop: the caller's cleanup runs
            loop.add_signal_handler(sig, stop.set)
        while not stop.is_set() and not (should_stop and should_stop()):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        await runner.cleanup()


def _hostname() -> str:
    import socket

    return socket.getfqdn() or socket.gethostname()
