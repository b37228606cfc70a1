"""Start simulator servers as child processes, or attach to running ones.

``make_vec_env`` is what the runtime calls.  Spawned servers are stopped on
``close()``, at interpreter exit (atexit), on SIGTERM/SIGHUP/Ctrl-C of the
runtime, and when the runtime dies by SIGKILL or a crash: the child sets
PR_SET_PDEATHSIG(SIGKILL) (Linux) and also polls its parent pid.  All children
are forked from one long-lived thread, because PR_SET_PDEATHSIG fires when the
*thread* that forked the child ends.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bridges.client import BridgeError, RemoteVecEnv
from bridges.server import READY_PREFIX

log = logging.getLogger("bridges")

_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
_live: set[ServerProcess] = set()
_live_lock = threading.Lock()
_spawner: ThreadPoolExecutor | None = None
_handlers_installed = False


def _spawn(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    global _spawner
    if _spawner is None:
        _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bridge-spawner")
    return _spawner.submit(
        subprocess.Popen, cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True
    ).result()


def stop_all() -> None:
    """Stop every server this process spawned (atexit and signal handlers call it)."""
    with _live_lock:
        servers = list(_live)
    stop_together(servers)


def stop_together(servers: list[ServerProcess], grace: float = 2.0) -> None:
    """SIGTERM to all, then SIGKILL to those still running after one shared ``grace`` period
    (stopping them one by one would take up to N grace periods)."""
    for s in servers:
        s.terminate()
    deadline = time.monotonic() + grace
    for s in servers:
        s.stop(grace=max(0.0, deadline - time.monotonic()))


def _install_handlers() -> None:
    """atexit + SIGTERM/SIGHUP handlers that stop our servers, then do what was there before."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(stop_all)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread; PDEATHSIG still covers us
    for sig in (signal.SIGTERM, signal.SIGHUP):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            stop_all()
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_IGN:
                return
            else:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        signal.signal(sig, handler)


_swept = False


def _sweep_stale_ipc_dirs() -> None:
    """Remove ipc socket dirs left by runtimes that died by SIGKILL (named arb-<pid>-*), once per process."""
    global _swept
    if _swept:
        return
    _swept = True
    for d in Path(tempfile.gettempdir()).glob("arb-*-*"):
        try:
            pid = int(d.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists() and sys.platform.startswith("linux"):
            shutil.rmtree(d, ignore_errors=True)


class ServerProcess:
    """One bridge server child process (restartable with the same arguments)."""

    def __init__(
        self,
        bridge: str,
        num_envs: int = 1,
        task: str | None = None,
        seed: int | None = None,
        options: dict[str, Any] | None = None,
        python: str | None = None,
        transport: str = "ipc",
        curve_dir: str | None = None,
        log_level: str = "WARNING",
        startup_timeout: float = 60.0,
    ):
        if transport not in ("ipc", "tcp"):
            raise ValueError(f"transport must be 'ipc' or 'tcp', got {transport!r}")
        self.bridge = bridge
        self.python = python or sys.executable
        self.startup_timeout = startup_timeout
        if transport == "ipc":
            _sweep_stale_ipc_dirs()
            self._tmpdir: str | None = tempfile.mkdtemp(prefix=f"arb-{os.getpid()}-")
        else:
            self._tmpdir = None
        self._serial = 0
        self.transport = transport
        self._args = ["--bridge", bridge, "--num-envs", str(num_envs), "--log-level", log_level]
        if task is not None:
            self._args += ["--task", str(task)]
        if seed is not None:
            self._args += ["--seed", str(seed)]
        for k, v in (options or {}).items():
            self._args += ["--option", f"{k}={json.dumps(v)}"]
        if curve_dir is not None:
            self._args += ["--curve-dir", str(curve_dir)]
        self.proc: subprocess.Popen | None = None
        self._cmd: list[str] = []
        self._signalled: subprocess.Popen | None = None  # the process terminate() has sent SIGTERM to
        self.address = ""
        _install_handlers()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def _bind(self) -> str:
        if self.transport == "tcp":
            return "tcp://127.0.0.1:*"
        self._serial += 1
        return f"ipc://{self._tmpdir}/s{self._serial}"

    def launch(self) -> None:
        """Fork the server (does not wait for it; see ``wait_ready``)."""
        cmd = self._cmd = [
            self.python,
            "-m",
            "bridges.server",
            *self._args,
            "--bind",
            self._bind(),
            "--parent-pid",
            str(os.getpid()),
        ]
        env = dict(os.environ)
        if os.path.realpath(self.python) == os.path.realpath(sys.executable):
            # same interpreter: make this checkout importable even when it is not pip-installed
            env["PYTHONPATH"] = os.pathsep.join(p for p in (_REPO_ROOT, env.get("PYTHONPATH")) if p)
        self.proc = _spawn(cmd, env)
        with _live_lock:
            _live.add(self)

    def wait_ready(self) -> str:
        """Read the server's ``BRIDGE-READY <endpoint>`` line; return the endpoint."""
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    raise BridgeError(f"bridge server {self.bridge} did not start within {self.startup_timeout:.0f}s")
                if sel.select(min(left, 0.5)):
                    chunk = os.read(self.proc.stdout.fileno(), 4096)
                    if not chunk:  # EOF: it exited
                        code = self.proc.wait()
                        raise BridgeError(
                            f"bridge server {self.bridge!r} exited with code {code} before it was ready "
                            f"(command: {' '.join(map(str, self._cmd))}; its error is on stderr above)"
                        )
                    buf += chunk
        self.proc.stdout.close()
        line = buf.split(b"\n", 1)[0].decode(errors="replace").strip()
        if not line.startswith(READY_PREFIX):
            self.kill()
            raise BridgeError(f"bridge server {self.bridge} printed {line!r} instead of its ready line")
        self.address = line[len(READY_PREFIX) :].split()[0]
        return self.address

    def start(self) -> str:
        self.launch()
        return self.wait_ready()

    def poll(self) -> int | None:
        """Exit code, or None while running."""
        return None if self.proc is None else self.proc.poll()

    def kill(self) -> None:
        """SIGKILL (works on a hung or stopped process) and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def restart(self) -> str:
        """Kill and start again with the same arguments; returns the new address."""
        self.kill()
        return self.start()

    def terminate(self) -> None:
        """Ask the server to exit (SIGTERM, once per process) without waiting for it."""
        if self.proc is not None and self.proc.poll() is None and self._signalled is not self.proc:
            self.proc.terminate()
            self._signalled = self.proc

    def stop(self, grace: float = 2.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; removes the ipc directory."""
        if self.proc is not None and self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        with _live_lock:
            _live.discard(self)
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)


