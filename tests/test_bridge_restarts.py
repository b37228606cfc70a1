"""Restarts that fail are retried (with backoff, up to max_restarts), and a runtime attached to a
server it did not spawn (``connect``) reconnects when that server comes back at its address."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from _procs import stop_process

from bridges import protocol as P
from bridges.client import BridgeError
from bridges.launch import LaunchedVecEnv, ServerProcess, make_vec_env
from bridges.toy import make_env

REPO = Path(__file__).resolve().parent.parent


class FlakyServer(ServerProcess):
    """A real server process whose next ``kill_next`` replacements are SIGKILLed as soon as they are forked,
    long before they can print their ready line (a replacement that dies while starting)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.kill_next = 0
        self.launches = 0

    def launch(self) -> None:
        super().launch()
        self.launches += 1
        if self.kill_next > 0:
            self.kill_next -= 1
            self.proc.kill()


def _venv(max_restarts: int = 3) -> tuple[LaunchedVecEnv, FlakyServer]:
    server = FlakyServer("toy", num_envs=2, seed=4, options={"steps": 50})
    server.start()
    venv = LaunchedVecEnv([server], seeds=[4, 5], timeout=10, max_restarts=max_restarts, restart_backoff=0.05)
    return venv, server


def test_a_replacement_that_dies_before_it_is_ready_is_retried_and_stepping_goes_on(caplog) -> None:
    venv, server = _venv()
    try:
        venv.reset()
        venv.step([0, 0])
        server.kill_next = 2  # the first two replacements die while starting
        os.kill(server.pid, signal.SIGKILL)
        with caplog.at_level("WARNING", logger="bridges"):
            out = venv.step([0, 0])
        assert server.launches == 1 + 3  # the first start, two failed replacements, one that works
        assert "exited with code -9 before it was ready" in caplog.text
        assert "attempt 2 of 3 in 0.1s" in caplog.text and "attempt 3 of 3 in 0.1s" in caplog.text  # backoff 0.05, 0.1
        for i, o in enumerate(out):
            assert o.dropped and o.ended and o.reset_obs is not None
            assert o.reset_obs.text == make_env(steps=50).reset(4 + i + P.EPISODE_STRIDE).text
        assert venv.dropped_episodes == 2
        for _ in range(3):  # and it goes on
            assert all(o.k == 1 and not o.dropped for o in venv.step([0, 0]))
        # a good reply ends the streak: the next death gets the full number of attempts again
        server.kill_next = 2
        os.kill(server.pid, signal.SIGKILL)
        assert all(o.dropped for o in venv.step([0, 0]))
        assert server.launches == 1 + 3 + 3
    finally:
        venv.close()


def test_only_an_exhausted_restart_limit_reaches_the_caller() -> None:
    venv, server = _venv(max_restarts=2)
    try:
        venv.reset()
        server.kill_next = 10
        os.kill(server.pid, signal.SIGKILL)
        with pytest.raises(BridgeError, match=r"failed 2 restarts in a row \(max_restarts=2\).*before it was ready"):
            venv.step([0, 0])
        assert server.launches == 1 + 2
    finally:
        venv.close()


class _Seen(logging.Handler):
    def __init__(self, words: str):
        super().__init__()
        self.words = words
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.event.set()


def _serve_at(address: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen([sys.executable, "-m", "bridges.server", "--bridge", "toy", "--bind", address,
                          "--num-envs", "2", "--option", "steps=50"], stdout=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    assert line.startswith("BRIDGE-READY"), line
    return p


@pytest.mark.parametrize("when", ["between_steps", "during_a_step"])
def test_an_attached_runtime_survives_its_server_restarting_at_the_same_address(when: str, caplog) -> None:
    first = ServerProcess("toy", num_envs=2, options={"steps": 50}, transport="tcp")
    address = first.start()
    second = None
    venv = make_vec_env("toy", num_envs=2, seed=1, connect=[address], timeout=1.0, reconnect_timeout=60)
    seen = _Seen("waiting up to 60s for it to come back")
    logging.getLogger("bridges").addHandler(seen)
    try:
        venv.reset()
        before = venv.step([0, 0])
        first.kill()
        if when == "between_steps":
            second = _serve_at(address)  # the new server is up before the runtime sends its next step
            with caplog.at_level("WARNING", logger="bridges"):
                out = venv.step([0, 0])
            assert "has no episode any more" in caplog.text
        else:
            box: list[subprocess.Popen] = []
            # start the new server only once the runtime has noticed the loss and waits for it
            t = threading.Thread(target=lambda: (seen.event.wait(30), box.append(_serve_at(address))))
            t.start()
            out = venv.step([0, 0])
            t.join(30)
            second = box[0]
            assert seen.event.is_set()
        for i, (o, prev) in enumerate(zip(out, before)):
            assert o.dropped and o.truncated and o.text == prev.text
            assert o.reset_obs.text == make_env(steps=50).reset(1 + i + P.EPISODE_STRIDE).text
        assert venv.dropped_episodes == 2
        assert all(o.k == 1 and not o.dropped for o in venv.step([0, 0]))
    finally:
        logging.getLogger("bridges").removeHandler(seen)
        venv.close()
        first.stop()
        if second is not None:
            stop_process(second)


def test_an_attached_server_that_does_not_come_back_ends_in_a_clear_error() -> None:
    server = ServerProcess("toy", num_envs=1, transport="tcp")
    address = server.start()
    venv = make_vec_env("toy", num_envs=1, connect=[address], timeout=0.5, reconnect_timeout=1.0)
    try:
        venv.reset()
        server.kill()
        with pytest.raises(BridgeError, match=r"did not come back within 1s \(reconnect_timeout\)"):
            venv.step([0])
    finally:
        venv.close()
        server.stop()


SLEEPY = '''
import time
from bridges.toy import make_env as _toy


class Sleepy:
    """The toy task, but skill 1 takes a minute: a server that is busy when it is killed."""

    def __init__(self, **kw):
        self.env = _toy(**kw)
        self.name, self.task = "sleepy", self.env.task

    def reset(self, seed=None):
        return self.env.reset(seed)

    def step(self, skill):
        if skill == 1:
            time.sleep(60)
        return self.env.step(skill)

    def close(self):
        pass


def make_env(**kw):
    return Sleepy(**kw)
'''


def _serve_sleepy(tmp_path: Path, bind: str) -> tuple[subprocess.Popen, str]:
    (tmp_path / "sleepy_sim.py").write_text(SLEEPY)
    code = (f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {str(REPO)!r}]; from bridges import registry; "
            "registry.BRIDGES['sleepy'] = 'sleepy_sim:make_env'; from bridges.server import main; "
            f"main(['--bridge', 'sleepy', '--bind', {bind!r}, '--option', 'steps=50'])")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("BRIDGE-READY"), line
    return p, line.split()[1]


def test_an_attached_server_killed_mid_step_is_noticed_by_its_dropped_connection(tmp_path, caplog) -> None:
    """The runtime does not wait out its (long) reply timeout: the dropped connection tells it the
    replies in flight are lost, and it reconnects as soon as a server is back at the address."""
    first, address = _serve_sleepy(tmp_path, "tcp://127.0.0.1:*")
    second = None
    venv = make_vec_env("sleepy", num_envs=1, seed=2, connect=[address], timeout=600, reconnect_timeout=60)
    seen = _Seen("waiting up to 60s for it to come back")
    logging.getLogger("bridges").addHandler(seen)
    box: list[subprocess.Popen] = []
    t = threading.Thread(target=lambda: (seen.event.wait(60), box.append(_serve_sleepy(tmp_path, address)[0])))
    try:
        venv.reset()
        venv.step_async([1])  # the server sleeps a minute in this step
        first.kill()
        first.wait()
        t.start()
        with caplog.at_level("WARNING", logger="bridges"):
            out = venv.step_wait()[0]
        t.join(60)
        second = box[0]
        assert "its connection dropped" in caplog.text and "no reply for" not in caplog.text
        assert out.dropped and out.reset_obs.text == make_env(steps=50).reset(2 + P.EPISODE_STRIDE).text
        assert venv.step([0])[0].k == 1
    finally:
        logging.getLogger("bridges").removeHandler(seen)
        venv.close()
        stop_process(first)
        if second is not None:
            stop_process(second)