class LaunchedVecEnv(RemoteVecEnv):
    """A RemoteVecEnv that owns its server processes and stops them on close."""

    def __init__(self, processes: list[ServerProcess], **kw: Any):
        self.processes = processes
        try:
            super().__init__(processes, **kw)
        except BaseException:
            stop_together(processes)
            raise

    def close(self) -> None:
        try:
            super().close()
        finally:
            stop_together(self.processes)


def split_envs(num_envs: int, envs_per_server: int | None) -> list[int]:
    """How many envs each server hosts; default one server per env up to the core count."""
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    if envs_per_server is None:
        envs_per_server = math.ceil(num_envs / min(num_envs, os.cpu_count() or 1))
    if envs_per_server < 1:
        raise ValueError(f"envs_per_server must be >= 1, got {envs_per_server}")
    n_servers = math.ceil(num_envs / envs_per_server)
    base, extra = divmod(num_envs, n_servers)
    return [base + (1 if k < extra else 0) for k in range(n_servers)]


def make_vec_env(
    bridge: str,
    task: str | None = None,
    options: dict[str, Any] | None = None,
    num_envs: int | None = 1,
    seed: int | None = None,
    connect: Sequence[str] = (),
    python: str | None = None,
    in_process: bool = False,
    envs_per_server: int | None = None,
    curve_dir: str | None = None,
    transport: str = "ipc",
    timeout: float = 10.0,
    startup_timeout: float = 60.0,
    log_level: str = "WARNING",
    max_restarts: int = 3,
    restart_backoff: float = 0.5,
    reconnect_timeout: float | None = None,
) -> Any:
    """N environments of ``bridge`` as a VecEnv: in-process, on spawned servers, or on running ones.

    Env i is constructed with ``seed + i`` and reset with seed ``seed + i`` (then
    ``+ 100003 * episode``), as LocalVecEnv does.  ``timeout``: seconds without a
    reply after which a server counts as hung (set it above the slowest skill/reset).
    A spawned server that dies or hangs is restarted (``max_restarts`` start attempts in a row, waiting
    ``restart_backoff`` seconds before the second, doubled after each failure); an attached one
    (``connect``) is waited for at its address for ``reconnect_timeout`` seconds (None:
    ``startup_timeout``). Either way its partial episodes come back dropped.
    """
    options = dict(options or {})
    faults: dict[str, Any] = {
        "max_restarts": max_restarts,
        "restart_backoff": restart_backoff,
        "reconnect_timeout": startup_timeout if reconnect_timeout is None else reconnect_timeout,
    }
    if in_process:
        from functools import partial

        from bridges.local import LocalVecEnv
        from bridges.registry import env_factory

        n = num_envs or 1
        make_env = env_factory(bridge)
        kw = {**options, **({"task": task} if task is not None else {})}
        factories = [partial(make_env, seed=None if seed is None else seed + i, **kw) for i in range(n)]
        return LocalVecEnv(factories, seeds=None if seed is None else [seed + i for i in range(n)])
    if connect:
        venv = RemoteVecEnv(
            list(connect), curve_dir=curve_dir, timeout=timeout, handshake_timeout=startup_timeout, **faults
        )
        if num_envs is not None and venv.num_envs != num_envs:
            venv.close()
            raise ValueError(
                f"the servers at {', '.join(connect)} host {venv.num_envs} environments, "
                f"but num_envs={num_envs} was asked for"
            )
        if venv.bridge != bridge or (task is not None and venv.task != task):
            log.warning("attached servers run %s/%s, config says %s/%s", venv.bridge, venv.task, bridge, task)
        if seed is not None:
            venv._seeds = [seed + i for i in range(venv.num_envs)]
        return venv
    sizes = split_envs(num_envs or 1, envs_per_server)
    procs = []
    offset = 0
    for size in sizes:
        procs.append(
            ServerProcess(
                bridge,
                size,
                task,
                None if seed is None else seed + offset,
                options,
                python=python,
                transport=transport,
                curve_dir=curve_dir,
                log_level=log_level,
                startup_timeout=startup_timeout,
            )
        )
        offset += size
    try:
        for p in procs:  # fork all first so their imports overlap
            p.launch()
        for p in procs:
            p.wait_ready()
    except BaseException:
        for p in procs:
            p.stop()
        raise
    seeds = None if seed is None else [seed + i for i in range(offset)]
    return LaunchedVecEnv(
        procs, seeds=seeds, curve_dir=curve_dir, timeout=timeout, handshake_timeout=startup_timeout, **faults
    )
